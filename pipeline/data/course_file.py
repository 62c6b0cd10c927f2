"""The course's data file: trainX (N, 11025), trainY (N,), testX (M, 11025), testY (M,).

Fall 2024 ships it as omniglot_12.npz (bool pixels, int64 labels); older
offerings as omniglot_12.pkl.tar, a tar holding the pickle of
((trainX, trainY), (testX, testY)). Both read into the same dict of arrays, without
running any pickled code; the fetch stage writes the Fall 2024 format.
"""
import hashlib
from zipfile import ZIP_DEFLATED, ZIP_STORED
from pathlib import Path

import numpy as np

from pipeline.data.course_archive import read_course_archive
from pipeline.data.dataset_checks import NAMES, DatasetError, check_structure, fail_with, is_binary
from pipeline.data.npz_files import NpzError, read_npz, write_npz
from pipeline.data.size_limit import limit_text

ARRAYS = sum(NAMES, ())  # trainX, trainY, testX, testY
NPZ_NAME = "omniglot_12.npz"
TAR_NAME = "omniglot_12.pkl.tar"


def read_course_file(path, max_member_bytes):
    """{trainX, trainY, testX, testY} from an .npz or a .pkl.tar, chosen by the file's name."""
    path = Path(path)
    if path.name.endswith(".npz"):
        check_size(path, max_member_bytes)
        # np.savez_compressed deflates; what the course ships may be either.
        return read_npz(path, ARRAYS, max_member_bytes, (ZIP_STORED, ZIP_DEFLATED))
    (train_x, train_y), (test_x, test_y) = check_structure(
        read_course_archive(path, max_member_bytes), fail_with(path))
    return dict(zip(ARRAYS, (train_x, train_y, test_x, test_y)))


def check_size(path, max_bytes):
    """Refuse an npz larger than max_bytes (the tar reader checks its own file)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NpzError(f"{path}: not found") from None
    if size > max_bytes:
        raise NpzError(f"{path}: {size} bytes, more than the limit of "
                       f"{limit_text(max_bytes)}")


def write_course_npz(path, arrays):
    """The Fall 2024 format: X as bool, Y as int64; byte-stable. The arrays must have
    passed check_course_arrays: this only refuses, naming `path`, what it cannot hold."""
    out = {}
    for name in ARRAYS:
        array = np.asarray(arrays[name])
        if name.endswith("X") and not is_binary(array):
            raise DatasetError(f"{path}: {name}: the course's format holds 0/1 pixels only")
        if name.endswith("Y") and not np.issubdtype(array.dtype, np.integer):
            raise DatasetError(f"{path}: {name}: expected integer labels, found dtype "
                               f"{array.dtype}")
        out[name] = array.astype(bool if name.endswith("X") else np.int64)
    write_npz(path, out)


def array_checksums(arrays):
    """{name: sha256} of the values as the course's checksums define them.

    X: uint8 0/1 in C order (None when a pixel is not 0 or 1); Y: int64 in C order.
    """
    sums = {}
    for name in ARRAYS:
        array = np.asarray(arrays[name])
        if name.endswith("X"):
            array = array.astype(np.uint8) if is_binary(array) else None
        else:
            array = array.astype(np.int64) if np.issubdtype(array.dtype, np.integer) else None
        sums[name] = (None if array is None
                      else hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest())
    return sums

