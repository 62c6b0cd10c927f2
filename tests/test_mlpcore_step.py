"""LinearMap.step(): the fused BLAS update and its numpy fallback both equal the
course's momentum rule; shapes are checked before BLAS; stuck subnormal momentum
is flushed. Tests that compare against BLAS are skipped where numpy's BLAS cannot
be called, since the fallback would then be compared with itself."""
import re

import numpy as np
import pytest

import mlpcore as mlp
from mlpcore import blas
from mlpcore.linear import LinearMap, flush_subnormals


def needs_blas(dtype=np.float64):
    return pytest.mark.skipif(not blas.available(dtype), reason=(
        f"mlpcore.blas cannot call numpy's BLAS for {np.dtype(dtype)} here"))


def use_numpy_fallback(monkeypatch):
    """Make LinearMap take its numpy path, as where numpy's BLAS is not callable."""
    monkeypatch.setattr(blas, "accumulate_outer", lambda *args, **options: False)
    monkeypatch.setattr(blas, "subtract_scaled", lambda *args: False)


@pytest.fixture(params=[pytest.param("blas", marks=needs_blas()), "numpy"])
def update_path(request, monkeypatch):
    """Run a test through the BLAS calls and again through the numpy fallback.

    The float64 check stands for both dtypes: mlpcore.blas finds both or neither.
    """
    if request.param == "numpy":
        use_numpy_fallback(monkeypatch)
    return request.param


def course_step(W, momentum, grad, alpha, lr):
    """The course's rule: G_M = alpha * G_M + G; W -= lr * G_M (new arrays)."""
    momentum = alpha * momentum + grad
    return W - lr * momentum, momentum


def batches(rng, indim, outdim, count, dtype=np.float64, batch=5):
    return [(rng.standard_normal((indim, batch)).astype(dtype),
             rng.standard_normal((outdim, batch)).astype(dtype)) for _ in range(count)]


@pytest.mark.parametrize("alpha", [0.0, 0.4, 0.9])
@pytest.mark.parametrize("x_order", ["C", "F"])
def test_step_follows_the_course_rule(update_path, alpha, x_order):
    rng = np.random.default_rng(0)
    layer = LinearMap(7, 3, alpha=alpha, lr=0.1, rng=rng)
    W, momentum = layer.W.copy(), np.zeros_like(layer.W)
    for x, grad in batches(rng, 7, 3, 6):
        x = np.asarray(x, order=x_order)
        layer.zerograd()
        layer.forward(x)
        layer.backward(grad)
        layer.step()
        W, momentum = course_step(W, momentum, grad @ x.T, alpha, 0.1)
        np.testing.assert_allclose(layer.momentum_W, momentum, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.W, W, rtol=1e-12, atol=1e-14)
        # The gradient is still readable after the step, until zerograd().
        np.testing.assert_allclose(layer.dW, grad @ x.T, rtol=1e-12)


def test_several_backward_calls_and_reads_before_the_step(update_path):
    rng = np.random.default_rng(1)
    layer = LinearMap(6, 4, alpha=0.5, lr=0.2, rng=rng)
    W, momentum = layer.W.copy(), rng.standard_normal(layer.W.shape)
    layer.momentum_W[...] = momentum
    (x1, g1), (x2, g2), (x3, g3) = batches(rng, 6, 4, 3)
    for x, g in ((x1, g1), (x2, g2)):
        layer.forward(x)
        layer.backward(g)
    np.testing.assert_allclose(layer.dW, g1 @ x1.T + g2 @ x2.T, rtol=1e-12)  # a read between
    layer.forward(x3)
    layer.backward(g3)
    layer.step()
    W, momentum = course_step(W, momentum, g1 @ x1.T + g2 @ x2.T + g3 @ x3.T, 0.5, 0.2)
    np.testing.assert_allclose(layer.momentum_W, momentum, rtol=1e-12)
    np.testing.assert_allclose(layer.W, W, rtol=1e-12)


@pytest.mark.parametrize("read_dw_first", [False, True])
def test_without_momentum_several_backward_calls_all_reach_the_step(update_path, read_dw_first):
    """alpha 0 folds the pending product straight into W: only when it is the only one."""
    rng = np.random.default_rng(3)
    layer = LinearMap(6, 4, alpha=0.0, lr=0.2, rng=rng)
    W = layer.W.copy()
    (x1, g1), (x2, g2) = batches(rng, 6, 4, 2)
    for x, g in ((x1, g1), (x2, g2)):
        layer.forward(x)
        layer.backward(g)
        if read_dw_first:
            layer.dW
    layer.step()
    np.testing.assert_allclose(layer.W, W - 0.2 * (g1 @ x1.T + g2 @ x2.T), rtol=1e-12)


def test_the_gradient_does_not_change_when_the_caller_reuses_its_array():
    rng = np.random.default_rng(2)
    layer = LinearMap(5, 2, rng=rng)
    x, grad = rng.standard_normal((5, 3)), rng.standard_normal((2, 3))
    expected = grad @ x.T
    layer.forward(x)
    layer.backward(grad)
    grad *= 10
    np.testing.assert_allclose(layer.dW, expected, rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.9])
