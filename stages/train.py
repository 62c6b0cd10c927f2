"""Stage train@<experiment>: train one network of the grid and write its results.

    python -m stages.train <experiment> <prepared.npz> <model.npz> <run dir> <curves.csv>
"""
import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

from threadpoolctl import threadpool_limits

from pipeline.training.confusion import confusion_matrix
from pipeline.training.experiments import parse_experiment
from pipeline.params import check_name, load_params
from pipeline.data.prepared import PreparedError, load_prepared
from pipeline.training.progress import EpochProgress
from pipeline.run_files import write_run
from pipeline.stage_runner import run_stage
from pipeline.training.loop import to_split, train


class RunPaths(NamedTuple):
    data: Path
    model: Path
    run_dir: Path
    curves: Path


def run_experiment(experiment, dataset, progress=None):
    """Train `experiment` on `dataset` with its own BLAS thread count; returns (result, seconds)."""
    start = time.perf_counter()
    with threadpool_limits(limits=experiment.config.threads, user_api="blas"):
        result = train(experiment.config, dataset, on_epoch=progress)
    return result, time.perf_counter() - start


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # The name first: a badly named experiment (say "-x" or "a b") would otherwise
    # reach argparse as an option or two words and fail obscurely.
    if argv:
        run_stage("train", lambda: check_name(argv[0], "params.yaml:experiments"))
    params = run_stage("train", load_params)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="a key of `experiments` in params.yaml")
    for name in RunPaths._fields:
        parser.add_argument(name, type=Path)
    args = parser.parse_args(argv)
    paths = RunPaths(*(getattr(args, name) for name in RunPaths._fields))
    run_stage(f"train@{args.experiment}", lambda: train_stage(params, args.experiment, paths),
              errors=(PreparedError,))


def train_stage(params, name, paths):
    """Train experiment `name`, write every output, print one line."""
    experiment = parse_experiment(params, name)
    dataset = load_prepared(paths.data)
    with EpochProgress(experiment.name, experiment.config.epochs) as progress:
        result, seconds = run_experiment(experiment, dataset, progress.update)
    test_split = to_split(dataset.test_x, dataset.test_y, dataset.num_classes,
                          result.model.dtype)
    write_run(paths, experiment, result, seconds, confusion_matrix(result.model, test_split))
    final = result.curve[-1] if result.curve else None
    print(f"train@{experiment.name}: {result.status} after {len(result.curve)} epochs in "
          f"{seconds:.1f} s" + (f", test accuracy {final.test_accuracy:.4f}" if final else ""))


if __name__ == "__main__":
    main()
