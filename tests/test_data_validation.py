"""Checks on the unpickled course data, and the prepared npz that training reads."""
import json

import numpy as np
import pytest

from pipeline.data.checksums import file_digests
from pipeline.data.course_file import write_course_npz
from pipeline.data.dataset_checks import DatasetError, to_dataset
from pipeline.data.npz_files import NpzError, write_npz
from pipeline.data.prepared import IMAGE_SIDE, Dataset, PreparedError, load_prepared, save_prepared
from stages.prepare import PrepareParams, ProvenanceError, prepare, read_provenance
from tests.data_helpers import tiny_data

PARAMS = PrepareParams(pixels="stored", order="C")
NAMES = ("Alpha", "Beta", "Gamma")


def fetched(tmp_path, arrays, class_names=NAMES, writer=write_course_npz):
    """(course file, provenance) as the fetch stage leaves them, in tmp_path."""
    course_file = tmp_path / "omniglot_12.npz"
    writer(course_file, arrays)
    record = {"source": "course", "set": "unknown",
              "class_names": list(class_names) if class_names else None,
              "output": {"path": str(course_file), **file_digests(course_file)}}
    provenance = tmp_path / "source.json"
    provenance.write_text(json.dumps(record))
    return course_file, provenance


def course_arrays(data=None):
    (train_x, train_y), (test_x, test_y) = data or tiny_data()
    return {"trainX": train_x, "trainY": train_y, "testX": test_x, "testY": test_y}


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
                           "testY: expected labels in 0..2 (3 classes), found "
                           "values in 0..3"),
    "negative_label": (lambda data: data[0][1].__setitem__(0, -1),
                       "trainY: expected labels in 0..2 (3 classes), found "
                       "values in -1..2"),
    "missing_class": (lambda data: data[0][1].__setitem__(data[0][1] == 1, 0),
                      "trainY: every class 0..2 must have training images; missing [1]"),
    "float_labels": (lambda data: [[data[0][0], data[0][1].astype(np.float64)], data[1]],
                     "trainY: expected integer labels, found dtype float64"),
    "bool_labels": (lambda data: [data[0], [data[1][0], data[1][1] > 0]],
                    "testY: expected integer labels, found dtype bool"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_is_refused_by_name(case):
    edit, message = BAD_DATA[case]
    with pytest.raises(DatasetError) as error:
        to_dataset(changed(edit), NAMES, "course.tar")
    assert str(error.value).startswith(f"course.tar: {message}")


@pytest.mark.parametrize("case", ["wrong_width", "nan_pixels", "label_out_of_range",
                                  "missing_class"])
def test_prepare_refuses_bad_data_and_writes_nothing(tmp_path, case):
    edit, message = BAD_DATA[case]
    (train_x, train_y), (test_x, test_y) = changed(edit)
    arrays = course_arrays(((train_x, train_y), (test_x, test_y)))
    course_file, provenance = fetched(tmp_path, arrays, writer=write_npz)
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as error:
        prepare(PARAMS, course_file, provenance, out / "prepared.npz", out / "data.json")
    assert str(error.value).startswith(f"{course_file}: {message}")
    assert not out.exists()


def test_prepare_names_its_own_bound_for_an_oversized_course_file(tmp_path, monkeypatch):
    course_file, provenance = fetched(tmp_path, course_arrays())
    monkeypatch.setattr("stages.prepare.MAX_MEMBER_BYTES", 1000)
    with pytest.raises(NpzError) as error:
        prepare(PARAMS, course_file, provenance, tmp_path / "p.npz", tmp_path / "d.json")
    size = course_file.stat().st_size
    assert str(error.value) == (f"{course_file}: {size} bytes, more than the limit of "
                                f"{1000 / (1 << 20):g} MiB (prepare's bound: the whole "
                                f"Omniglot release as float32)")


def test_prepare_refuses_a_folder_in_place_of_the_course_file(tmp_path):
    _, provenance = fetched(tmp_path, course_arrays())
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    with pytest.raises(ProvenanceError, match=f"{folder}: cannot be read \\(Is a directory\\)"):
        prepare(PARAMS, folder, provenance, tmp_path / "p.npz", tmp_path / "d.json")


def test_object_arrays_are_refused_by_name():
    # An object array never gets out of the unpickler (tests/test_reliability_allocations.py);
    # to_dataset refuses one built in memory as well.
    (x, y), test = tiny_data()
    with pytest.raises(DatasetError, match="trainY: expected a numeric array, found dtype object"):
        to_dataset(((x, y.astype(object)), test), NAMES, "a")


def test_binary_pixels_become_uint8_and_labels_int64():
    (x, y), (tx, ty) = tiny_data()
    dataset = to_dataset(((x.astype(np.float64), y.astype(np.int32)), (tx > 0, ty)), NAMES, "a")
    assert dataset.train_x.dtype == np.uint8 and dataset.test_x.dtype == np.uint8
    assert dataset.train_y.dtype == np.int64 and np.array_equal(dataset.train_x, x)


def test_grey_pixels_become_float32_in_both_splits():
    (x, y), (tx, ty) = tiny_data()
    grey = x.astype(np.float64) * 0.5
    dataset = to_dataset(((grey, y), (tx, ty)), NAMES, "a")
    assert dataset.train_x.dtype == np.float32 and dataset.test_x.dtype == np.float32
    assert np.array_equal(dataset.train_x, grey.astype(np.float32))


def test_prepare_writes_the_dataset_and_metrics(tmp_path):
    course_file, provenance = fetched(tmp_path, course_arrays())
    report = prepare(PARAMS, course_file, provenance, tmp_path / "p.npz", tmp_path / "d.json")
    assert json.loads((tmp_path / "d.json").read_text()) == report
    dataset = load_prepared(tmp_path / "p.npz")
    assert report["train"]["class_counts"] == [4, 4, 4] and report["class_names"] == list(NAMES)
    assert report["test"]["images"] == 6 and report["num_classes"] == 3
    assert report["pixels"]["dtype"] == "uint8" and report["pixels"]["encoding"] == "stored"
    assert report["pixels"]["ink_fraction"] == round(1 - report["pixels"]["mean"], 6)
    assert dataset.class_names == NAMES
    assert np.array_equal(dataset.train_x, tiny_data()[0][0])


def test_prepare_encodes_ink_and_column_order(tmp_path):
    course_file, provenance = fetched(tmp_path, course_arrays())
    stored = prepare(PARAMS, course_file, provenance, tmp_path / "s.npz", tmp_path / "s.json")
    prepare(PrepareParams(pixels="ink", order="F"), course_file, provenance,
            tmp_path / "f.npz", tmp_path / "f.json")
    c_x, f_x = load_prepared(tmp_path / "s.npz").train_x, load_prepared(tmp_path / "f.npz").train_x
    images = (1 - c_x).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    assert np.array_equal(f_x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE), images.transpose(0, 2, 1))
    assert np.array_equal(f_x[0].reshape(IMAGE_SIDE, IMAGE_SIDE, order="F"), images[0])
    assert stored["pixels"]["ink_fraction"] == json.loads(
        (tmp_path / "f.json").read_text())["pixels"]["ink_fraction"]


