"""Small text inputs (run JSON, curve CSVs, labels, manifests) are read within a byte bound."""
import os

import pytest

from pipeline.data.image_sets import ImageSetError, read_labels, read_manifest
from pipeline.small_files import read_small_json, read_small_text
from pipeline.training.curves import CurveError, read_curve
from pipeline.training.runs import InputFileError, read_json


class Refused(ValueError):
    pass


def read(path, limit=8):
    return read_small_text(path, limit, Refused, "a test file")


def test_a_file_of_exactly_the_limit_is_read(tmp_path):
    (tmp_path / "f").write_bytes("ab\ncdé".encode())  # 8 bytes
    assert read(tmp_path / "f") == "ab\ncdé"


@pytest.mark.parametrize("make, problem", [
    (lambda p: p.write_bytes(b"123456789"), "larger than 8 bytes"),
    (lambda p: p.write_bytes(b"\xff\xfe"), "not UTF-8 text"),
    (lambda p: p.mkdir(), "not readable (Is a directory)"),
    (lambda p: None, "missing"),
])
def test_each_problem_is_one_message_naming_the_file(tmp_path, make, problem):
    make(tmp_path / "f")
    with pytest.raises(Refused) as error:
        read(tmp_path / "f")
    assert str(error.value) == f"{tmp_path / 'f'}: {problem}; expected a test file"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_the_bound_holds_when_the_size_on_disk_says_nothing():
    """/dev/zero reports size 0 and never ends: only the bytes read count."""
    with pytest.raises(Refused, match="larger than 8 bytes"):
        read("/dev/zero")


@pytest.mark.parametrize("reader, error", [
    (read_curve, CurveError), (read_json, InputFileError), (read_labels, ImageSetError),
    (lambda path: read_manifest(path, ["Alpha"]), ImageSetError)])
def test_every_reader_keeps_its_own_error(tmp_path, reader, error):
    with pytest.raises(error, match="missing; expected"):
        reader(tmp_path / "absent")
    (tmp_path / "garbled").write_bytes(b"\xff\xfe{")
    with pytest.raises(error, match="garbled: not UTF-8 text; expected"):
        reader(tmp_path / "garbled")


@pytest.mark.parametrize("text, problem", [
    ('{"a": NaN}', "NaN is not a finite number"),
    ('{"a": -Infinity}', "-Infinity is not a finite number"),
    ('{"a": 1e999}', "1e999 is not a finite number"),  # valid JSON, but it reads as inf
    ('[-1.5e400]', "-1.5e400 is not a finite number"),
    ("[" * 100_000, "not readable JSON"),
    ('{"a": 1', "not readable JSON"),
])
def test_small_json_is_finite_and_parsable_or_refused_naming_the_file(tmp_path, text, problem):
    (tmp_path / "f.json").write_text(text)
    with pytest.raises(Refused, match=problem) as error:
        read_small_json(tmp_path / "f.json", 1 << 20, Refused, "a test record")
    assert str(error.value).startswith(f"{tmp_path / 'f.json'}: ")
    assert str(error.value).endswith("; expected a test record")


def test_small_json_gives_back_the_value(tmp_path):
    (tmp_path / "f.json").write_text('{"a": [1, 2.5, "x", null]}')
    assert read_small_json(tmp_path / "f.json", 64, Refused, "a test record") == {
        "a": [1, 2.5, "x", None]}
