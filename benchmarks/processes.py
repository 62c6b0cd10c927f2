"""Measurements that need processes of their own: a training stage's peak memory and
the machine's throughput with one 2-thread run versus two concurrent 1-thread runs.

Also the worker those throughput runs start:
    python -m benchmarks.processes worker DATA THREADS EPOCHS BATCH_SIZE
"""
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from pipeline.data.prepared import save_prepared

from .workload import (ROOT, load_dataset, mlpcore_epoch, model_and_order_rng, run_config,
                       splits)

STUDY_NETWORK = [150, 150]


@contextlib.contextmanager
def data_file(dataset, prepared_path):
    """A prepared-format file of `dataset` for child processes: the prepared file itself
    when it exists, else the random data written to a temporary file."""
    if Path(prepared_path).is_file():
        yield Path(prepared_path)
        return
    with tempfile.TemporaryDirectory(prefix="bench-data-") as folder:
        path = Path(folder) / "random_12.npz"
        save_prepared(path, dataset)
        yield path


def child_environment():
    """os.environ with the project on PYTHONPATH, so children run from any directory."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


# Runs a module as `python -m` does, then writes the process's peak RSS (VmHWM, KiB)
# to the file named by the first argument. A child's ru_maxrss (wait4, RUSAGE_CHILDREN)
# is no use here: a child spawned by a large parent (vfork + exec) starts with the
# parent's peak as its own, so it would report the benchmark's memory, not the stage's.
PEAK_RSS_WRAPPER = """
import atexit, runpy, sys
peak_file, module = sys.argv.pop(1), sys.argv.pop(1)
def save_peak():
    with open('/proc/self/status') as status:
        peak = next(line.split()[1] for line in status if line.startswith('VmHWM'))
    with open(peak_file, 'w') as file:
        file.write(peak)
atexit.register(save_peak)
runpy.run_module(module, run_name='__main__', alter_sys=True)
"""


def run_for_peak_memory(module, arguments, cwd):
    """Run `python -m module arguments...` in `cwd`: {"bytes": peak RSS, "seconds", "output"}.

    Raises RuntimeError with the child's output when it fails.
    """
    peak_file = Path(cwd, ".peak_rss_kib")
    command = [sys.executable, "-c", PEAK_RSS_WRAPPER, str(peak_file), module, *arguments]
    start = time.perf_counter()
    child = subprocess.run(command, cwd=cwd, env=child_environment(), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"python -m {module} {' '.join(arguments)} failed "
                           f"({child.returncode}):\n{child.stdout}")
    return {"bytes": int(peak_file.read_text()) * 1024, "seconds": seconds,
            "output": child.stdout.strip().splitlines()[-1:]}


def stage_peak_memory(data_path, dtype, batch_size, threads, epochs=2):
    """Peak RSS and seconds of the real `python -m stages.train`: 2x150, `epochs` epochs.

    The stage reads params.yaml from its working directory, so it runs in a
    temporary one whose params.yaml (JSON, a subset of YAML) holds one
    experiment; models and curves are written there too, as the stage does.
    """
    config = run_config(STUDY_NETWORK, dtype, batch_size, threads, epochs)
    with tempfile.TemporaryDirectory(prefix="bench-stage-") as work:
        params = {"train": dataclasses.asdict(config),
                  "experiments": {"bench_2x150": {"group": "bench"}}}
        Path(work, "params.yaml").write_text(json.dumps(params), encoding="utf-8")
        return run_for_peak_memory("stages.train", ["bench_2x150", str(data_path), "model.npz",
                                                    "run", "curves.csv"], work)


def machine_epochs_per_second(data_path, processes, threads, epochs, batch_size):
    """Epochs per second of the whole machine with `processes` concurrent 2x150 float32 runs.

    Every worker loads its data and trains one warm-up epoch, then all start
    timing together (a barrier on stdin); the slowest one sets the wall time.
    """
    command = [sys.executable, "-m", "benchmarks.processes", "worker", str(data_path),
               str(threads), str(epochs), str(batch_size)]
    workers = [subprocess.Popen(command, cwd=ROOT, env=child_environment(), text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
               for _ in range(processes)]
    try:
        for worker in workers:
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError(f"benchmark worker failed: {worker.communicate()}")
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        seconds = [json.loads(worker.communicate()[0])["seconds"] for worker in workers]
    finally:
        for worker in workers:  # on failure, no sibling is left waiting for "go"
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return {"processes": processes, "threads_each": threads, "epochs_each": epochs,
            "seconds_each": seconds, "epochs_per_second": processes * epochs / max(seconds)}


def worker(data_path, threads, epochs, batch_size):
    """Train 2x150 float32 with `threads` BLAS threads; print "ready", wait, time `epochs`."""
    dataset, _ = load_dataset(data_path)
    config = run_config(STUDY_NETWORK, "float32", batch_size, threads)
    train_split, test_split = splits(dataset, config.dtype)
    model, order_rng = model_and_order_rng(config, train_split.x.shape[1], dataset.num_classes)
    with threadpool_limits(limits=threads, user_api="blas"):
        mlpcore_epoch(model, train_split, test_split, batch_size, order_rng)
        print("ready", flush=True)
        sys.stdin.readline()
        start = time.perf_counter()
        for _ in range(epochs):
            mlpcore_epoch(model, train_split, test_split, batch_size, order_rng)
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] != "worker":
        sys.exit(__doc__)
    worker(sys.argv[2], *map(int, sys.argv[3:]))