def test_unknown_class_names_become_numbered(tmp_path):
    course_file, provenance = fetched(tmp_path, course_arrays(), class_names=None)
    report = prepare(PARAMS, course_file, provenance, tmp_path / "p.npz", tmp_path / "d.json")
    assert report["class_names"] == ["class 0", "class 1", "class 2"]


def test_stale_provenance_is_refused(tmp_path):
    course_file, provenance = fetched(tmp_path, course_arrays())
    write_course_npz(course_file, course_arrays(tiny_data(seed=5)))
    with pytest.raises(ProvenanceError, match="describes a file with sha256 .* run `dvc repro"):
        prepare(PARAMS, course_file, provenance, tmp_path / "out/p.npz", tmp_path / "out/d.json")
    assert not (tmp_path / "out").exists()


def dataset(pixels=np.uint8, labels=np.int64):
    (x, y), (tx, ty) = tiny_data()
    return Dataset(x.astype(pixels), y.astype(labels), tx.astype(pixels), ty.astype(labels),
                   NAMES)


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


def test_full_size_prepared_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    big = Dataset(rng.integers(0, 2, (6660, 11025), dtype=np.uint8),
                  rng.integers(0, 12, 6660), rng.integers(0, 2, (1660, 11025), dtype=np.uint8),
                  rng.integers(0, 12, 1660), tuple(f"class {i}" for i in range(12)))
    save_prepared(tmp_path / "big.npz", big)
    loaded = load_prepared(tmp_path / "big.npz")
    assert np.array_equal(loaded.train_x, big.train_x) and np.array_equal(loaded.test_y, big.test_y)


