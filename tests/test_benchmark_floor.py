"""The floor's GEMM list is the epoch's: every product mlpcore makes in run_epoch, counted.

benchmarks/floor.py lists the GEMMs by hand; if mlpcore changes how it multiplies
(a transpose, a product skipped or added), the floor would silently measure
another epoch. This records the real products and compares.
"""
import dataclasses
from collections import Counter

import numpy as np
import pytest

from benchmarks.data import random_dataset
from benchmarks.floor import epoch_gemms
from benchmarks.worker import bench_config
from mlpcore import blas, linear
from pipeline.training.loop import EVAL_CHUNK, run_epoch, start_run

PRODUCTS = Counter()


def transposed(array):
    """Whether BLAS sees `array` as the transpose of a C-ordered one (an F-ordered view)."""
    return not array.flags.c_contiguous and array.flags.f_contiguous


class RecordedWeight(np.ndarray):
    """A weight matrix that counts every matmul it takes part in (forward, W.T @ grad)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [x.view(np.ndarray) if isinstance(x, RecordedWeight) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x.view(np.ndarray) if isinstance(x, RecordedWeight) else x
                                  for x in kwargs["out"])
        if ufunc is np.matmul:
            a, b = plain
            PRODUCTS[(a.shape[0], a.shape[1], b.shape[1], transposed(a), transposed(b),
                      "out" in kwargs)] += 1
        return getattr(ufunc, method)(*plain, **kwargs)


@pytest.fixture
def recorded_weight_gradients(monkeypatch):
    """Count the weight-gradient GEMMs, grad (out, B) @ x.T, which mlpcore hands to BLAS."""
    PRODUCTS.clear()
    fused = linear.blas.accumulate_outer

    def accumulate_outer(x, grad, beta, out, scale=1.0):
        done = fused(x, grad, beta, out, scale)
        if done:
            PRODUCTS[(grad.shape[0], grad.shape[1], x.shape[0], transposed(grad),
                      transposed(x.T), True)] += 1
        return done

    monkeypatch.setattr(linear.blas, "accumulate_outer", accumulate_outer)


@pytest.mark.parametrize("hidden, momentum, dtype", [
    ([7, 5], 0.4, "float32"),   # momentum: the GEMM into momentum_W
    ([6], 0.0, "float64"),      # no momentum: the GEMM straight into W
])
def test_the_floor_makes_the_epochs_products(recorded_weight_gradients, hidden, momentum,
                                             dtype):
    if not blas.available(dtype):  # numpy's fallback products would go unrecorded
        pytest.skip("numpy's BLAS is not a bundled OpenBLAS")
    dataset = random_dataset(150, 40)  # batches of 64, 64, 22
    config = dataclasses.replace(bench_config(hidden, dtype, 64, 1, "portable"),
                                 momentum=momentum)
    run = start_run(config, dataset)
    for layer in run.model.linears:
        layer.W = layer.W.view(RecordedWeight)
    assert run_epoch(run, 64) is not None
    listed = Counter()
    sizes = [dataset.train_x.shape[1], *hidden, dataset.num_classes]
    for gemm, calls in epoch_gemms(sizes, 150, 40, 64, EVAL_CHUNK).items():
        listed[(gemm.m, gemm.k, gemm.n, gemm.a_transposed, gemm.b_transposed,
                gemm.into_buffer)] += calls
    assert PRODUCTS == listed
