"""Every module's backward against centred numerical differences (float64, tiny shapes)."""
import numpy as np
import pytest

import mlpcore as mlp
from mlpcore.gradcheck import gradient_errors, numerical_gradient, relative_error

TOLERANCE = 1e-6


def away_from_zero(shape, seed):
    """Random inputs with |x| >= 0.1, so no ReLU kink sits within eps of an entry."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1, 1], shape) * rng.uniform(0.1, 1.0, shape)


def reseeded(module, relus, seed=7):
    """A deterministic forward: the same dropout masks on every call."""
    def forward(x):
        generator = np.random.default_rng(seed)
        for relu in relus:
            relu.rng = generator
        return module.forward(x)
    return forward


def test_linear_map():
    layer = mlp.LinearMap(5, 3, rng=np.random.default_rng(0))
    layer.b[:] = np.random.default_rng(1).standard_normal(layer.b.shape)
    errors = gradient_errors(layer, away_from_zero((5, 4), 2))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_relu_with_fixed_dropout_mask(dropout):
    relu = mlp.ReLU(dropout)
    errors = gradient_errors(relu, away_from_zero((6, 5), 3), forward=reseeded(relu, [relu]))
    assert errors["x"] < TOLERANCE, errors


@pytest.mark.parametrize("dropout", [0.0, 0.25, 0.5])
def test_relu_in_inference_mode(dropout):
    """Inference outputs (1 - p) * relu(x); backward must carry the same factor."""
    relu = mlp.ReLU(dropout)
    errors = gradient_errors(relu, away_from_zero((6, 5), 11),
                             forward=lambda x: relu.forward(x, train=False))
    assert errors["x"] < TOLERANCE, errors


def test_relu_backward_follows_the_mode_of_the_last_forward():
    relu, x = mlp.ReLU(0.5, rng=np.random.default_rng(0)), away_from_zero((4, 3), 12)
    relu.forward(x, train=False)
    relu.forward(x, train=True)  # a training forward after an inference one: no factor
    np.testing.assert_array_equal(relu.backward(np.ones_like(x)), relu.gate)


def test_softmax_cross_entropy():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((12, 6))
    labels = mlp.labels2onehot(rng.integers(0, 12, 6)).T
    loss = mlp.SoftmaxCrossEntropyLoss()
    loss.forward(logits, labels)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(logits, labels), logits)
    assert relative_error(analytic, numeric) < TOLERANCE


def with_random_biases(model, seed=6):
    """Nonzero biases: with zero biases a sample whose hidden units are all dead puts the
    next layer's pre-activation exactly on the ReLU kink, where no derivative exists."""
    rng = np.random.default_rng(seed)
    for linear in model.linears:
        linear.b[:] = rng.uniform(0.1, 0.5, linear.b.shape)
    return model


@pytest.mark.parametrize("hidden", [[4], [5, 4], [4, 3, 5]])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_mlp_of_depth_one_to_three(hidden, dropout):
    model = with_random_biases(
        mlp.MLP(6, 3, hidden, dropout_probability=dropout, rng=np.random.default_rng(5)))
    errors = gradient_errors(model, away_from_zero((6, 4), 8),
                             forward=reseeded(model, model.relus))
    assert len(errors) == 1 + 2 * (len(hidden) + 1)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("dropout", [0.2, 0.5])
def test_mlp_in_inference_mode(dropout):
    model = with_random_biases(
        mlp.MLP(6, 3, [5, 4], dropout_probability=dropout, rng=np.random.default_rng(13)))
    errors = gradient_errors(model, away_from_zero((6, 4), 14),
                             forward=lambda x: model.forward(x, train=False))
    assert max(errors.values()) < TOLERANCE, errors


def test_loss_through_model_end_to_end():
    """The chain the training loop runs: model, then loss, then backward."""
    rng = np.random.default_rng(9)
    model = with_random_biases(mlp.TwoLayerMLP(7, 4, [5, 5], rng=rng))
    x = away_from_zero((7, 6), 10)
    labels = mlp.labels2onehot(rng.integers(0, 4, 6), num_classes=4).T
    loss = mlp.SoftmaxCrossEntropyLoss()

    def scalar():
        return loss.forward(model.forward(x, train=False), labels)

    model.zerograd()
    scalar()
    model.backward(loss.backward(), input_grad=False)
    for name, value, grad in model.parameters():
        assert relative_error(grad, numerical_gradient(scalar, value)) < TOLERANCE, name
