"""Checks on the unpickled course data, ((trainX, trainY), (testX, testY)), before any use.

Each failure names the array (trainX, trainY, testX, testY) and what was found.
The checked arrays become a Dataset: uint8 pixels when every pixel is exactly
0 or 1, float32 otherwise; int64 labels.
"""
import numpy as np

from pipeline.data.prepared import PIXELS, Dataset

NAMES = (("trainX", "trainY"), ("testX", "testY"))


class DatasetError(ValueError):
    """Course data that do not have the expected structure, shapes, dtypes or values."""


def to_dataset(data, class_names, source):
    """The Dataset in `data` after every check; `source` (the file) prefixes errors.

    class_names: label i is class_names[i]; labels must lie in 0..len(class_names)-1.
    """
    fail = fail_with(source)
    num_classes = len(class_names)
    (train_x, train_y), (test_x, test_y) = check_structure(data, fail)
    for (x_name, y_name), x, y in zip(NAMES, (train_x, test_x), (train_y, test_y)):
        check_images(x, x_name, fail)
        check_labels(y, y_name, len(x), x_name, num_classes, fail)
    missing = sorted(set(range(num_classes)) - set(np.unique(train_y).tolist()))
    if missing:
        fail(f"trainY: every class 0..{num_classes - 1} must have training images; "
             f"missing {missing}")
    binary = all(is_binary(x) for x in (train_x, test_x))
    pixel_dtype = np.uint8 if binary else np.float32
    return Dataset(train_x=np.ascontiguousarray(train_x, dtype=pixel_dtype),
                   train_y=np.ascontiguousarray(train_y, dtype=np.int64),
                   test_x=np.ascontiguousarray(test_x, dtype=pixel_dtype),
                   test_y=np.ascontiguousarray(test_y, dtype=np.int64),
                   class_names=tuple(class_names))


def check_course_arrays(arrays, source, max_classes):
    """{trainX, trainY, testX, testY} as the course's format can hold them: 0/1 pixels and
    integer labels in 0..max_classes-1; DatasetError naming `source` and the array."""
    fail = fail_with(source)
    data = tuple((arrays[x_name], arrays[y_name]) for x_name, y_name in NAMES)
    check_structure(data, fail)
    for (x_name, y_name), (x, y) in zip(NAMES, data):
        check_images(x, x_name, fail)
        if not is_binary(x):
            fail(f"{x_name}: expected pixels of exactly 0 or 1 (the course's format), "
                 f"found other values in [0, 1]")
        check_labels(y, y_name, len(x), x_name, max_classes, fail)


def fail_with(source):
    def fail(message):
        raise DatasetError(f"{source}: {message}")
    return fail


def check_structure(data, fail):
    """((trainX, trainY), (testX, testY)) as tuples or lists of exactly two, all ndarrays."""
    expected = "expected ((trainX, trainY), (testX, testY))"
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        fail(f"{expected}, found {describe(data)}")
    for split, names in zip(data, NAMES):
        if not isinstance(split, (tuple, list)) or len(split) != 2:
            fail(f"({', '.join(names)}): {expected}, found {describe(split)}")
        for array, name in zip(split, names):
            if not isinstance(array, np.ndarray):
                fail(f"{name}: expected a numpy array, found {type(array).__name__}")
            if array.dtype.hasobject:
                fail(f"{name}: expected a numeric array, found dtype {array.dtype}")
    return data


def describe(value):
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def check_images(x, name, fail):
    """x: (N, 11025), N >= 1, bool/integer/float, every pixel finite and within [0, 1]."""
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != PIXELS:
        fail(f"{name}: expected shape (N, {PIXELS}) with N >= 1, found {x.shape}")
    if not (x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer)
            or np.issubdtype(x.dtype, np.floating)):
        fail(f"{name}: expected integer or float pixels, found dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        fail(f"{name}: expected finite pixels, found {np.count_nonzero(~np.isfinite(x))} "
             f"NaN or infinite values")
    low, high = x.min(), x.max()
    if low < 0 or high > 1:
        fail(f"{name}: expected pixels in [0, 1], found values in [{low}, {high}]")


def check_labels(y, name, count, x_name, num_classes, fail):
    """y: (count,) integer labels in 0..num_classes-1."""
    if y.ndim != 1:
        fail(f"{name}: expected shape (N,), found {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        fail(f"{name}: expected integer labels, found dtype {y.dtype}")
    if len(y) != count:
        fail(f"{name}: {len(y)} labels for {count} images in {x_name}; expected equal counts")
    low, high = y.min(), y.max()
    if low < 0 or high >= num_classes:
        fail(f"{name}: expected labels in 0..{num_classes - 1} ({num_classes} classes), "
             f"found values in {low}..{high}")


def is_binary(x):
    """True when every value of the numeric array x is exactly 0 or 1."""
    if x.dtype == np.bool_ or x.size == 0:
        return True
    if np.issubdtype(x.dtype, np.integer):
        return bool(x.min() >= 0 and x.max() <= 1)
    return bool(np.all((x == 0) | (x == 1)))
