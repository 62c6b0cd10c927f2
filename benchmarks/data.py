"""What the benchmark trains on: the prepared dataset, or random images of its shape."""
from pathlib import Path

import numpy as np

from pipeline.data.prepared import PIXELS, Dataset, load_prepared

NUM_TRAIN, NUM_TEST, NUM_CLASSES = 6080, 1520, 12  # the course's Fall 2024 split


def random_dataset(num_train=NUM_TRAIN, num_test=NUM_TEST, seed=0):
    """Binary uint8 images (N, 11025) with labels cycling through every class.

    Values do not change the cost of dense GEMMs, so uniform bits stand in for the ink.
    """
    rng = np.random.default_rng(seed)

    def draw(count):
        images = rng.integers(0, 2, size=(count, PIXELS), dtype=np.uint8)
        return images, rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.int64)

    (train_x, train_y), (test_x, test_y) = draw(num_train), draw(num_test)
    names = tuple(f"class {label}" for label in range(NUM_CLASSES))
    return Dataset(train_x, train_y, test_x, test_y, names)


def load_data(path, batch_size, limit=None):
    """(Dataset, description): the prepared file when it exists, else random data.

    limit: keep only the first `limit` training and limit // 4 test images (--quick).
    """
    path = Path(path)
    if path.is_file():
        dataset, source = load_prepared(path), str(path)
    else:
        dataset, source = random_dataset(), "random binary images (no prepared file)"
    if limit:
        dataset = Dataset(dataset.train_x[:limit], dataset.train_y[:limit],
                          dataset.test_x[:limit // 4], dataset.test_y[:limit // 4],
                          dataset.class_names)
        source += f", first {limit} / {limit // 4} images"
    return dataset, source
