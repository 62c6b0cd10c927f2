"""A benchmark worker: one process, one kernels mode and thread count, timing on request.

    python -m benchmarks.worker MODE THREADS DATA_JSON

The kernels are pinned (pipeline.training.cpu_kernels, as the training stage does) before
numpy loads, which is why each mode needs a process of its own. The worker
reads one JSON request per line on stdin and answers one JSON line on stdout:
    {"op": "epoch" | "floor", "hidden": [150, 150], "dtype": "float32"}
        -> {"seconds": s}: one pipeline epoch (pipeline.training.run_epoch) of
           that network, or its GEMM floor (benchmarks.floor.FloorEpoch)
    {"op": "handoff"} -> {"seconds": r}: the time of HANDOFF_CALLS float32 GEMMs
           60 x 11025 @ 11025 x batch (the 1x60 epoch's forward) at THREADS over
           their time at 1 thread: a ratio, not seconds (see handoff_ratio)
    {"op": "cpu"} -> {"seconds": CPU seconds this process has used}
It first prints {"ready": what runs it (kernels, BLAS, threads, numpy)}.
"""
import json
import os
import sys

from pipeline.training import cpu_kernels

# Run as a script, the kernels are pinned here, before numpy loads (module docstring).
PINNING = cpu_kernels.pin(sys.argv[1]) if __name__ == "__main__" else None

import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from pipeline.training.experiments import RunConfig  # noqa: E402
from pipeline.training.loop import EVAL_CHUNK, run_epoch, start_run  # noqa: E402

from .data import load_data  # noqa: E402
from .floor import FloorEpoch  # noqa: E402
from .network import DROPOUT, LR, MOMENTUM  # noqa: E402


def bench_config(hidden, dtype, batch_size, threads, kernels):
    """The grid's costliest settings for `hidden` (momentum and dropout on)."""
    return RunConfig(hidden=list(hidden), momentum=MOMENTUM, dropout=DROPOUT, lr=LR, epochs=1,
                     batch_size=batch_size, init="xavier_uniform", dtype=dtype, seed=0,
                     threads=threads, kernels=kernels)


class Cases:
    """Per (hidden, dtype): a pipeline run and its floor, built on first use.

    Only the latest case's are kept: a run holds the data as floats (0.3-0.7 GB)
    and a floor its operands (up to 0.3 GB), and the benchmark times one case at a
    time; keeping all eight would take ~7 GB per worker.
    """

    def __init__(self, dataset, batch_size, threads, kernels):
        self.dataset, self.batch_size = dataset, batch_size
        self.threads, self.kernels = threads, kernels
        self.runs, self.floors = {}, {}

    def epoch(self, hidden, dtype):
        key = (tuple(hidden), dtype)
        if key not in self.runs:
            self.runs.clear()
            config = bench_config(hidden, dtype, self.batch_size, self.threads, self.kernels)
            self.runs[key] = start_run(config, self.dataset)
        run = self.runs[key]
        return lambda: run_epoch(run, self.batch_size) or _diverged()

    def floor(self, hidden, dtype):
        key = (tuple(hidden), dtype)
        if key not in self.floors:
            self.floors.clear()
            sizes = [self.dataset.train_x.shape[1], *hidden, self.dataset.num_classes]
            self.floors[key] = FloorEpoch(sizes, len(self.dataset.train_y),
                                          len(self.dataset.test_y), self.batch_size,
                                          EVAL_CHUNK, dtype)
        return self.floors[key].run


HANDOFF_CALLS, HANDOFF_ROWS = 40, 60


def handoff_ratio(num_inputs, batch_size, threads):
    """Seconds of HANDOFF_CALLS small GEMMs at `threads` over the same at 1 thread.

    The benchmarks.sampling hand-off rule reads it. The GEMM is the narrowest
    homework layer's forward in float32, whatever the case: at under a
    millisecond a call, it is the shape whose time the hand-off between
    OpenBLAS's threads moves most (on the EPYC VM: 0.7 normally, 1.2-1.6 in its
    slow spells, where a 150-wide GEMM moved only from about 0.5 to 0.6).
    """
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((HANDOFF_ROWS, num_inputs)).astype(np.float32)
    batch = rng.standard_normal((batch_size, num_inputs)).astype(np.float32)

    def timed(limit):
        with threadpool_limits(limits=limit, user_api="blas"):
            weights @ batch.T  # wakes the pool
            start = time.perf_counter()
            for _ in range(HANDOFF_CALLS):
                weights @ batch.T
            return time.perf_counter() - start

    return timed(threads) / timed(1)


def _diverged():
    raise FloatingPointError("the benchmark's training diverged")


def serve(mode, threads, data_request, lines=sys.stdin, out=sys.stdout):
    dataset, source = load_data(**data_request)
    cases = Cases(dataset, data_request["batch_size"], threads, mode)
    with threadpool_limits(limits=threads, user_api="blas"):
        pinning = PINNING or cpu_kernels.pin(mode)  # imported: reports that it could not pin
        ready = {**cpu_kernels.runtime_record(pinning), "threads": threads, "data": source}
        print(json.dumps({"ready": ready}), file=out, flush=True)
        for line in lines:
            request = json.loads(line)
            if request["op"] == "cpu":
                times = os.times()
                answer = {"seconds": times.user + times.system}
            elif request["op"] == "handoff":
                answer = {"seconds": handoff_ratio(
                    dataset.train_x.shape[1], data_request["batch_size"], threads)}
            else:
                work = getattr(cases, request["op"])(request["hidden"], request["dtype"])
                start = time.perf_counter()
                work()
                answer = {"seconds": time.perf_counter() - start}
            print(json.dumps(answer), file=out, flush=True)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]))
