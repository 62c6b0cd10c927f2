"""Epoch benchmark: mlpcore against PyTorch CPU and against the machine's GEMM floor.

    python -m benchmarks.epoch [--quick] [--repeats N] [--threads T] [--json PATH]

In one process and one run, for the homework's networks (1x60, 1x150, 2x60,
2x150) in float32 and float64, at params.yaml's train.batch_size:
  * mlpcore: one pipeline epoch (pipeline.training.train_epoch, then evaluate
    on train and test), momentum 0.4, dropout 0.2; one warm-up, then N repeats;
  * torch: the same epoch in PyTorch when it is installed (optional);
  * floor: the epoch's GEMMs, each timed alone at its shape and layout;
then, in child processes, the peak memory of `python -m stages.train` and the
machine's epochs/s with one 2-thread run versus two concurrent 1-thread runs.
Data: data/prepared/omniglot_12.npz, or random binary data of the same shape.
Prints a table with PASS/MISS against the targets and writes it all as JSON.

Order matters on a small machine: every numpy timing runs before torch is
imported, so torch's OpenMP threads never compete with OpenBLAS's.
"""
import argparse
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

from pipeline.atomic import write_json
from pipeline.training.experiments import parse_defaults
from pipeline.params import load_params
from pipeline.training.loop import EVAL_CHUNK

from . import kernels, processes, report
from .floor import GemmRates, describe, epoch_flops, epoch_gemms
from .torch_side import load_torch, time_torch, torch_info
from .workload import (DTYPES, NETWORKS, PREPARED, ROOT, load_dataset, load_seconds,
                       run_config, splits, summary, time_mlpcore)


def parse_args(argv):
    defaults = parse_defaults(load_params(ROOT / "params.yaml"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2x150 only, 2 repeats, shorter process studies")
    parser.add_argument("--repeats", type=int, help="timed epochs per case (default 5; quick 2)")
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help=f"BLAS and torch threads (default params.yaml: {defaults.threads})")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help=f"default params.yaml train.batch_size: {defaults.batch_size}")
    parser.add_argument("--data", type=Path, default=PREPARED, help="prepared dataset (npz)")
    parser.add_argument("--json", type=Path, default=ROOT / "build/benchmark.json")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--numpy-only", action="store_true",
                        help="only the mlpcore epochs and GEMM floors (used by the kernel study)")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.networks = {"2x150": NETWORKS["2x150"]} if args.quick else NETWORKS
    return args


def progress(message):
    print(message, file=sys.stderr, flush=True)


def layer_sizes(dataset, hidden):
    return [dataset.train_x.shape[1], *hidden, dataset.num_classes]


def time_numpy(args, dataset, results):
    """mlpcore epochs and GEMM floors of every network and dtype, under the thread limit."""
    num_train, num_test = len(dataset.train_y), len(dataset.test_y)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        results["blas"] = report.blas_info()
        rates = GemmRates(args.repeats)
        for dtype in DTYPES:
            train_split, test_split = splits(dataset, dtype)
            for name, hidden in args.networks.items():
                progress(f"mlpcore {name} {dtype} ...")
                config = run_config(hidden, dtype, args.batch_size, args.threads)
                sizes = layer_sizes(dataset, hidden)
                calls = epoch_gemms(sizes, num_train, num_test, args.batch_size, EVAL_CHUNK)
                flops = sum(gemm.flops * times for gemm, times in calls.items())
                if flops != epoch_flops(sizes, num_train, num_test):
                    raise AssertionError(f"GEMM list of {name} misses FLOPs")  # a bug here
                seconds = summary(time_mlpcore(config, train_split, test_split, args.repeats))
                floor = rates.floor(calls, dtype)
                network = results["networks"].setdefault(
                    name, {"sizes": sizes, "gflop_per_epoch": flops / 1e9})
                network[dtype] = {"mlpcore": seconds, "torch": None, "floor_seconds": floor,
                                  "mlpcore_over_floor": seconds["median"] / floor,
                                  "mlpcore_over_torch": None,
                                  "gemms": describe(calls, rates, dtype)}


def time_pytorch(args, dataset, results):
    """torch epochs of every network and dtype, when torch is installed and wanted."""
    torch = None if args.no_torch else load_torch()
    results["torch"] = torch_info(torch)
    if torch is None:
        return
    torch.set_num_threads(args.threads)
    results["torch"]["threads"] = torch.get_num_threads()
    for dtype in DTYPES:
        train_split, test_split = splits(dataset, dtype)
        data = (train_split, dataset.train_y, test_split, dataset.test_y)
        for name, hidden in args.networks.items():
            progress(f"torch {name} {dtype} ...")
            config = run_config(hidden, dtype, args.batch_size, args.threads)
            row = results["networks"][name][dtype]
            row["torch"] = summary(time_torch(layer_sizes(dataset, hidden), data, config,
                                              EVAL_CHUNK, args.repeats))
            row["mlpcore_over_torch"] = row["mlpcore"]["median"] / row["torch"]["median"]


def run_processes(args, dataset, results):
    """Peak memory of the training stage and the threads study, in child processes."""
    study_epochs = 2 if args.quick else 4
    with processes.data_file(dataset, args.data) as path:
        for dtype in ("float32",) if args.quick else DTYPES:
            progress(f"stages.train 2x150 {dtype}, 2 epochs, for its peak memory ...")
            results["peak_memory"][dtype] = processes.stage_peak_memory(
                path, dtype, args.batch_size, args.threads)
        progress("threads study: one run with 2 threads, then two runs with 1 thread ...")
        results["threads_study"] = {
            "one_run_2_threads": processes.machine_epochs_per_second(
                path, 1, 2, study_epochs, args.batch_size),
            "two_runs_1_thread": processes.machine_epochs_per_second(
                path, 2, 1, study_epochs, args.batch_size)}


def main(argv=None):
    args = parse_args(argv)
    dataset, source = load_dataset(args.data)
    results = {"machine": report.machine_info(), "networks": {}, "peak_memory": {},
               "threads_study": None, "load_prepared": None, "own_kernel_choice": None,
               "settings": {"data": source, "batch_size": args.batch_size,
                            "threads": args.threads, "repeats": args.repeats,
                            "quick": args.quick, "eval_chunk": EVAL_CHUNK,
                            "num_train": len(dataset.train_y), "num_test": len(dataset.test_y)}}
    time_numpy(args, dataset, results)
    if args.numpy_only:
        write_json(args.json, results)
        return
    if args.data.is_file():
        results["load_prepared"] = summary(load_seconds(args.data, args.repeats))
    if kernels.forced_kernel():
        progress(f"mlpcore again without {kernels.FORCING_VARIABLE}, in a child process ...")
        results["own_kernel_choice"] = kernels.own_choice_timings(args)
    run_processes(args, dataset, results)
    time_pytorch(args, dataset, results)  # last: see the module docstring
    if results.get("own_kernel_choice"):
        kernels.compare_with_torch(results["own_kernel_choice"], results["networks"])
    results["targets"] = report.targets(results)
    print(report.render(results))
    write_json(args.json, results)
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
