"""train.kernels: the portable level is pinned before numpy loads, and recorded."""
import json
import subprocess
import sys

import pytest

from pipeline.training import cpu_kernels
from tests.conftest import ROOT


def test_portable_sets_every_pinning_variable_and_native_removes_them():
    inherited = {"PATH": "/bin", "OPENBLAS_CORETYPE": "SkylakeX"}
    env, applied, note = cpu_kernels.settings("portable", inherited)
    assert applied == "portable" and env["PATH"] == "/bin"
    assert env["OPENBLAS_CORETYPE"] == cpu_kernels.OPENBLAS_KERNEL
    assert "X86_V4" in env["NPY_DISABLE_CPU_FEATURES"]
    assert "AVX512F" in env["NPY_DISABLE_CPU_FEATURES"]
    env, applied, _ = cpu_kernels.settings("native", inherited)
    assert applied == "native" and not set(cpu_kernels.PINNING) & set(env)


def test_without_the_portable_level_the_run_is_native_and_says_why(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor: 0\nflags\t\t: fpu sse sse2 avx\n")
    missing = cpu_kernels.portable_level_missing("x86_64", cpuinfo)
    assert missing == "the CPU lacks avx2 and fma"
    env, applied, note = cpu_kernels.settings("portable", {}, missing)
    assert applied == "native" and "lacks avx2" in note and "OPENBLAS_CORETYPE" not in env
    assert cpu_kernels.portable_level_missing("aarch64") == "aarch64 is not x86-64"
    cpuinfo.write_text("flags: avx2 fma sse\n")
    assert cpu_kernels.portable_level_missing("x86_64", cpuinfo) is None


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="kernels must be one of"):
        cpu_kernels.settings("fast", {})


def test_requested_mode_prefers_the_experiment_and_tolerates_bad_params():
    params = {"train": {"kernels": "portable"},
              "experiments": {"a": {"group": "1"}, "b": {"group": "1", "kernels": "native"}}}
    assert cpu_kernels.requested_mode(params, "a") == "portable"
    assert cpu_kernels.requested_mode(params, "b") == "native"
    assert cpu_kernels.requested_mode(params, "missing") is None
    assert cpu_kernels.requested_mode({"train": {"kernels": "odd"},
                                       "experiments": {"a": {}}}, "a") is None


def test_pinning_after_numpy_loaded_is_reported_not_pretended():
    import numpy  # noqa: F401  (already loaded by the test session)
    record = cpu_kernels.pin("portable")
    assert record["kernels"] == "unchanged" and "numpy was loaded" in record["kernels_note"]


@pytest.mark.skipif(cpu_kernels.portable_level_missing() is not None,
                    reason="this machine cannot run the portable level")
@pytest.mark.parametrize("mode", ["portable", "native"])
def test_a_fresh_process_runs_the_pinned_kernels(mode):
    probe = ("import json, sys; from pipeline.training import cpu_kernels; "
             "record = cpu_kernels.pin(sys.argv[1]); import numpy; "
             "print(json.dumps(cpu_kernels.runtime_record(record)))")
    output = subprocess.run([sys.executable, "-c", probe, mode], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    record = json.loads(output)
    assert record["kernels"] == mode
    from mlpcore import blas
    assert record["mlpcore_blas_calls"] == {dtype: blas.available(dtype)
                                            for dtype in ("float32", "float64")}
    if mode == "portable":
        assert "openblas" in record["blas"] and cpu_kernels.OPENBLAS_KERNEL in record["blas"]
        assert "AVX512" not in record["numpy_simd"] and "X86_V4" not in record["numpy_simd"]
