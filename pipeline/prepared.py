"""The prepared dataset: the contract between the data stages and training.

Stored as an uncompressed npz (plain arrays, no pickle), so it loads in a
fraction of a second. The zip entries carry a fixed date, so the same arrays
always give the same bytes and DVC sees no change when nothing changed.
"""
import math
import zipfile
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_path

IMAGE_SIDE = 105
PIXELS = IMAGE_SIDE * IMAGE_SIDE
ARRAYS = ("train_x", "train_y", "test_x", "test_y")
PIXEL_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))
LABEL_DTYPE = np.dtype(np.int64)
FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}


class PreparedError(ValueError):
    """A prepared file that is missing or does not hold the expected arrays."""


@dataclass(frozen=True)
class Dataset:
    """Images flattened to rows: uint8 in {0, 1} when binary, else float32 in [0, 1].

    train_x: (N_train, 11025) uint8 or float32
    train_y: (N_train,) int64, labels 0..num_classes-1
    test_x: (N_test, 11025), the dtype of train_x
    test_y: (N_test,) int64
    """
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int


def save_prepared(path, dataset):
    """Write `dataset` to `path` atomically, in np.savez's uncompressed format."""
    arrays = {name: getattr(dataset, name) for name in ARRAYS}
    arrays["num_classes"] = np.asarray(dataset.num_classes, dtype=np.int64)
    with atomic_path(path) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_DATE)
            with archive.open(entry, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, order="C"),
                                          allow_pickle=False)


def check_sizes(path):
    """Refuse entries whose .npy header declares more bytes than the entry holds.

    numpy allocates the declared shape before reading a zip entry, so a header
    could otherwise choose the allocation. Entries must be stored uncompressed,
    as save_prepared writes them: then no entry holds more than the file's size.
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise PreparedError(f"{path}: {info.filename}: compressed; expected the "
                                    f"uncompressed entries `dvc repro prepare` writes")
            with archive.open(info) as entry:
                version = np.lib.format.read_magic(entry)
                if version not in HEADER_READERS:
                    raise PreparedError(f"{path}: {info.filename}: .npy format {version}; "
                                        f"expected {sorted(HEADER_READERS)}")
                shape, _, dtype = HEADER_READERS[version](entry)
                declared = math.prod(shape) * dtype.itemsize
                if declared != info.file_size - entry.tell():
                    raise PreparedError(
                        f"{path}: {info.filename}: its header declares {shape} {dtype} "
                        f"({declared} bytes) but the entry holds "
                        f"{info.file_size - entry.tell()}")


def load_prepared(path):
    """The Dataset stored at `path`; PreparedError naming the file if anything is off."""
    expected = sorted(ARRAYS + ("num_classes",))
    try:
        check_sizes(path)
        stored = np.load(path, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise PreparedError(f"{path}: expected an npz archive, found a single array")
        with stored:
            found = sorted(stored.files)
            arrays = {name: stored[name] for name in expected} if found == expected else None
    except FileNotFoundError:
        raise PreparedError(f"{path}: not found; run `dvc repro prepare`") from None
    except PreparedError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise PreparedError(f"{path}: not a prepared dataset ({error})") from None
    if arrays is None:
        raise PreparedError(f"{path}: expected arrays {expected}, found {found}; "
                            f"rerun `dvc repro prepare`")
    return checked_dataset(path, arrays)


def checked_dataset(path, arrays):
    """Dataset from loaded arrays after checking their shapes, dtypes and labels."""
    num_classes = arrays.pop("num_classes")
    if num_classes.shape != () or num_classes.dtype != LABEL_DTYPE or num_classes < 1:
        raise PreparedError(f"{path}: num_classes: expected a positive int64 scalar, "
                            f"found {num_classes.dtype} of shape {num_classes.shape}")
    num_classes = int(num_classes)
    for split in ("train", "test"):
        check_split(path, split, arrays[f"{split}_x"], arrays[f"{split}_y"], num_classes)
    if arrays["train_x"].dtype != arrays["test_x"].dtype:
        raise PreparedError(f"{path}: train_x is {arrays['train_x'].dtype} but test_x is "
                            f"{arrays['test_x'].dtype}; expected the same dtype")
    return Dataset(**arrays, num_classes=num_classes)


def check_split(path, split, x, y, num_classes):
    if x.dtype not in PIXEL_DTYPES or x.ndim != 2 or x.shape[1] != PIXELS:
        raise PreparedError(f"{path}: {split}_x: expected (N, {PIXELS}) uint8 or float32, "
                            f"found {x.shape} {x.dtype}")
    if y.dtype != LABEL_DTYPE or y.shape != (x.shape[0],):
        raise PreparedError(f"{path}: {split}_y: expected ({x.shape[0]},) int64, "
                            f"found {y.shape} {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise PreparedError(f"{path}: {split}_y: labels must be in 0..{num_classes - 1}, "
                            f"found {y.min()}..{y.max()}")
