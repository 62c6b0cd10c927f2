"""mlpcore against the course template's API and semantics."""
import re

import numpy as np
import pytest

import mlpcore as mlp
from tests import course_reference as ref

RTOL = 1e-7


def test_template_names_import_from_the_package():
    from mlpcore import (LinearMap, ReLU, SingleLayerMLP, SoftmaxCrossEntropyLoss,  # noqa: F401
                         Transform, TwoLayerMLP, labels2onehot, random_weight_init,
                         zeros_bias_init)
    assert issubclass(LinearMap, Transform) and issubclass(ReLU, Transform)
    assert issubclass(SingleLayerMLP, Transform) and issubclass(TwoLayerMLP, Transform)


def test_random_weight_init_is_the_courses_uniform_draw():
    np.random.seed(3)
    w = mlp.random_weight_init(20, 5)
    np.random.seed(3)
    bound = np.sqrt(6) / np.sqrt(25)
    np.testing.assert_array_equal(w, np.random.uniform(-bound, bound, (5, 20)))
    assert w.shape == (5, 20) and np.abs(w).max() <= bound


def test_zeros_bias_init_and_labels2onehot():
    assert mlp.zeros_bias_init(4).shape == (4, 1) and not mlp.zeros_bias_init(4).any()
    onehot = mlp.labels2onehot(np.array([0, 11, 3]))
    assert onehot.shape == (3, 12)
    np.testing.assert_array_equal(onehot.argmax(axis=1), [0, 11, 3])
    np.testing.assert_array_equal(onehot.sum(axis=1), [1, 1, 1])


@pytest.mark.parametrize("labels", [np.array([0, 12]), np.array([-1]), np.array([0.0, 1.0])])
def test_labels2onehot_rejects_bad_labels(labels):
    with pytest.raises(ValueError, match="labels"):
        mlp.labels2onehot(labels)


def test_linear_map_forward_backward_shapes_and_values():
    layer = mlp.LinearMap(4, 3)
    layer.loadparams(np.arange(12.0).reshape(3, 4), np.array([[1.0], [2.0], [3.0]]))
    x = np.ones((4, 2))
    np.testing.assert_array_equal(layer.forward(x), [[7, 7], [24, 24], [41, 41]])
    grad = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(layer.backward(grad), layer.getW().T @ grad)
    np.testing.assert_array_equal(layer.dW, grad @ x.T)
    np.testing.assert_array_equal(layer.db, [[1], [1], [2]])


def test_gradients_accumulate_until_zerograd():
    rng = np.random.default_rng(0)
    layer = mlp.LinearMap(4, 3, rng=rng)
    x1, x2 = rng.standard_normal((4, 5)), rng.standard_normal((4, 2))
    g1, g2 = rng.standard_normal((3, 5)), rng.standard_normal((3, 2))
    layer.forward(x1)
    layer.backward(g1)
    layer.forward(x2)
    layer.backward(g2)
    np.testing.assert_allclose(layer.dW, g1 @ x1.T + g2 @ x2.T, rtol=RTOL)
    np.testing.assert_allclose(layer.db, g1.sum(1, keepdims=True) + g2.sum(1, keepdims=True))
    layer.zerograd()
    assert not layer.dW.any() and not layer.db.any()


def test_momentum_over_several_steps_by_hand():
    """W = 2, constant gradient 1, alpha 0.5, lr 0.1: momentum 1, 1.5, 1.75 -> W 1.9, 1.75, 1.575."""
    layer = mlp.LinearMap(1, 1, alpha=0.5, lr=0.1)
    layer.loadparams(np.array([[2.0]]), np.array([[0.0]]))
    for expected_momentum, expected_w in [(1.0, 1.9), (1.5, 1.75), (1.75, 1.575)]:
        layer.zerograd()
        layer.forward(np.array([[1.0]]))
        layer.backward(np.array([[1.0]]))
        layer.step()
        assert layer.momentum_W[0, 0] == pytest.approx(expected_momentum, rel=1e-12)
        assert layer.getW()[0, 0] == pytest.approx(expected_w, rel=1e-12)
        assert layer.getb()[0, 0] == pytest.approx(expected_w - 2.0, rel=1e-12)


