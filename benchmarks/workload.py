"""What the benchmark trains: the homework's networks on data of the real shape.

The mlpcore epoch is the pipeline's own code (pipeline.training.loop), so the
benchmark measures exactly what `dvc repro` runs.
"""
import statistics
import time
from pathlib import Path

import numpy as np

from pipeline.training.experiments import RunConfig
from pipeline.data.prepared import PIXELS, Dataset, load_prepared
from pipeline.training.loop import build_model, evaluate, to_split, train_epoch

ROOT = Path(__file__).resolve().parents[1]
PREPARED = ROOT / "data/prepared/omniglot_12.npz"
NETWORKS = {"1x60": [60], "1x150": [150], "2x60": [60, 60], "2x150": [150, 150]}
DTYPES = ("float32", "float64")
NUM_TRAIN, NUM_TEST, NUM_CLASSES = 6660, 1660, 12  # the course's split


def run_config(hidden, dtype, batch_size, threads, epochs=1):
    """The homework's heaviest settings (momentum and dropout on) for `hidden`."""
    return RunConfig(hidden=list(hidden), momentum=0.4, dropout=0.2, lr=0.001, epochs=epochs,
                     batch_size=batch_size, init="xavier_uniform", dtype=dtype, seed=0,
                     threads=threads)


def random_dataset(seed=0):
    """Binary uint8 images of the real shape: train (6660, 11025), test (1660, 11025).

    Values do not change the cost of dense GEMMs, so uniform bits stand in for
    the ink; labels cycle through every class, as load_prepared requires.
    """
    rng = np.random.default_rng(seed)

    def draw(count):
        images = rng.integers(0, 2, size=(count, PIXELS), dtype=np.uint8)  # no float temporary
        labels = rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.int64)
        return images, labels

    (train_x, train_y), (test_x, test_y) = draw(NUM_TRAIN), draw(NUM_TEST)
    return Dataset(train_x, train_y, test_x, test_y, NUM_CLASSES)


def load_dataset(path):
    """(Dataset, source): the prepared file when it exists, else random data of its shape."""
    path = Path(path)
    if path.is_file():
        return load_prepared(path), str(path)
    return random_dataset(), "random binary (prepared file absent; `dvc repro prepare`)"


def splits(dataset, dtype):
    """(train Split, test Split) in `dtype`, converted once as pipeline.training.train does."""
    return tuple(to_split(x, y, dataset.num_classes, np.dtype(dtype))
                 for x, y in ((dataset.train_x, dataset.train_y),
                              (dataset.test_x, dataset.test_y)))


def model_and_order_rng(config, num_inputs, num_classes):
    """A fresh model and its shuffling stream, seeded as pipeline.training.train seeds them."""
    model_rng, order_rng = (np.random.default_rng(s)
                            for s in np.random.SeedSequence(config.seed).spawn(2))
    return build_model(config, num_inputs, num_classes, model_rng), order_rng


def mlpcore_epoch(model, train_split, test_split, batch_size, order_rng):
    """One pipeline epoch: shuffled minibatch SGD, then inference over train and test."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # as train() does
        if not train_epoch(model, train_split, batch_size, order_rng):
            raise FloatingPointError("the benchmark's training diverged")
        evaluate(model, train_split)
        evaluate(model, test_split)


def time_repeats(run_once, repeats, warmup=1):
    """Seconds of each of `repeats` calls of run_once(), after `warmup` untimed calls."""
    for _ in range(warmup):
        run_once()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        seconds.append(time.perf_counter() - start)
    return seconds


def time_mlpcore(config, train_split, test_split, repeats):
    """Seconds per mlpcore epoch, `repeats` samples after one warm-up epoch."""
    model, order_rng = model_and_order_rng(config, train_split.x.shape[1],
                                           train_split.onehot.shape[0])
    return time_repeats(
        lambda: mlpcore_epoch(model, train_split, test_split, config.batch_size, order_rng),
        repeats)


def summary(seconds):
    """{"median", "min", "max", "samples"} of a list of timings; None for no samples."""
    if not seconds:
        return None
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "samples": [round(s, 6) for s in seconds]}


def load_seconds(path, repeats):
    """Seconds of each of `repeats` load_prepared(path) calls (the first warms the page cache)."""
    return time_repeats(lambda: load_prepared(path), repeats)
