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


class FloorEpoch:
    """The epoch's GEMMs alone: every call of epoch_gemms(), at its shape and layout.

    Operands are random and reused across calls (they stay in cache where the
    real epoch's gathered batches do not), so the floor errs on the fast side.
    """

    def __init__(self, sizes, num_train, num_test, batch_size, eval_chunk, dtype, seed=0):
        self.calls = epoch_gemms(sizes, num_train, num_test, batch_size, eval_chunk)
        if sum(g.flops * n for g, n in self.calls.items()) != epoch_flops(sizes, num_train,
                                                                          num_test):
            raise AssertionError(f"the GEMM list of {sizes} misses FLOPs")  # a bug here
        rng = np.random.default_rng(seed)
        self.operands = {gemm: operands(gemm, np.dtype(dtype), rng) for gemm in self.calls}

    def run(self):
        """Execute every call once, as many times as the epoch makes it."""
        for gemm, times in self.calls.items():
            a, b, out = self.operands[gemm]
            for _ in range(times):
                if out is None:
                    a @ b
                else:
                    np.matmul(a, b, out=out)