@pytest.mark.parametrize("update, message", [
    ({"class_names": None}, "expected arrays ['class_names', 'test_x', 'test_y', 'train_x', "
                            "'train_y'], found members"),
    ({"train_y": np.zeros(12, np.int32)}, "train_y: expected (12,) int64, found (12,) int32"),
    ({"test_x": np.zeros((6, 11025), np.float64)},
     "test_x: expected (N, 11025) uint8 or float32 with N >= 1, found (6, 11025) float64"),
    ({"test_x": np.zeros((0, 11025), np.uint8), "test_y": np.zeros(0, np.int64)},
     "test_x: expected (N, 11025) uint8 or float32 with N >= 1, found (0, 11025) uint8"),
    ({"test_y": np.full(6, 7)}, "test_y: labels must be in 0..2, found 7..7"),
    ({"test_y": np.full(6, 3)}, "test_y: labels must be in 0..2, found 3..3"),  # = classes
    ({"train_y": np.zeros(11, np.int64)}, "train_y: expected (12,) int64, found (11,) int64"),
    ({"test_x": np.zeros((6, 11025), np.float32)},
     "train_x is uint8 but test_x is float32; expected the same dtype"),
    ({"class_names": np.array([3])}, "class_names: expected 1..1000 strings"),
])
def test_load_prepared_refuses_foreign_files(tmp_path, update, message):
    good = dataset()
    stored = {"train_x": good.train_x, "train_y": good.train_y, "test_x": good.test_x,
              "test_y": good.test_y, "class_names": np.array(NAMES), **update}
    np.savez(tmp_path / "bad.npz", **{k: v for k, v in stored.items() if v is not None})
    with pytest.raises(PreparedError) as error:
        load_prepared(tmp_path / "bad.npz")
    assert str(error.value).startswith(f"{tmp_path / 'bad.npz'}: ") and message in str(error.value)


@pytest.mark.parametrize("content", [None, b"not an npz", b"\x93NUMPY"])
def test_load_prepared_missing_or_broken_file(tmp_path, content):
    path = tmp_path / "p.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PreparedError, match=f"{path}: (not found|not a readable npz)"):
        load_prepared(path)


@pytest.mark.parametrize("content, expected", [
    (None, "missing; expected the fetch stage's record"),
    (b"\xff\xfe", "not UTF-8 text"),
    (b"[" * 100_000, "not readable JSON"),
    (b" " * ((1 << 20) + 1), "larger than 1048576 bytes"),
    (b'{"source": "course", "output": {"sha256": "ab"}}', "with 'source', 'set', "),
    # class_names must be null or distinct strings: a nested list or a repeat would
    # reach the prepared file's class names.
    (b'{"source": "course", "set": "unknown", "output": {"sha256": "ab"}, '
     b'"class_names": [["a", "b"], ["c"]]}', "'class_names' \\(null, or 1..1000 distinct"),
    (b'{"source": "course", "set": "unknown", "output": {"sha256": "ab"}, '
     b'"class_names": ["a", "a"]}', "'class_names' \\(null"),
    (b'{"source": "course", "set": "unknown", "output": {"sha256": "ab"}, '
     b'"class_names": [1, null]}', "'class_names' \\(null"),
])
def test_a_broken_provenance_record_is_a_one_line_error(tmp_path, content, expected):
    path = tmp_path / "source.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ProvenanceError, match=expected):
        read_provenance(path)
