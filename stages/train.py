"""Stage train@<experiment>: train one network of the grid and write its results.

    python -m stages.train <experiment> <prepared.npz> <model.npz> <run dir> <curves.csv>
"""
import sys

from pipeline.params import ParamsError, check_experiment_name, load_params  # no numpy
from pipeline.training import cpu_kernels


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
import os  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from pipeline.data.prepared import PreparedError, load_prepared  # noqa: E402
from pipeline.training.runs import RunPaths, RunTiming, write_run  # noqa: E402
from pipeline.stage_runner import run_stage  # noqa: E402
from pipeline.training.confusion import confusion_matrix  # noqa: E402
from pipeline.training.experiments import parse_experiment  # noqa: E402
from pipeline.training.loop import train  # noqa: E402
from pipeline.training.progress import EpochProgress  # noqa: E402


def run_experiment(experiment, dataset, progress=None):
    """Train `experiment` on `dataset` with its own BLAS thread count.

    Returns (result, RunTiming): wall and CPU seconds (this process, every BLAS
    thread included, setup too) and each epoch's wall seconds (setup not included).
    """
    marks = []  # when setup ended, then when each epoch ended

    def on_epoch(log):
        marks.append(time.perf_counter())
        if progress:
            progress(log)

    cpu_before, start = cpu_seconds(), time.perf_counter()
    with threadpool_limits(limits=experiment.config.threads, user_api="blas"):
        result = train(experiment.config, dataset, on_epoch=on_epoch,
                       on_ready=lambda: marks.append(time.perf_counter()))
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_before
    epochs = [end - begin for begin, end in zip(marks, marks[1:])]
    return result, RunTiming(wall, cpu, epochs)


def cpu_seconds():
    times = os.times()
    return times.user + times.system


def execution_record(experiment, pinned=None):
    """Kernels, BLAS libraries and threads the run used (for timing.json, not metrics.json).

    pinned: pin()'s record when the kernels were pinned before numpy loaded;
    otherwise (the stage called in-process) the record says they could not be.
    """
    pinning = pinned or cpu_kernels.pin(experiment.config.kernels)
    with threadpool_limits(limits=experiment.config.threads, user_api="blas"):
        return cpu_kernels.runtime_record(pinning)


RUN_PATH_HELP = {
    "data": "the prepared npz to train on",
    "model": "the weights to write; the best epoch's go beside it, as <name>.best.npz",
    "run_dir": "folder to write the run's config, metrics, timing and confusion into",
    "curves": "the per-epoch curves CSV to write",
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # The name first: a badly named experiment (say "-x" or "a b") would otherwise
    # reach argparse as an option or two words and fail obscurely.
    if argv and argv[0] not in ("-h", "--help"):
        run_stage("train", lambda: check_experiment_name(argv[0], "params.yaml:experiments"))
    params = run_stage("train", load_params)
    parser = argparse.ArgumentParser(prog="python -m stages.train",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="a key of `experiments` in params.yaml")
    for name in RunPaths._fields:
        parser.add_argument(name, type=Path, help=RUN_PATH_HELP[name])
    args = parser.parse_args(argv)
    paths = RunPaths(*(getattr(args, name) for name in RunPaths._fields))
    run_stage(f"train@{args.experiment}", lambda: train_stage(params, args.experiment, paths),
              errors=(PreparedError,))


def train_stage(params, name, paths):
    """Train experiment `name`, write every output, print one line."""
    experiment = parse_experiment(params, name)
    dataset = load_prepared(paths.data)
    with EpochProgress(experiment.name, experiment.config.epochs) as progress:
        result, timing = run_experiment(experiment, dataset, progress.update)
    write_run(paths, experiment, result, timing, confusion_matrix(result.model, result.test),
              execution_record(experiment, PINNED))
    final = result.curve[-1] if result.curve else None
    print(f"train@{experiment.name}: {result.status} after {len(result.curve)} epochs in "
          f"{timing.wall_seconds:.1f} s" +
          (f", test accuracy {final.test_accuracy:.4f}" if final else ""))


if __name__ == "__main__":
    main()
