"""The training loop's contract, on tiny data: every example once per epoch in a fresh
order, evaluation in inference mode whatever the chunks, the first best epoch kept."""
import numpy as np
import pytest

import mlpcore as mlp
from pipeline.training import loop
from pipeline.training.curves import EpochLog
from pipeline.training.experiments import parse_experiment
from pipeline.training.loop import Split, evaluate, to_split, train_epoch
from tests.test_training import blobs, params_with


class Recorder:
    """A stand-in model that records which examples each minibatch held.

    x holds one example index per row (see split_of_indices), so a batch's x.T[0]
    names its examples.
    """

    def __init__(self, classes):
        self.classes, self.batches, self.steps = classes, [], 0

    def zerograd(self):
        pass

    def forward(self, x, train=True):
        self.batches.append(x[0].astype(int).tolist())
        return np.zeros((self.classes, x.shape[1]))

    def backward(self, grad, input_grad=True):
        pass

    def step(self):
        self.steps += 1


def split_of_indices(count, classes=3):
    return Split(np.arange(count, dtype=float)[:, None],
                 np.eye(classes)[np.arange(count) % classes].T)


@pytest.mark.parametrize("count, batch_size, steps", [(10, 4, 3), (12, 4, 3), (3, 8, 1)])
def test_an_epoch_sees_every_example_once_including_the_last_partial_batch(count, batch_size,
                                                                           steps):
    model = Recorder(3)
    assert train_epoch(model, split_of_indices(count), batch_size, np.random.default_rng(0))
    assert model.steps == steps
    assert [len(batch) for batch in model.batches[:-1]] == [batch_size] * (steps - 1)
    assert sorted(sum(model.batches, [])) == list(range(count))


def test_every_epoch_draws_a_fresh_order():
    model, rng = Recorder(3), np.random.default_rng(0)
    train_epoch(model, split_of_indices(40), 40, rng)
    train_epoch(model, split_of_indices(40), 40, rng)
    first, second = model.batches
    assert first != list(range(40)) and second != first
    assert sorted(first) == sorted(second) == list(range(40))


def dropout_model_and_split():
    data = blobs()
    model = mlp.MLP(data.test_x.shape[1], 3, [16], dropout_probability=0.3,
                    rng=np.random.default_rng(0))
    return model, to_split(data.test_x, data.test_y, 3, np.float64)


def test_evaluation_is_in_inference_mode_and_draws_nothing():
    model, split = dropout_model_and_split()
    logits = model.forward(split.x.T, train=False)
    expected = mlp.SoftmaxCrossEntropyLoss().forward(logits, split.onehot)
    first, second = evaluate(model, split), evaluate(model, split)
    assert first == second
    assert first[0] == pytest.approx(float(expected), rel=1e-12)
    assert first[1] == np.mean(logits.argmax(axis=0) == split.onehot.argmax(axis=0))


def test_evaluation_does_not_depend_on_the_chunk_size():
    model, split = dropout_model_and_split()  # 60 test examples
    whole = evaluate(model, split, chunk=len(split.x))
    for chunk in (7, 30, 59):
        loss, accuracy = evaluate(model, split, chunk=chunk)
        assert accuracy == whole[1]
        assert loss == pytest.approx(whole[0], rel=1e-12)


def test_the_best_snapshot_is_the_first_epoch_of_highest_test_accuracy(monkeypatch):
    accuracies = iter([0.5, 0.7, 0.7, 0.6])

    def run_epoch(run, batch_size, epoch=0):
        return EpochLog(epoch, 1.0, 0.5, 1.0, next(accuracies))

    monkeypatch.setattr(loop, "run_epoch", run_epoch)
    config = parse_experiment(params_with({"epochs": 4}), "tiny").config
    result = loop.train(config, blobs())
    assert result.best.log.epoch == 2
    assert [log.epoch for log in result.curve] == [1, 2, 3, 4]


def test_a_non_finite_test_loss_alone_is_a_divergence(monkeypatch):
    real_evaluate = loop.evaluate
    calls = iter(range(100))

    def evaluate(model, split, chunk=loop.EVAL_CHUNK):
        loss, accuracy = real_evaluate(model, split, chunk)
        return (np.inf if next(calls) == 3 else loss), accuracy  # epoch 2's test split

    monkeypatch.setattr(loop, "evaluate", evaluate)
    config = parse_experiment(params_with({"epochs": 4}), "tiny").config
    result = loop.train(config, blobs())
    assert (result.status, result.diverged_at_epoch, len(result.curve)) == ("diverged", 2, 1)
