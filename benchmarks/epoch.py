"""Epoch benchmark: the pipeline's epoch against the machine's GEMM floor, portable and native.

    python -m benchmarks.epoch [--quick] [--pairs N] [--kernels portable native]
                               [--networks 1x60 ...] [--dtypes float32 ...]
                               [--grid metrics/runs [--repro-seconds S]] [--cores]

For each homework network (1x60, 1x150, 2x60, 2x150) and dtype, one worker
process per kernels mode (see benchmarks/worker.py) times, alternately,
  floor: the epoch's GEMMs alone (benchmarks/floor.py), and
  epoch: pipeline.training.run_epoch, the function `dvc repro` runs,
at params.yaml's train.batch_size and train.threads (momentum 0.4, dropout 0.2).
Ratios follow the rules of benchmarks/sampling.py (busy machine, late second
core, unstable samples, below the floor: refused, with the reason).

--grid RUNS: the grid's floor, sum over the runs in params.yaml of epochs run x
  that network's floor epoch (at its dtype, threads and kernels), against the
  training time the runs' timing.json files report; with --repro-seconds, the
  wall time of the whole `dvc repro` too, and DVC's share (repro - training).
--cores: machine throughput of one 2-thread run against two concurrent
  1-thread runs (2x150 float32, portable).
--quick: 1x60 float32 on 640 images, 3 pairs: a smoke test, not a measurement.
"""
import argparse
import datetime
import json
import os
import platform
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.params import load_params
from pipeline.training.experiments import parse_defaults, parse_grid

from .sampling import (MIN_CLEAN_SAMPLES, ROOT, Watch, Worker, bracketed_samples, interleaved,
                       summary, verdict)

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
    args.pairs = args.pairs or (3 if args.quick else 5)
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
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
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


def handoff_probe(workers):
    """The hand-off ratio now, from the first multi-thread worker; 0.0 when there is none.

    A late second core is the machine's state, not a worker's: one probe tells.
    """
    threaded = [worker for worker in workers if worker.threads > 1]
    return (lambda: threaded[0].ask(op="handoff")) if threaded else (lambda: 0.0)


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


def ratio_text(result, unit=""):
    if result["refused"]:
        return f"no ratio ({result['refused']})"
    return f"{result['ratio']:.2f}{unit} (median {result['ratio_median']:.2f}{unit})"


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


def grid_floor(args, runs_dir):
    """The grid's floor from fresh floor samples, against the runs' timing.json."""
    grid = parse_grid(load_params(ROOT / "params.yaml"))
    floors, workers, rows = {}, {}, []
    machine_watch = Watch([]).start()
    for name, experiment in grid.items():
        config = experiment.config
        metrics = json.loads((runs_dir / name / "metrics.json").read_text())
        timing = json.loads((runs_dir / name / "timing.json").read_text())
        # A run may set its own batch_size, and the floor's GEMMs have the batch's shape.
        key = (tuple(config.hidden), config.dtype, config.kernels, config.threads,
               config.batch_size)
        if key not in floors:
            worker_key = (config.kernels, config.threads, config.batch_size)
            if worker_key not in workers:
                workers[worker_key] = Worker(config.kernels, config.threads,
                                             {**args.data_request,
                                              "batch_size": config.batch_size})
            floors[key] = floor_samples(workers[worker_key], config, args.pairs)
        rows.append({"run": name, "epochs": metrics["epochs_run"],
                     "floor_epoch": floors[key]["min"],
                     "floor_seconds": metrics["epochs_run"] * floors[key]["min"],
                     "floor_seconds_median": metrics["epochs_run"] * floors[key]["median"],
                     "training_seconds": timing["wall_seconds"],
                     "cpu_seconds": timing.get("cpu_seconds"),
                     "quiet_training_seconds": quiet_seconds(timing.get("epoch_seconds"))})
    own = sum(worker.cpu_seconds() for worker in workers.values())
    for worker in workers.values():
        worker.close()
    watch = machine_watch.stop(own_extra=own)
    if any(f["handoff"] for f in floors.values()):  # some worker had threads to probe
        watch.update(handoff=max(f["handoff"] for f in floors.values()),
                     rounds=max(f["rounds"] for f in floors.values()),
                     clean_samples=min(f["clean_samples"] for f in floors.values()))
    floor = sum(row["floor_seconds"] for row in rows)
    training = sum(row["training_seconds"] for row in rows)
    result = {"runs": rows, "floor_seconds": floor, "training_seconds": training,
              "training_over_floor": training / floor, "watch": watch,
              "verdict": verdict(summary([training]), {
                  "min": floor, "median": sum(row["floor_seconds_median"] for row in rows)},
                  watch)}
    if all(row["cpu_seconds"] is not None for row in rows):  # older runs lack them
        result["training_cores_used"] = sum(row["cpu_seconds"] for row in rows) / training
    if all(row["quiet_training_seconds"] is not None for row in rows):
        quiet = sum(row["quiet_training_seconds"] for row in rows)
        result.update(quiet_training_seconds=quiet, quiet_training_over_floor=quiet / floor)
    if args.repro_seconds:
        result.update(repro_seconds=args.repro_seconds,
                      repro_over_floor=args.repro_seconds / floor,
                      dvc_and_other_stages_seconds=args.repro_seconds - training)
    return result


