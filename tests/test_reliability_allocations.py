"""Class 1 of issue 11: a pickle never chooses how much memory we allocate.

Every malicious pickle here is written by hand (opcodes, or an object whose
__reduce__ names numpy's constructor): no large array is ever pickled, and
with the bounds in place none is ever allocated.
"""
import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from pipeline.data.course_archive import ArchiveError, read_course_archive
from pipeline.data.prepared import PreparedError, load_prepared
from pipeline.data.safe_pickle import UnsafePickleError, load_arrays
from pipeline.data.course_file import read_course_file
from tests.data_helpers import member, tar_bytes, tiny_data

MIB = 1 << 20
PIXELS = 11025


class EmptyArray:
    """Pickles as numpy.ndarray(shape, dtype): an array of memory the file never carried."""

    def __init__(self, shape, dtype="u1"):
        self.shape, self.dtype = shape, dtype

    def __reduce__(self):
        return np.ndarray, (self.shape, self.dtype)


def archive_of(tmp_path, payload):
    path = tmp_path / "course.tar"
    path.write_bytes(tar_bytes([(member("omniglot_12.pkl"), payload)]))
    return path


def refusal(tmp_path, payload, max_member_bytes=MIB):
    """The message read_course_archive refuses `payload` with."""
    archive = archive_of(tmp_path, payload)
    with pytest.raises((ArchiveError, UnsafePickleError)) as error:
        read_course_archive(archive, max_member_bytes)
    message = str(error.value)
    assert message.startswith(f"{archive}"), message
    return message


def global_(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


RECONSTRUCT = global_("numpy._core.multiarray", "_reconstruct")
NDARRAY = global_("numpy", "ndarray")


def dtype_(code):
    return global_("numpy", "dtype") + b"(V" + code.encode() + b"\ntR"


def test_a_course_archive_with_an_unbacked_test_set_is_refused(tmp_path):
    # The example at a safe size: testX = numpy.ndarray((2000, 11025)), 22 MB of
    # memory from a pickle of a few hundred bytes (the 200000 rows are 2.2 GB).
    (train_x, train_y), (_, test_y) = tiny_data()
    payload = pickle.dumps(((train_x, train_y), (EmptyArray((2000, PIXELS)), test_y)),
                           protocol=4)
    assert len(payload) < 150_000
    archive = archive_of(tmp_path, payload)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(UnsafePickleError, match="refusing to call numpy.ndarray directly"):
        read_course_file(archive, 1 << 20)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("payload, expected", [
    # numpy.ndarray((10**12,)): 931 GiB asked for by a 60-byte file.
    (pickle.dumps(EmptyArray((10 ** 12,)), protocol=2), "refusing to call numpy.ndarray"),
    # _reconstruct allocates the shape it is given; numpy itself always passes (0,).
    (RECONSTRUCT + b"(" + NDARRAY + b"(I1000000000000\ntC\x01btR.",
     "refusing an array whose data never followed"),
    # BUILD state declaring 10**12 rows of 11025 pixels, carrying 3 bytes.
    (RECONSTRUCT + b"(" + NDARRAY + b"(I0\ntC\x01btR"
     + b"(I1\n(I1000000000000\nI11025\nt" + dtype_("u1") + b"I00\nC\x03abctb.",
     "refusing array shape"),
    # A dtype of 10**9-byte items, and an object dtype whose state is a list of anything.
    (RECONSTRUCT + b"(" + NDARRAY + b"(I0\ntC\x01btR"
     + b"(I1\n(I1000\nt" + dtype_("V1000000000") + b"I00\nC\x00tb.", "refusing dtype"),
    (RECONSTRUCT + b"(" + NDARRAY + b"(I0\ntC\x01btR"
     + b"(I1\n(I1000\nt" + dtype_("O") + b"I00\n(ltb.", "refusing dtype object"),
])
def test_arrays_the_pickle_does_not_carry_are_refused(tmp_path, payload, expected):
    assert expected in refusal(tmp_path, payload)


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x96"])  # BINBYTES8, BYTEARRAY8
def test_a_declared_length_beyond_the_file_is_refused_before_allocating(tmp_path, opcode):
    payload = b"\x80\x05" + opcode + struct.pack("<Q", 1 << 40) + b"abc."  # 1 TiB, 3 bytes
    assert "expected 1099511627776 bytes" in refusal(tmp_path, payload)


@pytest.mark.parametrize("payload, expected", [
    (b"\x80\x04\x95" + struct.pack("<Q", 1 << 40) + b"N.", "refusing a frame of 1099511627776"),
    # LONG_BINPUT 2**32-1: the C unpickler would grow its memo table to 64 GiB.
    (b"\x80\x04Nr\xff\xff\xff\xff.", "refusing memo index 4294967295"),
])
def test_frames_and_memo_indices_beyond_the_file_are_refused(tmp_path, payload, expected):
    assert expected in refusal(tmp_path, payload)


def test_arrays_together_may_not_exceed_the_pickle(tmp_path):
    # One 4096-byte string, memoized once, used as the data of 64 arrays: 256 KiB of arrays.
    data = np.arange(4096, dtype=np.uint8).tobytes()
    array = (RECONSTRUCT + b"(" + NDARRAY + b"(I0\ntC\x01btR"
             + b"(I1\n(I4096\nt" + dtype_("u1") + b"I00\n{data}tb")
    first = array.replace(b"{data}", b"B" + struct.pack("<I", len(data)) + data + b"p0\n")
    again = array.replace(b"{data}", b"g0\n")
    payload = b"(" + first + again * 63 + b"l."
    message = refusal(tmp_path, payload)
    assert f"may not exceed the pickle's own {len(payload)} bytes" in message


def test_arrays_are_made_of_the_pickles_own_bytes():
    data = tiny_data()
    for protocol in (2, 4, 5):
        payload = pickle.dumps(data, protocol=protocol)
        loaded = load_arrays(payload, "x.pkl")
        for got, want in zip(sum(loaded, ()), sum(data, ())):
            assert got.dtype == want.dtype and np.array_equal(got, want)
            assert not got.flags.owndata  # a view of the pickle's bytes, nothing allocated


def test_big_endian_and_fortran_arrays_keep_their_values():
    array = np.asfortranarray(np.arange(12, dtype=">f8").reshape(3, 4))
    loaded = load_arrays(pickle.dumps(array, protocol=2), "x.pkl")
    assert loaded.dtype == np.dtype(">f8") and np.array_equal(loaded, array)


# The same class elsewhere: numpy sizes a zip entry's array by its .npy header.
def npy_header(shape, descr="|u1"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("compression, problem", [
    (zipfile.ZIP_STORED, "header declares (1000000000000,) uint8 (1000000000000 bytes) "
                         "but the member holds 3 bytes of data"),
    # The prepared file is written stored; a compressed entry is refused unread.
    (zipfile.ZIP_DEFLATED, "deflated; expected stored, unencrypted"),
])
def test_a_prepared_file_cannot_choose_its_allocation(tmp_path, compression, problem):
    path = tmp_path / "prepared.npz"
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("train_x.npy", npy_header((10 ** 12,)) + b"abc")
        for name in ("train_y", "test_x", "test_y", "class_names"):
            archive.writestr(f"{name}.npy", npy_header((0,)))
    with pytest.raises(PreparedError) as error:
        load_prepared(path)
    assert str(error.value).startswith(f"{path}: train_x.npy: {problem}")
