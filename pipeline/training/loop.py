"""Minibatch SGD for one experiment, with a full evaluation after every epoch.

Data arrive as the prepared dataset: images (N, 11025), labels (N,). The model
sees column-stacked batches: x (11025, B), one-hot labels (num_classes, B).
"""
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

import numpy as np

import mlpcore as mlp

from pipeline.training.curves import EpochLog

EVAL_CHUNK = 2048  # images per inference pass: large enough for efficient GEMMs


class Snapshot(NamedTuple):
    """Copies of a model's weights after the epoch `log`; mlp.save_params accepts it.

    Ws: [(out, in)], bs: [(out, 1)], first layer first. log None: before any epoch.
    """
    log: Optional[EpochLog]
    Ws: list
    bs: list

    @classmethod
    def of(cls, model, log):
        return cls(log, [w.copy() for w in model.getWs()], [b.copy() for b in model.getbs()])

    def getWs(self):
        return self.Ws

    def getbs(self):
        return self.bs


@dataclass
class TrainingResult:
    model: mlp.MLP
    curve: list = field(default_factory=list)  # EpochLog per finished epoch
    status: str = "completed"                  # or "diverged"
    diverged_at_epoch: Optional[int] = None
    best: Optional[Snapshot] = None            # the weights at the first best test accuracy
    test: Optional["Split"] = None             # the test split as the model saw it


class Split(NamedTuple):
    """One split in the model's dtype: x (N, 11025) C-ordered, onehot (num_classes, N)."""
    x: np.ndarray
    onehot: np.ndarray


def to_split(images, labels, num_classes, dtype):
    """images (N, 11025), labels (N,) -> Split; the only copy of the images made for training."""
    onehot = np.zeros((num_classes, len(labels)), dtype=dtype)
    onehot[labels, np.arange(len(labels))] = 1
    return Split(np.ascontiguousarray(images, dtype=dtype), onehot)


def build_model(config, num_inputs, num_classes, rng):
    return mlp.MLP(num_inputs, num_classes, config.hidden, alpha=config.momentum,
                   dropout_probability=config.dropout, lr=config.lr, init=config.init,
                   rng=rng, dtype=np.dtype(config.dtype))


def inference_chunks(model, split, chunk=EVAL_CHUNK):
    """Yield (logits, onehot) for `chunk` examples at a time, in inference mode (no dropout).

    logits: (num_classes, n), onehot: (num_classes, n), n <= chunk, in split order.
    The model reads split.x[start:stop].T, a view: no (11025, N) copy is made.
    """
    count = len(split.x)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        yield model.forward(split.x[start:stop].T, train=False), split.onehot[:, start:stop]


def evaluate(model, split, chunk=EVAL_CHUNK):
    """Mean loss and accuracy over a whole split in inference mode (no dropout).

    The accuracy is counted in integers, so it is exactly the confusion matrix's
    trace over N whatever the chunks.
    """
    loss, total_loss, correct = mlp.SoftmaxCrossEntropyLoss(), 0.0, 0
    for logits, onehot in inference_chunks(model, split, chunk):
        total_loss += float(loss.forward(logits, onehot)) * onehot.shape[1]
        correct += int(np.count_nonzero(logits.argmax(axis=0) == onehot.argmax(axis=0)))
    count = len(split.x)
    return total_loss / count, correct / count


def train_epoch(model, split, batch_size, rng):
    """One pass over `split` in a fresh random order; False as soon as a loss is not finite."""
    loss = mlp.SoftmaxCrossEntropyLoss()
    order = rng.permutation(len(split.x))
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        model.zerograd()
        # The batch's one copy: x[batch] (B, 11025), seen as (11025, B) through .T.
        logits = model.forward(split.x[batch].T, train=True)
        if not np.isfinite(loss.forward(logits, split.onehot[:, batch])):
            return False
        model.backward(loss.backward(), input_grad=False)
        model.step()
    return True


class Run(NamedTuple):
    """What one run trains: the seeded model, both splits and the example-order stream."""
    model: mlp.MLP
    train: Split
    test: Split
    order_rng: np.random.Generator


def start_run(config, dataset):
    """The splits in the model's dtype and the model, all randomness from config.seed.

    One stream initializes the model and draws its dropout masks, another
    shuffles the examples.
    """
    dtype = np.dtype(config.dtype)
    train_split = to_split(dataset.train_x, dataset.train_y, dataset.num_classes, dtype)
    test_split = to_split(dataset.test_x, dataset.test_y, dataset.num_classes, dtype)
    model_rng, order_rng = (np.random.default_rng(s)
                            for s in np.random.SeedSequence(config.seed).spawn(2))
    model = build_model(config, train_split.x.shape[1], dataset.num_classes, model_rng)
    return Run(model, train_split, test_split, order_rng)


def run_epoch(run, batch_size, epoch=0):
    """One epoch exactly as train() runs it (the benchmark times this very function).

    Shuffled minibatch SGD over run.train, then inference over both splits.
    Returns the EpochLog, or None as soon as a loss is not finite.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is checked
        if not train_epoch(run.model, run.train, batch_size, run.order_rng):
            return None
        log = EpochLog(epoch, *evaluate(run.model, run.train), *evaluate(run.model, run.test))
    return log if np.isfinite([log.train_loss, log.test_loss]).all() else None


def train(config, dataset, on_epoch: Optional[Callable[[EpochLog], None]] = None,
          on_ready: Optional[Callable[[], None]] = None):
    """Train one configured network on a prepared dataset (see start_run for the seeding).

    Stops early, with status "diverged", when a loss stops being finite; result.model
    then holds the weights after the last finished epoch (the initial ones if none
    finished), not the diverging epoch's. result.best keeps a copy of the weights
    after the first epoch of highest test accuracy (metrics' best_epoch). on_ready is
    called once the splits and model are built, just before the first epoch; on_epoch
    after every finished epoch.
    """
    run = start_run(config, dataset)
    last = Snapshot.of(run.model, None)  # the initial weights, until an epoch finishes
    if on_ready:
        on_ready()
    result = TrainingResult(run.model, test=run.test)
    for epoch in range(1, config.epochs + 1):
        log = run_epoch(run, config.batch_size, epoch)
        if log is None:
            result.status, result.diverged_at_epoch = "diverged", epoch
            # The diverging epoch's steps left junk weights; the final model is the one
            # the final metrics describe: after the last finished epoch.
            run.model.loadparams(last.Ws, last.bs)
            break
        last = Snapshot.of(run.model, log)
        if result.best is None or log.test_accuracy > result.best.log.test_accuracy:
            result.best = last
        result.curve.append(log)
        if on_epoch:
            on_epoch(log)
    return result
