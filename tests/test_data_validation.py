"""Checks on the unpickled course data, and the prepared npz that training reads."""
import json
import time

import numpy as np
import pytest

from pipeline.dataset_checks import DatasetError, to_dataset
from pipeline.prepared import Dataset, PreparedError, load_prepared, save_prepared
from stages.prepare import PrepareParams, prepare
from tests.data_helpers import tiny_data, write_course_tar, write_provenance

PARAMS = PrepareParams(num_classes=3, max_member_mb=1)


def changed(edit):
    """tiny_data() as nested lists, after edit(data) changed it in place."""
    (train_x, train_y), (test_x, test_y) = tiny_data()
    data = [[train_x, train_y], [test_x, test_y]]
    return edit(data) or data


def set_pixel(value, dtype=np.float64):
    def edit(data):
        data[1][0] = data[1][0].astype(dtype)
        data[1][0][0, 5] = value
    return edit


BAD_DATA = {
    "not_a_pair": (lambda data: {"train": data[0]},
                   "expected ((trainX, trainY), (testX, testY)), found a dict"),
    "three_parts": (lambda data: data + [data[0]],
                    "expected ((trainX, trainY), (testX, testY)), found a list of length 3"),
    "split_of_three": (lambda data: [data[0] + [data[0][1]], data[1]],
                       "(trainX, trainY): expected ((trainX, trainY), (testX, testY)), "
                       "found a list of length 3"),
    "list_not_array": (lambda data: [[data[0][0].tolist(), data[0][1]], data[1]],
                       "trainX: expected a numpy array, found list"),
    "wrong_width": (lambda data: [[data[0][0][:, :100], data[0][1]], data[1]],
                    "trainX: expected shape (N, 11025) with N >= 1, found (12, 100)"),
    "images_3d": (lambda data: [data[0], [data[1][0].reshape(6, 105, 105), data[1][1]]],
                  "testX: expected shape (N, 11025) with N >= 1, found (6, 105, 105)"),
    "labels_2d": (lambda data: [[data[0][0], data[0][1][:, None]], data[1]],
                  "trainY: expected shape (N,), found (12, 1)"),
    "mismatched_counts": (lambda data: [data[0], [data[1][0], data[1][1][:-1]]],
                          "testY: 5 labels for 6 images in testX; expected equal counts"),
    "nan_pixels": (set_pixel(np.nan), "testX: expected finite pixels, found 1 NaN or infinite"),
    "pixel_above_one": (set_pixel(255, np.uint8),
                        "testX: expected pixels in [0, 1], found values in [0, 255]"),
    "negative_pixel": (set_pixel(-0.5), "testX: expected pixels in [0, 1], found values in "
                                        "[-0.5, 1.0]"),
    "text_pixels": (lambda data: [[data[0][0].astype("U1"), data[0][1]], data[1]],
                    "trainX: expected integer or float pixels, found dtype <U1"),
    "label_out_of_range": (lambda data: data[1][1].__setitem__(0, 3),
                           "testY: expected labels in 0..2 (prepare.num_classes = 3), found "
                           "values in 0..3"),
    "negative_label": (lambda data: data[0][1].__setitem__(0, -1),
                       "trainY: expected labels in 0..2 (prepare.num_classes = 3), found "
                       "values in -1..2"),
    "missing_class": (lambda data: data[0][1].__setitem__(data[0][1] == 1, 0),
                      "trainY: every class 0..2 must have training images; missing [1]"),
    "float_labels": (lambda data: [[data[0][0], data[0][1].astype(np.float64)], data[1]],
                     "trainY: expected integer labels, found dtype float64"),
    "bool_labels": (lambda data: [data[0], [data[1][0], data[1][1] > 0]],
                    "testY: expected integer labels, found dtype bool"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_is_refused_by_name_and_nothing_is_written(tmp_path, case):
    edit, message = BAD_DATA[case]
    archive = write_course_tar(tmp_path / "course.tar", changed(edit))
    provenance = write_provenance(tmp_path / "source.json", archive)
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as error:
        prepare(PARAMS, archive, provenance, out / "prepared.npz", out / "data.json")
    assert str(error.value).startswith(f"{archive}: {message}")
    assert not out.exists()


def test_object_arrays_are_refused_by_name():
    # An object array never gets out of the unpickler (tests/test_reliability_allocations.py);
    # to_dataset refuses one built in memory as well.
    (x, y), test = tiny_data()
    with pytest.raises(DatasetError, match="trainY: expected a numeric array, found dtype object"):
        to_dataset(((x, y.astype(object)), test), 3, "a")


def test_binary_pixels_become_uint8_and_labels_int64():
    (x, y), (tx, ty) = tiny_data()
    dataset = to_dataset(((x.astype(np.float64), y.astype(np.int32)), (tx > 0, ty)), 3, "a")
    assert dataset.train_x.dtype == np.uint8 and dataset.test_x.dtype == np.uint8
    assert dataset.train_y.dtype == np.int64 and np.array_equal(dataset.train_x, x)


def test_grey_pixels_become_float32_in_both_splits():
    (x, y), (tx, ty) = tiny_data()
    grey = x.astype(np.float64) * 0.5
    dataset = to_dataset(((grey, y), (tx, ty)), 3, "a")
    assert dataset.train_x.dtype == np.float32 and dataset.test_x.dtype == np.float32
    assert np.array_equal(dataset.train_x, grey.astype(np.float32))


def test_prepare_writes_the_dataset_and_metrics(tmp_path):
    archive = write_course_tar(tmp_path / "course.tar", tiny_data())
    provenance = write_provenance(tmp_path / "source.json", archive, pixels="ink",
                                  zip={"md5": "m", "sha256": "s", "bytes": 5, "official": True})
    prepare(PARAMS, archive, provenance, tmp_path / "p.npz", tmp_path / "data.json")
    report = json.loads((tmp_path / "data.json").read_text())
    dataset = load_prepared(tmp_path / "p.npz")
    assert report["train"]["class_counts"] == {"0": 4, "1": 4, "2": 4}
    assert report["test"]["images"] == 6 and report["num_classes"] == 3
    assert report["pixels"]["binary"] is True and report["pixels"]["dtype"] == "uint8"
    assert report["pixels"]["ink_fraction"] == report["pixels"]["mean"]
    assert report["zip"] == {"md5": "m", "sha256": "s", "bytes": 5, "official": True}
    assert report["archive"]["bytes"] == archive.stat().st_size
    assert np.array_equal(dataset.train_x, tiny_data()[0][0])


def dataset(pixels=np.uint8, labels=np.int64):
    (x, y), (tx, ty) = tiny_data()
    return Dataset(x.astype(pixels), y.astype(labels), tx.astype(pixels), ty.astype(labels), 3)


def test_prepared_round_trip_is_exact_and_byte_stable(tmp_path):
    for pixels in (np.uint8, np.float32):
        save_prepared(tmp_path / "a.npz", dataset(pixels))
        first = (tmp_path / "a.npz").read_bytes()
        save_prepared(tmp_path / "a.npz", dataset(pixels))
        assert (tmp_path / "a.npz").read_bytes() == first
        loaded = load_prepared(tmp_path / "a.npz")
        assert loaded.num_classes == 3 and loaded.train_x.dtype == pixels
        assert np.array_equal(loaded.test_x, dataset(pixels).test_x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


def test_full_size_prepared_loads_fast(tmp_path):
    rng = np.random.default_rng(0)
    big = Dataset(rng.integers(0, 2, (6660, 11025), dtype=np.uint8),
                  rng.integers(0, 12, 6660), rng.integers(0, 2, (1660, 11025), dtype=np.uint8),
                  rng.integers(0, 12, 1660), 12)
    save_prepared(tmp_path / "big.npz", big)
    start = time.perf_counter()
    loaded = load_prepared(tmp_path / "big.npz")
    assert time.perf_counter() - start < 0.5
    assert loaded.train_x.shape == (6660, 11025)


@pytest.mark.parametrize("update, message", [
    ({"num_classes": None}, "expected arrays ['num_classes', 'test_x', 'test_y', 'train_x', "
                            "'train_y'], found ['test_x', 'test_y', 'train_x', 'train_y']"),
    ({"train_y": np.zeros(12, np.int32)}, "train_y: expected (12,) int64, found (12,) int32"),
    ({"test_x": np.zeros((6, 11025), np.float64)},
     "test_x: expected (N, 11025) uint8 or float32, found (6, 11025) float64"),
    ({"test_y": np.full(6, 7)}, "test_y: labels must be in 0..2, found 7..7"),
    ({"num_classes": np.array([3])}, "num_classes: expected a positive int64 scalar"),
])
def test_load_prepared_refuses_foreign_files(tmp_path, update, message):
    good = dataset()
    stored = {"train_x": good.train_x, "train_y": good.train_y, "test_x": good.test_x,
              "test_y": good.test_y, "num_classes": np.int64(3), **update}
    np.savez(tmp_path / "bad.npz", **{k: v for k, v in stored.items() if v is not None})
    with pytest.raises(PreparedError) as error:
        load_prepared(tmp_path / "bad.npz")
    assert str(error.value).startswith(f"{tmp_path / 'bad.npz'}: ") and message in str(error.value)


@pytest.mark.parametrize("content", [None, b"not an npz", b"\x93NUMPY"])
def test_load_prepared_missing_or_broken_file(tmp_path, content):
    path = tmp_path / "p.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PreparedError, match=f"{path}: (not found|not a prepared dataset)"):
        load_prepared(path)
