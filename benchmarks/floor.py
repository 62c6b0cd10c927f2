"""The machine's limit for one epoch: its GEMMs, each at the rate this machine runs it.

An epoch of layer sizes [d0, h1, ..., 12] (per layer `in` -> `out`) costs
    training forward       2 * out * in * N_train   every layer
    weight gradient        2 * out * in * N_train   every layer
    input gradient         2 * out * in * N_train   every layer but the first (not needed)
    inference forward      2 * out * in * (N_train + N_test)   every layer
in matrix products; everything else (ReLU, dropout, softmax, momentum step) is
memory-bound and left out, so the floor is a lower bound.
"""
from collections import Counter
from typing import NamedTuple

import numpy as np

from .workload import time_repeats


class Gemm(NamedTuple):
    """One kind of numpy matmul in an epoch: A (m, k) @ B (k, n) -> (m, n).

    a_transposed / b_transposed: the operand is the transpose of a C-ordered
    array (an F-ordered view), as numpy hands it to BLAS. into_buffer: the
    product is written with np.matmul(..., out=C-ordered (m, n)).
    """
    m: int
    k: int
    n: int
    a_transposed: bool
    b_transposed: bool
    into_buffer: bool
    phase: str  # forward | weight-grad | input-grad | inference

    @property
    def flops(self):
        return 2 * self.m * self.k * self.n

    def label(self):
        layout = ("T" if self.a_transposed else "N") + ("T" if self.b_transposed else "N")
        return f"{self.phase} {self.m}x{self.k}x{self.n} {layout}"


def pieces(count, size):
    """Counter {piece length: how many}: `count` items cut into pieces of `size`."""
    lengths = Counter({size: count // size})
    if count % size:
        lengths[count % size] += 1
    return +lengths  # drops a zero count


def epoch_gemms(sizes, num_train, num_test, batch_size, eval_chunk):
    """Counter {Gemm: calls} of one mlpcore epoch, with the layouts mlpcore produces.

    sizes: [11025, hidden..., 12]. The first layer sees x[batch].T (a gathered
    C-ordered (B, 11025) block, transposed) and its dW reads x[batch] itself;
    deeper layers see C-ordered activations (h, B), so their dW reads a transpose.
    """
    calls = Counter()
    layers = list(zip(sizes[:-1], sizes[1:]))
    for batch, times in pieces(num_train, batch_size).items():
        for index, (fan_in, fan_out) in enumerate(layers):
            first = index == 0
            calls[Gemm(fan_out, fan_in, batch, False, first, False, "forward")] += times
            calls[Gemm(fan_out, batch, fan_in, False, not first, True, "weight-grad")] += times
            if not first:  # MLP.backward(input_grad=False) skips the first layer's
                calls[Gemm(fan_in, fan_out, batch, True, False, False, "input-grad")] += times
    for count in (num_train, num_test):
        for chunk, times in pieces(count, eval_chunk).items():
            for index, (fan_in, fan_out) in enumerate(layers):
                calls[Gemm(fan_out, fan_in, chunk, False, index == 0, False, "inference")] += times
    return calls


def epoch_flops(sizes, num_train, num_test):
    """The closed form of the module docstring; equals the sum over epoch_gemms."""
    products = [fan_in * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
    training = 2 * num_train * (2 * sum(products) + sum(products[1:]))
    return training + 2 * (num_train + num_test) * sum(products)


def operands(gemm, dtype, rng):
    """Random A (m, k), B (k, n) and output buffer (or None) with the layouts of `gemm`."""
    def matrix(rows, cols, transposed):
        shape = (cols, rows) if transposed else (rows, cols)
        array = rng.standard_normal(shape).astype(dtype)
        return array.T if transposed else array

    out = np.empty((gemm.m, gemm.n), dtype=dtype) if gemm.into_buffer else None
    return (matrix(gemm.m, gemm.k, gemm.a_transposed),
            matrix(gemm.k, gemm.n, gemm.b_transposed), out)


def seconds_per_call(gemm, dtype, repeats, block_seconds=0.01, seed=0):
    """Per-call seconds of `gemm` in `repeats` blocks of back-to-back calls (>= block_seconds).

    Small shapes are dominated by numpy's per-call overhead, which mlpcore pays too.
    """
    a, b, out = operands(gemm, dtype, np.random.default_rng(seed))
    call = (lambda: np.matmul(a, b, out=out)) if out is not None else (lambda: a @ b)
    once = min(time_repeats(call, 2))  # after a warm-up call
    loops = max(1, int(block_seconds / max(once, 1e-9)))

    def block():
        for _ in range(loops):
            call()

    return [seconds / loops for seconds in time_repeats(block, repeats, warmup=0)]


class GemmRates:
    """Measured per-call seconds of each distinct (Gemm, dtype), each measured once."""

    def __init__(self, repeats):
        self.repeats = repeats
        self.samples = {}  # (Gemm, dtype) -> [seconds per call, ...]

    def seconds(self, gemm, dtype):
        """Median seconds of one call."""
        key = (gemm, dtype)
        if key not in self.samples:
            self.samples[key] = seconds_per_call(gemm, np.dtype(dtype), self.repeats)
        return float(np.median(self.samples[key]))

    def gflops(self, gemm, dtype):
        return gemm.flops / self.seconds(gemm, dtype) / 1e9

    def floor(self, calls, dtype):
        """Seconds of an epoch whose GEMMs (Counter {Gemm: calls}) all run at the measured rate."""
        return sum(times * self.seconds(gemm, dtype) for gemm, times in calls.items())


def describe(calls, rates, dtype):
    """Per-shape rows for the JSON: calls, GFLOP, GFLOP/s, share of the floor."""
    total = rates.floor(calls, dtype)
    rows = []
    for gemm, times in sorted(calls.items(), key=lambda item: -item[0].flops * item[1]):
        seconds = times * rates.seconds(gemm, dtype)
        rows.append({"gemm": gemm.label(), "m": gemm.m, "k": gemm.k, "n": gemm.n,
                     "calls": times, "gflop": times * gemm.flops / 1e9,
                     "gflops_per_s": rates.gflops(gemm, dtype),
                     "floor_seconds": seconds, "floor_share": seconds / total})
    return rows
