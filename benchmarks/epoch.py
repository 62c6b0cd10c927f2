"""Epoch benchmark: the pipeline's epoch against the machine's GEMM floor, portable and native.

    python -m benchmarks.epoch [--quick] [--pairs N] [--kernels portable native]
                               [--networks 1x60 ...] [--dtypes float32 ...] [--threads T]
                               [--torch-python PYTHON] [--data NPZ] [--json OUT]
                               [--no-cases] [--grid metrics/runs [--repro-seconds S]] [--cores]

For each homework network (1x60, 1x150, 2x60, 2x150) and dtype, one worker
process per kernels mode (see benchmarks/worker.py) times, alternately,
  floor: the epoch's GEMMs alone (benchmarks/floor.py), and
  epoch: pipeline.training.run_epoch, the function `dvc repro` runs,
at params.yaml's train.batch_size and train.threads (momentum 0.4, dropout 0.2).
Ratios follow the rules of benchmarks/sampling.py (busy machine, late second
core, unstable samples, below the floor: refused, with the reason).

--torch-python: adds each case's epoch in PyTorch (benchmarks/torch_worker.py) and
  mlpcore/PyTorch, from the first --kernels mode (portable by default).
--grid RUNS: the grid's floor, sum over the runs in params.yaml of epochs run x
  that network's floor epoch (at the dtype, threads, kernels and batch size of the
  run's config.json), against the training time the runs' timing.json files
  report; with --repro-seconds, the wall time of the whole `dvc repro` too, and
  DVC's share (repro - training).
--cores: machine throughput of one 2-thread run against two concurrent
  1-thread runs (2x150 float32, portable), between hand-off probes.
--quick: 1x60 float32 on 640 images, 3 pairs: a smoke test, not a measurement.
"""
import argparse
import datetime
import os
import platform
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.params import load_params
from pipeline.training.experiments import parse_defaults

from .cores import cores_line, cores_study
from .grid import grid_floor, grid_line
from .sampling import (MIN_CLEAN_SAMPLES, ROOT, Watch, Worker, bracketed_samples, handoff_probe,
                       ratio_text, summary, verdict)

NETWORKS = {"1x60": [60], "1x150": [150], "2x60": [60, 60], "2x150": [150, 150]}
DTYPES = ("float32", "float64")
PREPARED = ROOT / "data/prepared/omniglot_12.npz"


def parse_args(argv):
    defaults = parse_defaults(load_params(ROOT / "params.yaml"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny and fast")
    parser.add_argument("--pairs", type=int, help="floor/epoch sample pairs per case (5; quick 3)")
    parser.add_argument("--kernels", nargs="+", default=["portable", "native"],
                        choices=["portable", "native"])
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help=f"BLAS threads (default params.yaml: {defaults.threads})")
    parser.add_argument("--data", type=Path, default=PREPARED)
    parser.add_argument("--json", type=Path, default=ROOT / "build/benchmark.json")
    parser.add_argument("--grid", type=Path, metavar="RUNS", help="e.g. metrics/runs")
    parser.add_argument("--repro-seconds", type=float, help="wall time of that `dvc repro`")
    parser.add_argument("--cores", action="store_true", help="1x2 threads vs 2x1 thread")
    parser.add_argument("--torch-python", type=Path, metavar="PYTHON",
                        help="an interpreter with torch: adds mlpcore/PyTorch per case")
    parser.add_argument("--no-cases", action="store_true",
                        help="skip the per-network table (e.g. with --cores or --grid alone)")
    parser.add_argument("--networks", nargs="+", choices=list(NETWORKS),
                        help="only these networks (default: all four; quick: 1x60)")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES,
                        help="only these dtypes (default: both; quick: float32)")
    args = parser.parse_args(argv)
    if args.pairs is None:
        args.pairs = 3 if args.quick else 5
    if args.pairs < MIN_CLEAN_SAMPLES:
        parser.error(f"--pairs {args.pairs}: expected at least {MIN_CLEAN_SAMPLES}, the fewest "
                     f"clean samples a ratio is given from")
    args.batch_size = defaults.batch_size
    names = args.networks or (["1x60"] if args.quick else list(NETWORKS))
    args.networks = {name: NETWORKS[name] for name in names}
    args.dtypes = tuple(args.dtypes or (["float32"] if args.quick else DTYPES))
    args.data_request = {"path": str(args.data), "batch_size": args.batch_size,
                         "limit": 640 if args.quick else None}
    return args


