"""The prepared dataset: the contract between the data stages and training.

Stored as an uncompressed npz (plain arrays, no pickle, pipeline/data/npz_files.py), so
it loads in a fraction of a second and the same arrays always give the same bytes.
The class names (alphabets) travel with the images.
"""
from dataclasses import dataclass

import numpy as np

from pipeline.data.npz_files import NpzError, read_npz, write_npz

IMAGE_SIDE = 105
PIXELS = IMAGE_SIDE * IMAGE_SIDE
ARRAYS = ("train_x", "train_y", "test_x", "test_y")
PIXEL_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))
LABEL_DTYPE = np.dtype(np.int64)
# Omniglot has 50 alphabets; a few hundred bounds the one-hot arrays of training.
MAX_CLASSES = 1000
RELEASE_IMAGES = 32460  # the whole Omniglot release: background and evaluation sets
# A prepared member is at most the whole release of float32 pixels.
MAX_MEMBER_BYTES = RELEASE_IMAGES * PIXELS * 4 + 4096


class PreparedError(ValueError):
    """A prepared file that is missing or does not hold the expected arrays."""


@dataclass(frozen=True)
class Dataset:
    """Images flattened to rows: uint8 in {0, 1} when binary, else float32 in [0, 1].

    train_x: (N_train, 11025) uint8 or float32
    train_y: (N_train,) int64, labels 0..num_classes-1
    test_x: (N_test, 11025), the dtype of train_x
    test_y: (N_test,) int64
    class_names: (num_classes,) names, label i = class_names[i]
    """
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: tuple

    @property
    def num_classes(self):
        return len(self.class_names)


def save_prepared(path, dataset):
    """Write `dataset` to `path` atomically, in np.savez's uncompressed format."""
    arrays = {name: getattr(dataset, name) for name in ARRAYS}
    arrays["class_names"] = np.array(dataset.class_names, dtype=str)
    write_npz(path, arrays)


def load_prepared(path):
    """The Dataset stored at `path`; PreparedError naming the file if anything is off."""
    try:
        arrays = read_npz(path, ARRAYS + ("class_names",), MAX_MEMBER_BYTES)
    except NpzError as error:
        raise PreparedError(f"{error}; rerun `dvc repro prepare`") from None
    return checked_dataset(path, arrays)


def checked_dataset(path, arrays):
    """Dataset from loaded arrays after checking their shapes, dtypes and labels."""
    names = arrays.pop("class_names")
    if names.dtype.kind != "U" or names.ndim != 1 or not 1 <= len(names) <= MAX_CLASSES:
        raise PreparedError(f"{path}: class_names: expected 1..{MAX_CLASSES} strings, "
                            f"found {names.dtype} of shape {names.shape}")
    for split in ("train", "test"):
        check_split(path, split, arrays[f"{split}_x"], arrays[f"{split}_y"], len(names))
    if arrays["train_x"].dtype != arrays["test_x"].dtype:
        raise PreparedError(f"{path}: train_x is {arrays['train_x'].dtype} but test_x is "
                            f"{arrays['test_x'].dtype}; expected the same dtype")
    return Dataset(**arrays, class_names=tuple(names.tolist()))


def check_split(path, split, x, y, num_classes):
    if x.dtype not in PIXEL_DTYPES or x.ndim != 2 or x.shape[1] != PIXELS or not len(x):
        raise PreparedError(f"{path}: {split}_x: expected (N, {PIXELS}) uint8 or float32 "
                            f"with N >= 1, found {x.shape} {x.dtype}")
    if y.dtype != LABEL_DTYPE or y.shape != (x.shape[0],):
        raise PreparedError(f"{path}: {split}_y: expected ({x.shape[0]},) int64, "
                            f"found {y.shape} {y.dtype}")
    if y.min() < 0 or y.max() >= num_classes:
        raise PreparedError(f"{path}: {split}_y: labels must be in 0..{num_classes - 1}, "
                            f"found {y.min()}..{y.max()}")