def floor_samples(worker, config, pairs):
    """summary() of one network's floor epoch, samples kept between quiet hand-off probes.

    A floor sampled while the second core answers late would come out slow and
    flatter the grid's ratio. With fewer than MIN_CLEAN_SAMPLES clean samples all
    are summarized, and grid_floor's verdict refuses on "clean_samples".
    """
    def floor():
        return worker.ask(op="floor", hidden=config.hidden, dtype=config.dtype)

    floor()  # warm-up, untimed
    clean, every, probes = bracketed_samples([("floor", floor)], handoff_probe([worker]), pairs)
    kept = clean["floor"] if len(clean["floor"]) >= MIN_CLEAN_SAMPLES else every["floor"]
    return {**summary(kept), "clean_samples": len(clean["floor"]),
            "rounds": len(every["floor"]), "handoff": max(probes)}


def quiet_seconds(epoch_seconds):
    """Epochs x the 10th-percentile epoch: the run's time had every epoch been as quick as
    its quicker ones. Apart from the host slowing the VM (seen here: the same epoch
    taking 1.6x longer for minutes with nothing else running), it is the code's cost."""
    if not epoch_seconds:
        return None
    ordered = sorted(epoch_seconds)
    return len(ordered) * ordered[len(ordered) // 10]


def grid_line(grid):
    text = (f"grid: floor {grid['floor_seconds']:.0f} s, training (timing.json) "
            f"{grid['training_seconds']:.0f} s: {ratio_text(grid['verdict'], 'x')} the floor; "
            f"others {grid['watch']['other_cores']:.2f} cores while sampling the floors")
    if "handoff" in grid["watch"]:
        watch = grid["watch"]
        text += (f"\n    floors between hand-off probes: fewest clean samples "
                 f"{watch['clean_samples']} (of up to {watch['rounds']} rounds), "
                 f"multi/1-thread small GEMMs up to {watch['handoff']:.2f}")
    if "quiet_training_seconds" in grid:
        text += (f"\n    at each run's 10th-percentile epoch, training would take "
                 f"{grid['quiet_training_seconds']:.0f} s: "
                 f"{grid['quiet_training_over_floor']:.2f}x the floor")
    if "training_cores_used" in grid:
        text += (f"\n    training kept {grid['training_cores_used']:.2f} of "
                 f"{len(os.sched_getaffinity(0))} cores busy on average (CPU seconds / wall seconds)")
    if "repro_seconds" in grid:
        ratio = ("no ratio" if grid["verdict"]["refused"]
                 else f"{grid['repro_over_floor']:.2f}x the floor")
        text += (f"\n    dvc repro {grid['repro_seconds']:.0f} s: {ratio}; DVC and the other "
                 f"stages {grid['dvc_and_other_stages_seconds']:.0f} s")
    return text


def cores_study(args, pairs):
    """Epochs per second of the machine: one 2-thread run vs two concurrent 1-thread runs."""
    hidden, dtype = NETWORKS["2x150"], "float32"
    one = Worker("portable", 2, args.data_request)
    two = [Worker("portable", 1, args.data_request) for _ in range(2)]
    workers = [one, *two]
    for worker in workers:
        worker.ask(op="epoch", hidden=hidden, dtype=dtype)

    def sequential():  # the 2-thread run does the same 2 epochs alone
        return sum(one.ask(op="epoch", hidden=hidden, dtype=dtype) for _ in range(2))

    def concurrent():
        import time
        start = time.perf_counter()
        for worker in two:
            worker.send(op="epoch", hidden=hidden, dtype=dtype)
        for worker in two:
            worker._read()
        return time.perf_counter() - start

    watch = Watch(workers).start()
    samples = interleaved([("one run, 2 threads", sequential),
                           ("two runs, 1 thread each", concurrent)], pairs)
    watch = watch.stop()
    for worker in workers:
        worker.close()
    times = {key: summary(value) for key, value in samples.items()}
    gain = verdict(times["one run, 2 threads"], times["two runs, 1 thread each"], watch,
                   floor_ratio=False)
    return {"network": "2x150", "dtype": dtype, "epochs_per_sample": 2, "watch": watch,
            "times": times, "two_runs_speedup": gain}


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
        one, two = (study["times"][key] for key in ("one run, 2 threads",
                                                    "two runs, 1 thread each"))
        print(f"cores: 2 epochs of 2x150 float32 by one 2-thread run {one['min']:.2f}/"
              f"{one['median']:.2f} s, by two concurrent 1-thread runs {two['min']:.2f}/"
              f"{two['median']:.2f} s (min/median): two runs do "
              f"{ratio_text(study['two_runs_speedup'], 'x')} the work")
    write_json(args.json, results)
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
