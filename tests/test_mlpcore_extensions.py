"""What mlpcore adds to the template: any depth, init schemes, injected RNG, float32, npz."""
import io

import numpy as np
import pytest

import mlpcore as mlp


def one_step(model, x, onehot):
    loss = mlp.SoftmaxCrossEntropyLoss()
    model.zerograd()
    value = loss.forward(model.forward(x, train=True), onehot)
    model.backward(loss.backward(), input_grad=False)
    model.step()
    return value


def test_float32_end_to_end_without_upcasts():
    rng = np.random.default_rng(0)
    model = mlp.MLP(10, 3, [6, 5], alpha=0.4, dropout_probability=0.2,
                    rng=rng, dtype=np.float32)
    x = rng.integers(0, 2, (10, 4)).astype(np.float32)
    onehot = mlp.labels2onehot(rng.integers(0, 3, 4), 3).T.astype(np.float32)
    value = one_step(model, x, onehot)
    assert value.dtype == np.float32
    for name, param, grad in model.parameters():
        assert param.dtype == grad.dtype == np.float32, name
    for linear in model.linears:
        assert linear.momentum_W.dtype == linear.momentum_b.dtype == np.float32
    assert model.forward(x, train=False).dtype == np.float32
    assert model.linears[0].x is x  # float32 input of the right dtype is not copied


def test_float32_and_float64_agree_closely():
    x = np.random.default_rng(1).integers(0, 2, (10, 6))
    onehot = mlp.labels2onehot(np.arange(6) % 3, 3).T
    outputs = []
    for dtype in (np.float32, np.float64):
        model = mlp.MLP(10, 3, [8], dropout_probability=0.3, rng=np.random.default_rng(2),
                        dtype=dtype)
        for _ in range(3):
            one_step(model, x, onehot)
        outputs.append(model.forward(x, train=False))
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)


def test_injected_generator_leaves_global_state_alone():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    model = mlp.MLP(6, 2, [4, 4], dropout_probability=0.5, rng=np.random.default_rng(1))
    model.forward(np.ones((6, 3)), train=True)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_same_generator_seed_gives_identical_models_and_masks():
    runs = []
    for _ in range(2):
        model = mlp.MLP(6, 2, [4, 4], dropout_probability=0.5, rng=np.random.default_rng(3))
        runs.append((model.forward(np.ones((6, 3)), train=True), model.getWs()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_injected_generator_masks_are_those_of_uniform_draws():
    """The course draws u = uniform(0, 1, shape) and keeps u > p; a Generator's own
    rng.random gives those values, and leaves the stream where uniform would."""
    x = np.random.default_rng(0).standard_normal((7, 5))
    relu, twin = mlp.ReLU(0.3, rng=np.random.default_rng(4)), np.random.default_rng(4)
    for _ in range(3):
        out = relu.forward(x, train=True)
        mask = twin.uniform(0, 1, x.shape) > 0.3
        np.testing.assert_array_equal(out, np.maximum(x, 0) * mask)
    assert relu.rng.random() == twin.random()


def test_accuracy_is_that_of_the_last_forward_whenever_it_is_read():
    loss = mlp.SoftmaxCrossEntropyLoss()
    labels = np.eye(3)[:, [0, 1, 2, 0]]
    right = 5 * labels                      # every column right
    half = 5 * np.eye(3)[:, [0, 1, 0, 1]]   # columns 0 and 1 right
    loss.forward(right, labels)
    loss.forward(half, labels)              # never read in between: only this one counts
    assert loss.getAccu() == 0.5 and loss.accuracy == 0.5
    loss.forward(right, labels)
    assert loss.getAccu() == 1.0
    assert loss.getAccu() == 1.0            # a second read gives the same


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_general_mlp_has_the_requested_depth(depth):
    model = mlp.MLP(7, 3, [5] * depth)
    assert [w.shape for w in model.getWs()] == [(5, 7)] + [(5, 5)] * (depth - 1) + [(3, 5)]
    assert len(model.relus) == depth


def test_course_classes_are_the_general_mlp():
    assert isinstance(mlp.SingleLayerMLP(4, 2, 3), mlp.MLP)
    assert len(mlp.TwoLayerMLP(4, 2, [3, 3]).linears) == 3
    with pytest.raises(ValueError, match="hiddenlayers must hold 2 sizes"):
        mlp.TwoLayerMLP(4, 2, [3])
    with pytest.raises(ValueError, match="at least one hidden layer"):
        mlp.MLP(4, 2, [])


def test_init_schemes():
    rng = np.random.default_rng(0)
    he = mlp.MLP(400, 10, [300], init="he_uniform", rng=rng).getWs()[0]
    xavier = mlp.MLP(400, 10, [300], rng=rng).getWs()[0]
    normal = mlp.MLP(400, 10, [300], init="he_normal", rng=rng).getWs()[0]
    assert np.abs(he).max() <= np.sqrt(6 / 400) and np.abs(he).max() > 0.95 * np.sqrt(6 / 400)
    assert np.abs(xavier).max() <= np.sqrt(6 / 700)
    assert normal.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    with pytest.raises(ValueError, match="unknown weight init 'glorot'"):
        mlp.MLP(4, 2, [3], init="glorot")


def test_params_roundtrip_through_npz():
    model = mlp.MLP(6, 2, [4, 3], rng=np.random.default_rng(0), dtype=np.float32)
    buffer = io.BytesIO()
    mlp.save_params(buffer, model)
    buffer.seek(0)
    Ws, bs = mlp.load_params(buffer)
    clone = mlp.MLP(6, 2, [4, 3], dtype=np.float32)
    clone.loadparams(Ws, bs)
    x = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_array_equal(clone.forward(x, train=False), model.forward(x, train=False))


def test_load_params_rejects_foreign_npz(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, W0=np.ones((2, 2)), weights=np.ones(3))
    with pytest.raises(ValueError, match="odd.npz: expected arrays"):
        mlp.load_params(path)
    np.savez(path, W0=np.array([object()], dtype=object), b0=np.ones(1))
    with pytest.raises(ValueError, match="allow_pickle"):
        mlp.load_params(path)


def test_short_training_run_separates_a_simple_problem():
    """Four Gaussian blobs in 20 dimensions: a 1x32 MLP must classify >= 97% after 30 epochs."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 20)) * 3
    labels = rng.integers(0, 4, 800)
    x = (centres[labels] + rng.standard_normal((800, 20))).T
    onehot = mlp.labels2onehot(labels, 4).T
    model = mlp.SingleLayerMLP(20, 4, 32, alpha=0.5, lr=0.05, rng=rng)
    for _ in range(30):
        for start in range(0, 800, 32):
            batch = slice(start, start + 32)
            one_step(model, x[:, batch], onehot[:, batch])
    loss = mlp.SoftmaxCrossEntropyLoss()
    loss.forward(model.forward(x, train=False), onehot)
    assert loss.getAccu() >= 0.97