def machine():
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                    if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def time_cases(args, workers, torch=None):
    """Floor/epoch samples of every network and dtype, for every worker, kept when clean.

    torch: a torch worker, whose epochs join the alternation (no floor of its own).
    Samples are kept as benchmarks.sampling.bracketed_samples says: between hand-off probes.
    """
    cases = []
    everyone = workers + ([torch] if torch else [])
    for name, hidden in args.networks.items():
        for dtype in args.dtypes:
            steps = case_steps(workers, torch, hidden, dtype)
            watch = Watch(everyone).start()
            clean, every, probes = bracketed_samples(steps, handoff_probe(workers), args.pairs)
            case = {"network": name, "dtype": dtype, "watch": watch.stop(), "probes": probes,
                    "times": {key: summary(clean[key] or every[key]) for key in clean},
                    "all_rounds": {key: [round(s, 4) for s in every[key]] for key in every}}
            if any(probes):
                case["watch"].update(handoff=max(probes), rounds=len(every[steps[0][0]]),
                                     clean_samples=min(map(len, clean.values())))
            add_verdicts(case, workers, torch)
            cases.append(case)
            print(case_line(case), flush=True)
    return cases


def case_steps(workers, torch, hidden, dtype):
    """[(name, timed step)] of one round: each worker's floor and epoch, then torch's epoch."""
    steps = []
    for worker in workers + ([torch] if torch else []):
        for op in ("floor", "epoch") if worker is not torch else ("epoch",):
            worker.ask(op=op, hidden=hidden, dtype=dtype)  # warm-up, untimed
            steps.append((f"{worker.mode} {op}",
                          lambda w=worker, o=op: w.ask(op=o, hidden=hidden, dtype=dtype)))
    return steps


def add_verdicts(case, workers, torch):
    times, watch = case["times"], case["watch"]
    case["epoch_over_floor"] = {
        w.mode: verdict(times[f"{w.mode} epoch"], times[f"{w.mode} floor"], watch)
        for w in workers}
    if {"portable", "native"} <= {w.mode for w in workers}:
        case["portable_over_native"] = verdict(times["portable epoch"], times["native epoch"],
                                               watch, floor_ratio=False)
    if torch:
        case["mlpcore_over_torch"] = verdict(times[f"{workers[0].mode} epoch"],
                                             times["torch epoch"], watch, floor_ratio=False)


def case_line(case):
    parts = [f"{case['network']:6} {case['dtype']:8}"]
    for key, result in case["epoch_over_floor"].items():
        epoch, floor = case["times"][f"{key} epoch"], case["times"][f"{key} floor"]
        parts.append(f"{key}: epoch {epoch['min']:.3f}/{epoch['median']:.3f} s, floor "
                     f"{floor['min']:.3f}/{floor['median']:.3f} s, epoch/floor "
                     f"{ratio_text(result)}")
    if "portable_over_native" in case:
        parts.append(f"portable/native epoch {ratio_text(case['portable_over_native'])}")
    if "mlpcore_over_torch" in case:
        torch = case["times"]["torch epoch"]
        parts.append(f"torch epoch {torch['min']:.3f}/{torch['median']:.3f} s; mlpcore/PyTorch "
                     f"{ratio_text(case['mlpcore_over_torch'])}")
    watch = case["watch"]
    handoff = (f"; {watch['rounds']} rounds, fewest clean samples {watch['clean_samples']}, "
               f"multi/1-thread small GEMMs up to {watch['handoff']:.2f}"
               if "handoff" in watch else "")
    parts.append(f"others {watch['other_cores']:.2f} cores, load {watch['load_before'][0]:.2f}"
                 f" -> {watch['load_after'][0]:.2f}{handoff}")
    return "\n    ".join(parts)


def main(argv=None):
    args = parse_args(argv)
    results = {"machine": machine(), "settings": {
        "batch_size": args.batch_size, "threads": args.threads, "pairs": args.pairs,
        "quick": args.quick, "data": args.data_request}}
    info = results["machine"]
    print(f"{info['date']}  {info['cpu']}, {info['cores']} cores; threads {args.threads}, "
          f"batch {args.batch_size}, {args.pairs} floor/epoch pairs per case", flush=True)
    workers = [Worker(mode, args.threads, args.data_request) for mode in args.kernels]
    torch = (Worker("torch", args.threads, args.data_request, str(args.torch_python),
                    "benchmarks.torch_worker") if args.torch_python else None)
    try:
        for worker in workers + ([torch] if torch else []):
            print(f"  {worker.mode}: {worker.info['kernels']} ({worker.info['kernels_note']}); "
                  f"{worker.info['blas']}; numpy {worker.info['numpy']} SIMD "
                  f"{worker.info['numpy_simd']}; data: {worker.info['data']}", flush=True)
        results["workers"] = {w.mode: w.info for w in workers + ([torch] if torch else [])}
        results["cases"] = [] if args.no_cases else time_cases(args, workers, torch)
    finally:
        for worker in workers + ([torch] if torch else []):
            worker.close()
    if args.grid:
        grid = results["grid"] = grid_floor(args, args.grid)
        print(grid_line(grid))
    if args.cores:
        study = results["cores"] = cores_study(args, args.pairs)
        print(cores_line(study))
    write_json(args.json, results)
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
