"""Stage train@<experiment>: train one network of the grid and write its results.

    python -m stages.train <experiment> <prepared.npz> <model.npz> <run dir> <curves.csv>
"""
import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

from threadpoolctl import threadpool_limits

from pipeline.confusion import confusion_matrix
from pipeline.grid import parse_experiment
from pipeline.params import ParamsError, load_params
from pipeline.prepared import PreparedError, load_prepared
from pipeline.progress import EpochProgress
from pipeline.run_files import write_run
from pipeline.training import to_split, train


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="a key of `experiments` in params.yaml")
    for name in RunPaths._fields:
        parser.add_argument(name, type=Path)
    args = parser.parse_args(argv)
    paths = RunPaths(*(getattr(args, name) for name in RunPaths._fields))
    try:
        experiment = parse_experiment(load_params(), args.experiment)
        dataset = load_prepared(paths.data)
    except (ParamsError, PreparedError) as error:
        sys.exit(f"train@{args.experiment}: {error}")
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
