"""Which CPU code numpy and OpenBLAS run: one fixed level everywhere (portable) or the best here.

OpenBLAS picks its GEMM kernels for the CPU it finds, and numpy dispatches its
own loops (exp, sums, comparisons) to the widest SIMD level the CPU has.
Different kernels round differently, so the same params gave different metrics
on an AVX-512 Xeon than on an AVX2 machine. `portable` pins both to the AVX2 +
FMA level (OpenBLAS's Haswell kernels, numpy without its AVX-512 targets), which
every current x86-64 CPU has: then the same params give the same bytes on any of
them. `native` leaves the choice to the libraries (faster on AVX-512 CPUs).

Both libraries read their setting once, when they load, so pin() must run
before numpy is imported. This module imports nothing that imports numpy.
"""
import os
import platform
import sys

MODES = ("portable", "native")
OPENBLAS_KERNEL = "Haswell"
# numpy's AVX-512 dispatch targets under both its naming schemes (>= 2.4: X86_V4 ...;
# older: AVX512F ...). numpy ignores the names it does not dispatch to, with an
# ImportWarning (silent by default).
NUMPY_AVX512_TARGETS = ("X86_V4 AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX "
                        "AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR")
PINNING = {
    "OPENBLAS_CORETYPE": OPENBLAS_KERNEL,
    "NPY_DISABLE_CPU_FEATURES": NUMPY_AVX512_TARGETS,
    "MKL_CBWR": "AVX2",  # the same level for numpy builds on MKL
}
NEEDED_FLAGS = {"avx2", "fma"}


def portable_level_missing(machine=None, cpuinfo="/proc/cpuinfo"):
    """Why this machine cannot run the portable level, or None when it can."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        return f"{machine} is not x86-64"
    try:
        with open(cpuinfo, encoding="utf-8") as lines:
            flags = next((set(line.split(":", 1)[1].split()) for line in lines
                          if line.startswith("flags")), set())
    except OSError:
        return f"cannot read {cpuinfo} to confirm AVX2 and FMA"
    missing = NEEDED_FLAGS - flags
    return f"the CPU lacks {' and '.join(sorted(missing))}" if missing else None


def settings(mode, environ, missing=None):
    """(environment to use, what was applied, why): pure, for pin() and the benchmark.

    mode: "portable" or "native". A native run removes any pinning inherited
    from the caller's environment, so that native means the libraries' own choice.
    """
    if mode not in MODES:
        raise ValueError(f"kernels must be one of {MODES}, got {mode!r}")
    env = {key: value for key, value in environ.items() if key not in PINNING}
    if mode == "native":
        return env, "native", "requested"
    if missing:
        return env, "native", f"portable requested, but {missing}"
    env.update(PINNING)
    return env, "portable", " ".join(f"{key}={value}" for key, value in PINNING.items())


def pin(mode):
    """Apply `mode` to os.environ before numpy loads: {"kernels": applied, "kernels_note": why}."""
    if "numpy" in sys.modules:
        return {"kernels": "unchanged",
                "kernels_note": f"{mode} requested, but numpy was loaded before it could be set"}
    env, applied, note = settings(mode, os.environ, portable_level_missing())
    for key in PINNING:
        if key in env:
            os.environ[key] = env[key]
        else:
            os.environ.pop(key, None)
    return {"kernels": applied, "kernels_note": note}


def requested_mode(params, experiment):
    """The kernels mode of `experiment` from raw params, or None when absent or malformed.

    Read before numpy loads, so without the checks of pipeline.training.experiments; the stage
    validates the same value afterwards and reports a bad one there.
    """
    try:
        overrides = params["experiments"][experiment]
        mode = overrides["kernels"] if "kernels" in overrides else params["train"]["kernels"]
    except (KeyError, TypeError):
        return None
    return mode if mode in MODES else None


def runtime_record(pinning):
    """What actually ran, for the run's timing file (call inside the BLAS thread limit).

    pinning: pin()'s record. Adds each BLAS library's version, kernel and threads
    (threadpoolctl), numpy's version and its active SIMD dispatch targets, and
    whether mlpcore's weight update went through its direct BLAS calls: the numpy
    fallback rounds differently in the last bits (mlpcore/linear.py).
    """
    import numpy as np
    from threadpoolctl import threadpool_info

    from mlpcore import blas

    libraries = [f"{os.path.basename(pool['filepath'])}: {pool['internal_api']} "
                 f"{pool['version']} {pool.get('architecture', '?')}, "
                 f"{pool['num_threads']} thread(s)"
                 for pool in threadpool_info() if pool["user_api"] == "blas"]
    return {**pinning, "blas": "; ".join(libraries), "numpy": np.__version__,
            "numpy_simd": " ".join(numpy_simd_targets()), "machine": platform.machine(),
            "mlpcore_blas_calls": {dtype: blas.available(dtype) for dtype in ("float32", "float64")}}


def numpy_simd_targets():
    """numpy's dispatch targets that this process uses (its AVX-512 ones absent when pinned)."""
    try:
        from numpy._core import _multiarray_umath as umath  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import _multiarray_umath as umath
    features = getattr(umath, "__cpu_features__", {})
    return [name for name in getattr(umath, "__cpu_dispatch__", []) if features.get(name)]
