"""The benchmark's outputs: machine facts, the targets, and the fixed-width table.

Targets are reported as PASS / MISS next to the measured value, never asserted:
timings on a shared machine are evidence, not a verdict.
"""
import datetime
import os
import platform

import numpy as np
from threadpoolctl import threadpool_info

GIB = 2 ** 30


def machine_info():
    """CPU model, cores, memory, versions, date and load average: what the numbers depend on."""
    def first_value(path, key):
        try:
            with open(path, encoding="utf-8") as lines:
                for line in lines:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return None

    memory = first_value("/proc/meminfo", "MemTotal")
    return {"cpu": first_value("/proc/cpuinfo", "model name") or platform.processor(),
            "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "memory_gib": round(int(memory.split()[0]) * 1024 / GIB, 1) if memory else None,
            "python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "load_average_at_start": os.getloadavg(), "blas_environment": blas_environment()}


def blas_environment():
    """Environment variables that steer the BLAS libraries (kernel choice, threads, caches)."""
    prefixes = ("OPENBLAS_", "GOTO_", "OMP_", "MKL_", "KMP_")
    return {name: value for name, value in sorted(os.environ.items())
            if name.startswith(prefixes)}


def blas_info():
    """numpy's BLAS as threadpoolctl sees it now (call inside the thread limit)."""
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{key: pool.get(key) for key in keys}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def target(name, measured, limit, unit="x"):
    """A target row: PASS when measured <= limit, MISS otherwise, n/a when not measured."""
    status = "n/a" if measured is None else ("PASS" if measured <= limit else "MISS")
    return {"target": name, "measured": measured, "limit": limit, "unit": unit,
            "status": status}


def ratio(numerator, denominator):
    return None if numerator is None or denominator is None else numerator / denominator


def median(summary):
    return None if summary is None else summary["median"]


def network_targets(networks, suffix=""):
    """The per-network targets of one set of timings."""
    rows = []
    for name, network in networks.items():
        single, double = network.get("float32"), network.get("float64")
        if single:
            rows.append(target(f"{name} float32 epoch <= 0.8x PyTorch{suffix}",
                               single["mlpcore_over_torch"], 0.8))
            rows.append(target(f"{name} float32 epoch <= 1.5x GEMM floor{suffix}",
                               single["mlpcore_over_floor"], 1.5))
        if single and double:
            rows.append(target(f"{name} float64 epoch <= 2x float32 epoch{suffix}",
                               ratio(median(double["mlpcore"]), median(single["mlpcore"])), 2.0))
    return rows


def targets(results):
    """The issue's targets, one row per network where they are per network."""
    rows = network_targets(results["networks"])
    if results.get("own_kernel_choice"):
        rows += network_targets(results["own_kernel_choice"]["networks"], ", own kernels")
    rows.append(target("load prepared dataset < 0.5 s", median(results["load_prepared"]),
                       0.5, "s"))
    memory = results["peak_memory"].get("float32")
    rows.append(target("peak memory of a training stage (float32) < 1.5 GiB",
                       memory and memory["bytes"] / GIB, 1.5, "GiB"))
    return rows


def seconds_text(summary):
    if summary is None:
        return "n/a"
    return f"{summary['median']:.3f} ({summary['min']:.3f}-{summary['max']:.3f})"


def number_text(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def epoch_rows(networks, torch_networks):
    """Table rows; torch times come from torch_networks (this process's torch run)."""
    lines = []
    for name, network in networks.items():
        for dtype in ("float32", "float64"):
            row = network.get(dtype)
            if row:
                torch = torch_networks[name][dtype]["torch"]
                lines.append(f"{name:8}{dtype:9}{network['gflop_per_epoch']:7.1f}  "
                             f"{seconds_text(row['mlpcore']):<22}{seconds_text(torch):<22}"
                             f"{row['floor_seconds']:8.3f}"
                             f"{number_text(row.get('mlpcore_over_torch')):>11}"
                             f"{number_text(row['mlpcore_over_floor']):>11}")
    return lines


def epoch_table(results):
    settings = results["settings"]
    lines = [f"One epoch = training on {settings['num_train']} images (batch "
             f"{settings['batch_size']}, shuffled, momentum step) + inference over train and "
             f"test ({settings['num_test']}).",
             f"Seconds per epoch: median (min-max) of {settings['repeats']} after a warm-up; "
             f"{settings['threads']} thread(s). floor = the epoch's GEMMs at measured rates.",
             f"{'network':8}{'dtype':9}{'GFLOP':>7}  {'mlpcore s':<22}{'torch s':<22}"
             f"{'floor s':>8}{'mlp/torch':>11}{'mlp/floor':>11}"]
    lines += epoch_rows(results["networks"], results["networks"])
    native = results.get("own_kernel_choice")
    if native:
        kernel = "; ".join(f"{pool['architecture']}" for pool in native["blas"])
        lines += ["", f"The same mlpcore epochs and floors in a child process without "
                      f"OPENBLAS_CORETYPE (OpenBLAS picks {kernel}); torch as above:"]
        lines += epoch_rows(native["networks"], results["networks"])
    return lines


def gemm_table(results, min_share=0.03):
    """GFLOP/s of the GEMMs that make up at least `min_share` of some network's floor."""
    rates = {}  # label -> {dtype: GFLOP/s}
    for network in results["networks"].values():
        for dtype in ("float32", "float64"):
            for gemm in (network.get(dtype) or {}).get("gemms", []):
                if gemm["floor_share"] >= min_share:
                    rates.setdefault(gemm["gemm"], {})[dtype] = gemm["gflops_per_s"]
    lines = [f"GEMM GFLOP/s (numpy, the epoch's shapes and layouts; m x k x n, N/T = "
             f"operand as stored / transposed view), shapes >= {min_share:.0%} of a floor:",
             f"  {'gemm':<34}{'float32':>9}{'float64':>9}"]
    for label, by_dtype in rates.items():
        lines.append(f"  {label:<34}{number_text(by_dtype.get('float32'), 1):>9}"
                     f"{number_text(by_dtype.get('float64'), 1):>9}")
    return lines


def other_lines(results):
    lines = []
    load = results["load_prepared"]
    lines.append("load_prepared: " + (seconds_text(load) + " s" if load else
                                      "n/a (no prepared file; run `dvc repro prepare`)"))
    for dtype, memory in results["peak_memory"].items():
        lines.append(f"peak RSS of `python -m stages.train` (2x150 {dtype}, 2 epochs): "
                     f"{memory['bytes'] / GIB:.2f} GiB ({memory['seconds']:.1f} s)")
    study = results["threads_study"]
    if study:
        one, two = study["one_run_2_threads"], study["two_runs_1_thread"]
        gain = two["epochs_per_second"] / one["epochs_per_second"]
        lines += ["threads study, 2x150 float32, epochs per second of the whole machine:",
                  f"  one run, 2 BLAS threads:             {one['epochs_per_second']:.3f}",
                  f"  two concurrent runs, 1 thread each:  {two['epochs_per_second']:.3f} "
                  f"({gain:.2f}x; `dvc exp run --run-all -j 2` with train.threads=1)"]
    return lines


def header_lines(results):
    machine, torch = results["machine"], results["torch"]
    blas = "; ".join(f"{pool['internal_api']} {pool['version']} {pool['architecture']} "
                     f"{pool['num_threads']} thread(s)" for pool in results["blas"])
    torch_text = ("not installed" if torch is None else
                  f"{torch['version']} ({torch['blas']}, {torch['cpu_capability']}, "
                  f"{torch['threads']} thread(s))")
    return [f"{machine['cpu']}, {machine['cores_usable']}/{machine['cores']} cores, "
            f"{machine['memory_gib']} GiB; load average at start "
            f"{', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}",
            f"numpy {machine['numpy']} BLAS: {blas}", f"torch: {torch_text}",
            "BLAS environment: " + (" ".join(f"{name}={value}" for name, value
                                             in machine["blas_environment"].items()) or "none"),
            f"data: {results['settings']['data']}"]


def render(results):
    """The whole report as text."""
    lines = header_lines(results) + [""] + epoch_table(results) + [""] + gemm_table(results)
    lines += [""] + other_lines(results) + ["", "Targets:"]
    for row in results["targets"]:
        measured = number_text(row["measured"])
        lines.append(f"  {row['status']:5} {row['target']:<52} measured {measured} {row['unit']}")
    return "\n".join(lines)