@pytest.mark.parametrize("dtype", [pytest.param(np.float32, marks=needs_blas(np.float32)),
                                   pytest.param(np.float64, marks=needs_blas(np.float64))])
def test_numpy_fallback_gives_the_same_weights(monkeypatch, dtype, alpha):
    """Where numpy's BLAS cannot be called (another build, odd layouts) numpy does it."""
    def train(layer):
        for x, grad in batches(np.random.default_rng(3), 8, 4, 5, dtype):
            layer.zerograd()
            layer.forward(x)
            layer.backward(grad)
            layer.step()
        return layer.W, layer.momentum_W

    fused = train(LinearMap(8, 4, alpha=alpha, lr=0.05, rng=np.random.default_rng(4),
                            dtype=dtype))
    use_numpy_fallback(monkeypatch)
    plain = train(LinearMap(8, 4, alpha=alpha, lr=0.05, rng=np.random.default_rng(4),
                            dtype=dtype))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(fused, plain):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)


def test_a_momentum_free_step_keeps_momentum_readable_and_writable(update_path):
    """alpha 0 skips writing momentum_W; reading it still gives the applied gradient."""
    rng = np.random.default_rng(5)
    layer = LinearMap(6, 3, alpha=0.0, lr=0.1, rng=rng)
    (x1, g1), (x2, g2) = batches(rng, 6, 3, 2)
    for x, grad in ((x1, g1), (x2, g2)):
        layer.zerograd()
        layer.forward(x)
        layer.backward(grad)
        layer.step()
    layer.zerograd()  # momentum outlives the gradient
    np.testing.assert_allclose(layer.momentum_W, g2 @ x2.T, rtol=1e-12)
    layer.alpha = 0.5  # switching momentum on later starts from that gradient
    W, momentum = layer.W.copy(), layer.momentum_W.copy()
    layer.forward(x1)
    layer.backward(g1)
    layer.step()
    W, momentum = course_step(W, momentum, g1 @ x1.T, 0.5, 0.1)
    np.testing.assert_allclose(layer.momentum_W, momentum, rtol=1e-12)
    np.testing.assert_allclose(layer.W, W, rtol=1e-12)


@pytest.mark.parametrize("shape", [(6, 3), (6,), (1, 6), (3, 6, 1)])
def test_momentum_w_setter_rejects_another_shape(shape):
    layer = LinearMap(6, 3, alpha=0.5)
    before = layer.momentum_W
    with pytest.raises(ValueError, match=r"expected shape \(3, 6\), got " + re.escape(str(shape))):
        layer.momentum_W = np.ones(shape)
    assert layer.momentum_W is before


@pytest.mark.parametrize("shape", [(3,), (1, 3), (3, 2)])
def test_momentum_b_setter_rejects_another_shape_and_stores_a_copy(shape):
    layer = LinearMap(6, 3, alpha=0.5, lr=1.0, dtype=np.float32)
    with pytest.raises(ValueError, match=r"expected shape \(3, 1\), got " + re.escape(str(shape))):
        layer.momentum_b = np.ones(shape)
    value = np.full((3, 1), 2.0)
    layer.momentum_b = value
    value[:] = 99.0  # the layer holds a copy
    assert layer.momentum_b.dtype == np.float32
    layer.forward(np.zeros((6, 1)))
    layer.backward(np.zeros((3, 1)))
    layer.step()  # momentum 0.5 * 2 + gradient 0 = 1, and b -= 1.0 * 1
    np.testing.assert_array_equal(layer.momentum_b, 1.0)
    np.testing.assert_array_equal(layer.b, -1.0)


@pytest.mark.parametrize("shape", [(5,), (4, 2), (5, 2, 1)])
def test_forward_rejects_an_input_not_shaped_indim_by_batch(shape):
    """A 1-D x used to broadcast against b (outdim, 1) into an (outdim, outdim) output."""
    layer = LinearMap(5, 3)
    with pytest.raises(ValueError, match=r"expected x \(5, B\), got shape " + re.escape(str(shape))):
        layer.forward(np.ones(shape))
    assert layer.x is None


def test_momentum_w_setter_stores_a_c_ordered_copy_of_the_layers_dtype():
    rng = np.random.default_rng(6)
    layer = LinearMap(6, 3, alpha=0.0, lr=0.1, rng=rng, dtype=np.float32)
    (x, grad), = batches(rng, 6, 3, 1, np.float32)
    layer.forward(x)
    layer.backward(grad)
    layer.step()  # alpha 0: momentum_W is owed a product the setter must discard
    value = np.asfortranarray(rng.standard_normal((3, 6)))
    layer.momentum_W = value
    value[0, 0] = 99.0  # the layer holds a copy
    stored = layer.momentum_W
    assert stored.dtype == np.float32 and stored.flags.c_contiguous
    np.testing.assert_array_equal(stored[0, 1:], value[0, 1:].astype(np.float32))
    assert stored[0, 0] != 99.0