def test_zerograd_keeps_momentum():
    layer = mlp.LinearMap(2, 2, alpha=0.9)
    layer.forward(np.ones((2, 1)))
    layer.backward(np.ones((2, 1)))
    layer.step()
    layer.zerograd()
    assert layer.momentum_W.any() and not layer.dW.any()


def test_backward_uses_the_current_weights_after_a_step():
    layer = mlp.LinearMap(3, 2, lr=0.5)
    x, grad = np.ones((3, 1)), np.ones((2, 1))
    layer.forward(x)
    layer.backward(grad)
    layer.step()
    np.testing.assert_array_equal(layer.backward(grad), layer.getW().T @ grad)


class CountingUniform:
    """Stands in for np.random.uniform and records every call."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def __call__(self, low, high, size):
        self.calls.append((low, high, size))
        return self.real(low, high, size)


def test_relu_dropout_draws_once_keeps_u_above_p_and_does_not_rescale(monkeypatch):
    counter = CountingUniform(np.random.uniform)
    monkeypatch.setattr(np.random, "uniform", counter)
    x = np.array([[1.0, -2.0, 3.0, 0.0], [4.0, 5.0, -6.0, 7.0]])
    relu = mlp.ReLU(0.4)
    np.random.seed(11)
    out = relu.forward(x, train=True)
    assert counter.calls == [(0, 1, x.shape)]
    np.random.seed(11)
    mask = np.random.uniform(0, 1, x.shape) > 0.4
    np.testing.assert_array_equal(out, np.maximum(x, 0) * mask)
    grad = np.arange(8.0).reshape(2, 4) + 1
    np.testing.assert_array_equal(relu.backward(grad), grad * mask * (x > 0))
    assert relu.backward(grad)[0, 3] == 0  # derivative at 0 is 0


def test_relu_inference_scales_by_keep_probability_and_draws_nothing(monkeypatch):
    counter = CountingUniform(np.random.uniform)
    monkeypatch.setattr(np.random, "uniform", counter)
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    out = mlp.ReLU(0.25).forward(x, train=False)
    assert counter.calls == []
    np.testing.assert_array_equal(out, 0.75 * np.maximum(x, 0))


def test_softmax_cross_entropy_value_gradient_accuracy_and_stability():
    logits = np.array([[2.0, 0.0, 1000.0], [1.0, 3.0, 0.0], [0.0, 0.0, -1000.0]])
    labels = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    loss = mlp.SoftmaxCrossEntropyLoss()
    value = loss.forward(logits, labels)
    first_two = logits[:, :2]
    probs = np.exp(first_two) / np.exp(first_two).sum(axis=0)
    expected = (-np.log(probs[0, 0]) - np.log(probs[1, 1]) + 1000.0) / 3
    assert value == pytest.approx(expected, rel=1e-12)
    assert loss.getAccu() == pytest.approx(2 / 3)
    grad = loss.backward()
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad[:, :2], (probs - labels[:, :2]) / 3, rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.4])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("hidden", [[9], [9, 7]])
def test_course_networks_match_the_reference_under_a_global_seed(hidden, dropout, alpha):
    """Same seed, same weights, same masks, same steps: equal to rtol 1e-7."""
    indim, classes, lr = 12, 4, 0.05
    data = np.random.default_rng(1)
    batches = [(data.integers(0, 2, (indim, 5)).astype(float),
                mlp.labels2onehot(data.integers(0, classes, 5), classes).T) for _ in range(4)]

    np.random.seed(123)
    ref_Ws, ref_bs = ref.init_params([indim, *hidden, classes])
    ref_losses, ref_Ws, ref_bs = ref.train_steps(ref_Ws, ref_bs, batches, alpha, lr, dropout)

    np.random.seed(123)
    if len(hidden) == 1:
        model = mlp.SingleLayerMLP(indim, classes, hidden[0], alpha, dropout, lr)
    else:
        model = mlp.TwoLayerMLP(indim, classes, hidden, alpha, dropout, lr)
    loss, losses = mlp.SoftmaxCrossEntropyLoss(), []
    for x, onehot in batches:
        model.zerograd()
        losses.append(loss.forward(model.forward(x, train=True), onehot))
        model.backward(loss.backward())
        model.step()
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL)
    for got, want in zip(model.getWs() + model.getbs(), ref_Ws + ref_bs):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


def test_inference_matches_the_reference():
    np.random.seed(5)
    model = mlp.TwoLayerMLP(6, 3, [4, 5], dropout_probability=0.2)
    x = np.random.default_rng(2).standard_normal((6, 8))
    expected, _ = ref.forward(model.getWs(), model.getbs(), x, 0.2, train=False)
    np.testing.assert_allclose(model.forward(x, train=False), expected, rtol=RTOL)


def test_integer_inputs_are_cast_on_entry():
    np.random.seed(0)
    model = mlp.SingleLayerMLP(5, 3, 4)
    ints = np.arange(10).reshape(5, 2)
    np.testing.assert_array_equal(model.forward(ints, train=False),
                                  model.forward(ints.astype(float), train=False))
    assert model.linears[0].x.dtype == np.float64
    assert mlp.ReLU().forward(np.array([[-1, 2]])).dtype == np.float64
    loss = mlp.SoftmaxCrossEntropyLoss()
    assert np.isfinite(loss.forward(np.array([[1], [0]]), np.array([[1], [0]])))


def test_model_backward_can_skip_the_first_layers_input_gradient():
    rng = np.random.default_rng(4)
    x, grad = rng.standard_normal((8, 3)), rng.standard_normal((2, 3))
    models = [mlp.MLP(8, 2, [5, 4], rng=np.random.default_rng(9)) for _ in range(2)]
    for model in models:
        model.forward(x, train=False)
    full = models[0].backward(grad)
    assert full.shape == (8, 3)
    assert models[1].backward(grad, input_grad=False) is None
    for (_, _, a), (_, _, b) in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_array_equal(a, b)
    layer = models[0].linears[0]
    np.testing.assert_array_equal(layer.backward(np.ones((5, 3))), layer.getW().T @ np.ones((5, 3)))


def test_loadparams_getters_and_shape_errors():
    model = mlp.TwoLayerMLP(4, 2, [3, 3])
    Ws = [np.full((3, 4), 1.0), np.full((3, 3), 2.0), np.full((2, 3), 3.0)]
    bs = [np.full((3, 1), 0.1), np.full((3, 1), 0.2), np.full((2, 1), 0.3)]
    model.loadparams(Ws, bs)
    for got, want in zip(model.getWs() + model.getbs(), Ws + bs):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"expected W \(3, 4\)"):
        model.loadparams([np.ones((4, 4)), Ws[1], Ws[2]], bs)
    with pytest.raises(ValueError, match="expected 3 weights"):
        model.loadparams(Ws[:2], bs[:2])


@pytest.mark.parametrize("bias_shape", [(2, 3), (1, 6), (6, 1, 1), (5, 1), (7,)])
def test_loadparams_rejects_a_bias_of_another_shape(bias_shape):
    layer = mlp.LinearMap(4, 6)
    expected = r"expected W \(6, 4\) and b \(6, 1\).*b " + re.escape(str(bias_shape))
    with pytest.raises(ValueError, match=expected):
        layer.loadparams(np.ones((6, 4)), np.ones(bias_shape))


def test_loadparams_accepts_a_flat_bias():
    layer = mlp.LinearMap(4, 3)
    layer.loadparams(np.ones((3, 4)), [1, 2, 3])
    np.testing.assert_array_equal(layer.getb(), [[1.0], [2.0], [3.0]])
