"""Stage train@<experiment>: train one network of the grid and write its results.

    python -m stages.train <experiment> <prepared.npz> <model.npz> <run dir> <curves.csv>
"""
import sys

from pipeline import cpu_kernels
from pipeline.params import ParamsError, load_params  # neither loads numpy


def pin_kernels(argv):
    """Pin the CPU kernels the experiment (argv[0]) asks for; must run before numpy loads.

    Returns pin()'s record, or None when params.yaml cannot say (main() reports why).
    """
    try:
        mode = cpu_kernels.requested_mode(load_params(), argv[0] if argv else None)
    except ParamsError:
        return None
    return cpu_kernels.pin(mode) if mode else None


# Run as a script, the kernels are pinned here, before the imports below load numpy.
PINNED = pin_kernels(sys.argv[1:]) if __name__ == "__main__" else None

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import NamedTuple  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from pipeline.grid import parse_experiment  # noqa: E402
from pipeline.prepared import PreparedError, load_prepared  # noqa: E402
from pipeline.progress import EpochProgress  # noqa: E402
from pipeline.run_files import write_run  # noqa: E402
from pipeline.training import train  # noqa: E402


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


def execution_record(experiment, pinned=None):
    """Kernels, BLAS libraries and threads the run used (for timing.json, not metrics.json).

    pinned: pin()'s record when the kernels were pinned before numpy loaded;
    otherwise (the stage called in-process) the record says they could not be.
    """
    pinning = pinned or cpu_kernels.pin(experiment.config.kernels)
    with threadpool_limits(limits=experiment.config.threads, user_api="blas"):
        return cpu_kernels.runtime_record(pinning)


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
    write_run(paths, experiment, result, seconds, execution_record(experiment, PINNED))
    final = result.curve[-1] if result.curve else None
    print(f"train@{experiment.name}: {result.status} after {len(result.curve)} epochs in "
          f"{seconds:.1f} s" + (f", test accuracy {final.test_accuracy:.4f}" if final else ""))


if __name__ == "__main__":
    main()