def test_blas_calls_refuse_what_they_cannot_do_in_place():
    x, grad = np.ones((4, 2), np.float32), np.ones((3, 2), np.float32)
    assert not blas.accumulate_outer(x, grad, 0.0, np.zeros((3, 4), np.float64))  # dtype
    assert not blas.accumulate_outer(x, grad, 0.0, np.zeros((4, 3), np.float32).T)  # layout
    assert not blas.subtract_scaled(np.zeros((3, 4), np.float16), 0.1,
                                    np.zeros((3, 4), np.float16))


@needs_blas(np.float32)
def test_blas_calls_compute_in_place():
    x, grad = np.ones((4, 2), np.float32), np.ones((3, 2), np.float32)
    out = np.full((3, 4), np.nan, np.float32)
    assert blas.accumulate_outer(x, grad, 0.0, out)  # beta 0 ignores NaN
    np.testing.assert_array_equal(out, np.full((3, 4), 2.0))
    assert blas.accumulate_outer(x, grad, 1.0, out, scale=-0.5)  # 2 - 0.5 * 2
    np.testing.assert_array_equal(out, np.full((3, 4), 1.0))
    assert blas.subtract_scaled(out, 0.25, np.full((3, 4), 2.0, np.float32))
    np.testing.assert_array_equal(out, np.full((3, 4), 0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, grad_shape, out_shape", [
    ((5, 4), (3, 4), (2, 2)),   # out too small: BLAS would write past it
    ((5, 4), (3, 2), (3, 5)),   # batches differ
    ((5, 4), (3, 4), (5, 3)),   # out transposed
    ((5,), (3, 4), (3, 5)),     # not a matrix
])
def test_accumulate_outer_rejects_mismatched_shapes(dtype, x_shape, grad_shape, out_shape):
    out = np.zeros(out_shape, dtype)
    with pytest.raises(ValueError, match=rf"got x \({x_shape[0]},.*out \({out_shape[0]}, "):
        blas.accumulate_outer(np.ones(x_shape, dtype), np.ones(grad_shape, dtype), 0.0, out)
    assert not out.any()


@pytest.mark.parametrize("vector_shape", [(3,), (1, 4), (4, 3)])
def test_subtract_scaled_rejects_other_shapes_instead_of_broadcasting(vector_shape):
    param = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"param \(3, 4\) and vector"):
        blas.subtract_scaled(param, 0.5, np.ones(vector_shape))
    np.testing.assert_array_equal(param, 1.0)


@pytest.mark.parametrize("alpha", [0.0, 0.9])
@pytest.mark.parametrize("grad_shape", [(3, 2), (3, 6), (4, 4), (3,)])
def test_backward_rejects_a_gradient_unlike_the_last_output(alpha, grad_shape):
    """Caught at backward, before step() would hand the pair to BLAS."""
    layer = LinearMap(5, 3, alpha=alpha, rng=np.random.default_rng(0))
    W = layer.W.copy()
    layer.forward(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"gradient \(.*\) does not match the output \(3, 4\)"):
        layer.backward(np.ones(grad_shape))
    layer.step()  # nothing was accumulated: the weights stay
    np.testing.assert_array_equal(layer.W, W)


def test_backward_before_any_forward_is_refused():
    with pytest.raises(ValueError, match="no forward"):
        LinearMap(5, 3).backward(np.ones((3, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_subnormals_zeroes_only_subnormals(dtype):
    info = np.finfo(dtype)
    ulp, tiny = info.smallest_subnormal, info.tiny
    values = np.array([[ulp, -4 * ulp, tiny / 2], [tiny, -tiny, 0.5]], dtype)
    flush_subnormals(values)
    np.testing.assert_array_equal(values, np.array([[0, 0, 0], [tiny, -tiny, 0.5]], dtype))
    integers = np.array([0, 1, -1])
    flush_subnormals(integers)  # not floats: left alone
    np.testing.assert_array_equal(integers, [0, 1, -1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_flushes_subnormal_momentum(update_path, dtype):
    """alpha 0.9 and zero gradients: 0.9 * 4 ulp rounds back to 4 ulp, so the four-ulp
    entries stay subnormal step after step until the flush; the normal one decays."""
    layer = mlp.LinearMap(3, 2, alpha=0.9, lr=0.001, dtype=dtype)
    tiny = np.finfo(dtype).tiny
    layer.momentum_W[...] = 4 * np.finfo(dtype).smallest_subnormal
    layer.momentum_W[0, 0] = 1.0
    x = np.zeros((3, 1), dtype)
    for step in range(1, LinearMap.FLUSH_EVERY + 1):
        layer.zerograd()
        layer.forward(x)
        layer.backward(np.zeros((2, 1), dtype))
        layer.step()
        subnormal = (layer.momentum_W != 0) & (np.abs(layer.momentum_W) < tiny)
        assert subnormal.sum() == (5 if step < LinearMap.FLUSH_EVERY else 0)
    assert layer.momentum_W[0, 0] == pytest.approx(0.9 ** LinearMap.FLUSH_EVERY, rel=1e-5)
