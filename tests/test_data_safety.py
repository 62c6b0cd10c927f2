"""Unpacking untrusted course archives: nothing runs, nothing is extracted, nothing is written."""
import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import tarfile
import tracemalloc
import zipfile

import numpy as np
import pytest

from pipeline.data.course_archive import ArchiveError, read_course_archive
from pipeline.data.course_file import read_course_file
from pipeline.data import omniglot_zip
from pipeline.data.image_sets import ImageRef
from pipeline.data.npz_files import NpzError, read_npz
from pipeline.data.omniglot_zip import OmniglotZipError
from pipeline.data.safe_pickle import UnsafePickleError, load_arrays
from pipeline.data.size_limit import SizeLimit
from tests.data_helpers import (RunsACommand, member, png_bytes, tar_bytes, tiny_data,
                                write_course_tar)

MIB = 1 << 20


def refusal_reading(tmp_path, archive):
    """Read `archive` as the fetch stage reads a course file (fetch.max_input_mb 1); the
    raised error's text."""
    before = files_in(tmp_path)
    with pytest.raises((ArchiveError, UnsafePickleError)) as error:
        read_course_file(archive, SizeLimit(MIB, "fetch.max_input_mb"))
    assert files_in(tmp_path) == before, "reading may not write or extract anything"
    return str(error.value)


def files_in(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def test_malicious_pickle_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    archive = write_course_tar(tmp_path / "evil.tar", RunsACommand(f"touch {marker}"))
    message = refusal_reading(tmp_path, archive)
    assert not marker.exists()
    assert (f"{archive}:omniglot_12.pkl: refusing to load global "
            f"{os.system.__module__}.system") in message


@pytest.mark.parametrize("payload, name", [
    (pickle.dumps(eval), "builtins.eval"),
    (b"cbuiltins\nexec\n(S'open(\"x\",\"w\")'\ntR.", "builtins.exec"),
    (b"c_codecs\nencode\n(S'x'\nS'zlib'\ntR.", "_codecs.encode with encoding 'zlib'"),
])
def test_other_globals_are_refused(tmp_path, payload, name):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_bytes([(member("omniglot_12.pkl"), payload)]))
    with pytest.raises(UnsafePickleError, match=f"refusing.*{name}"):
        read_course_archive(archive, MIB)


@pytest.mark.parametrize("extra, problem", [
    ((member("../omniglot_12.pkl"), b"x"), "refusing member '../omniglot_12.pkl': '..' in"),
    ((member("/tmp/omniglot_12.pkl"), b"x"), "refusing member '/tmp/omniglot_12.pkl': absolute"),
    ((member("data/omniglot_12.pkl.link", tarfile.SYMTYPE, "/etc/passwd"), None),
     "refusing member 'data/omniglot_12.pkl.link': symbolic link to '/etc/passwd'"),
    ((member("hard", tarfile.LNKTYPE, "omniglot_12.pkl"), None),
     "refusing member 'hard': hard link to 'omniglot_12.pkl'"),
    ((member("dev", tarfile.CHRTYPE), None), "refusing member 'dev': device or fifo"),
    ((member("fifo", tarfile.FIFOTYPE), None), "refusing member 'fifo': device or fifo"),
])
def test_unsafe_members_are_refused_and_nothing_is_extracted(tmp_path, extra, problem):
    archive = write_course_tar(tmp_path / "course.tar", tiny_data(), extra=[extra])
    before = files_in(tmp_path)
    message = refusal_reading(tmp_path, archive)
    assert message.startswith(f"{archive}: {problem}")
    assert files_in(tmp_path) == before
    assert not (tmp_path.parent / "omniglot_12.pkl").exists()


def test_an_archive_over_the_limit_is_refused_before_it_is_opened(tmp_path):
    data = ((np.zeros((96, 11025), np.uint8), np.zeros(96, np.int64)),) * 2
    archive = write_course_tar(tmp_path / "course.tar", data)
    size = archive.stat().st_size
    assert refusal_reading(tmp_path, archive) == (f"{archive}: {size} bytes, more than the limit "
                                              f"of 1 MiB (fetch.max_input_mb)")


def test_a_member_declaring_more_than_the_limit_is_refused_at_its_header(tmp_path):
    big = member("big.bin")
    big.size = MIB + 1  # declared only: the file holds none of it
    archive = tmp_path / "course.tar"
    archive.write_bytes(big.tobuf(tarfile.USTAR_FORMAT) + bytes(1024))
    assert refusal_reading(tmp_path, archive) == (f"{archive}: refusing member 'big.bin': "
                                              f"1048577 bytes, more than the limit of 1 MiB "
                                              f"(fetch.max_input_mb)")


@pytest.mark.parametrize("compress, kind", [(gzip.compress, "gzip"), (bz2.compress, "bzip2"),
                                            (lzma.compress, "xz")])
def test_a_compressed_tar_is_refused(tmp_path, compress, kind):
    archive = tmp_path / "course.tar"
    archive.write_bytes(compress(tar_bytes([(member("omniglot_12.pkl"), pickle.dumps(1))])))
    assert refusal_reading(tmp_path, archive) == (
        f"{archive}: a {kind}-compressed tar; expected the course's uncompressed "
        f"omniglot_12.pkl.tar (decompress it first)")


def extended_header(kind, body):
    info = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "pax")
    info.type, info.size = kind, len(body)
    return info.tobuf(tarfile.USTAR_FORMAT) + body + bytes(-len(body) % 512)


@pytest.mark.parametrize("kind, body, problem", [
    # tarfile would read the whole long name into memory before any member check.
    (tarfile.GNUTYPE_LONGNAME, b"a" * (100 << 10),
     "refusing an extended header (type b'L') of 102400 bytes at byte 0; expected at "
     "most 65536 bytes"),
    # A pax size moves the next header where the header walk would not look.
    (tarfile.XHDTYPE, b"16 size=999999\n",
     "refusing a pax header setting a member's size at byte 0; expected members under 8 GiB"),
])
def test_oversized_or_misleading_extended_headers_are_refused(tmp_path, kind, body, problem):
    archive = tmp_path / "course.tar"
    archive.write_bytes(extended_header(kind, body)
                        + tar_bytes([(member("omniglot_12.pkl"), pickle.dumps(1))]))
    assert refusal_reading(tmp_path, archive) == f"{archive}: {problem}"


def test_a_long_member_name_within_the_bound_is_read(tmp_path):
    name = "d" * 300 + "/omniglot_12.pkl"
    archive = tmp_path / "course.tar"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        payload = pickle.dumps(tiny_data(), protocol=4)
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    archive.write_bytes(buffer.getvalue())
    assert np.array_equal(read_course_archive(archive, MIB)[0][1], tiny_data()[0][1])


def test_our_own_errors_are_not_reported_as_a_corrupt_archive(tmp_path, monkeypatch):
    def broken(data, source):
        raise KeyError("a bug of ours")
    monkeypatch.setattr("pipeline.data.course_archive.load_arrays", broken)
    archive = write_course_tar(tmp_path / "course.tar", tiny_data())
    with pytest.raises(KeyError, match="a bug of ours"):
        read_course_archive(archive, MIB)


def test_truncated_archive_names_the_file(tmp_path):
    archive = write_course_tar(tmp_path / "course.tar", tiny_data())
    archive.write_bytes(archive.read_bytes()[:40_000])
    assert "truncated or corrupt" in refusal_reading(tmp_path, archive)


@pytest.mark.parametrize("content", [b"", b"this is not a tar file at all" * 40])
def test_not_a_tar_names_the_file(tmp_path, content):
    archive = tmp_path / "course.tar"
    archive.write_bytes(content)
    message = refusal_reading(tmp_path, archive)
    assert message == f"{archive}: not a readable tar archive (empty, truncated or another format)"


def test_corrupt_pickle_names_the_file(tmp_path):
    archive = tmp_path / "course.tar"
    archive.write_bytes(tar_bytes([(member("omniglot_12.pkl"), b"\x80\x04garbage")]))
    assert "truncated or corrupt" in refusal_reading(tmp_path, archive)


@pytest.mark.parametrize("names, found", [(["other.pkl"], 0),
                                           (["omniglot_12.pkl", "copy/omniglot_12.pkl"], 2)])
def test_exactly_one_expected_member(tmp_path, names, found):
    archive = tmp_path / "course.tar"
    archive.write_bytes(tar_bytes([(member(name), pickle.dumps(1)) for name in names]))
    message = refusal_reading(tmp_path, archive)
    assert f"expected exactly one regular file named omniglot_12.pkl, found {found}" in message


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_course_style_pickles_of_every_protocol_load(tmp_path, protocol):
    data = tiny_data()
    archive = write_course_tar(tmp_path / "course.tar", data, protocol=protocol,
                               name="course/omniglot_12.pkl",
                               extra=[(member("course", tarfile.DIRTYPE), None)])
    loaded = read_course_archive(archive, MIB)
    for got, want in zip(sum(loaded, ()), sum(data, ())):
        assert got.dtype == want.dtype and np.array_equal(got, want)


class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 str (BINSTRING), as a Python 2 pickle of numpy arrays does."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, data):
        self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)

    dispatch[bytes] = save_py2_str


def test_python2_style_pickle_loads_with_latin1(tmp_path):
    data = (tiny_data()[0], tiny_data(seed=1)[1])
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(data)
    archive = tmp_path / "course.tar"
    archive.write_bytes(tar_bytes([(member("omniglot_12.pkl"), buffer.getvalue())]))
    assert b"_codecs" not in buffer.getvalue()
    loaded = read_course_archive(archive, MIB)
    assert np.array_equal(loaded[0][0], data[0][0]) and np.array_equal(loaded[1][1], data[1][1])


def test_valid_course_archive_reads_as_the_four_arrays(tmp_path):
    (train_x, train_y), (test_x, test_y) = tiny_data()
    archive = write_course_tar(tmp_path / "course.tar", tiny_data(), protocol=5)
    arrays = read_course_file(archive, MIB)
    assert sorted(arrays) == ["testX", "testY", "trainX", "trainY"]
    assert np.array_equal(arrays["trainX"], train_x) and np.array_equal(arrays["testY"], test_y)


def npz_with_member(path, name, header_shape, payload, dtype="<u1"):
    """An npz whose member `name` has a hand-written .npy header: it may lie about its size."""
    header = {"descr": dtype, "fortran_order": False, "shape": header_shape}
    with zipfile.ZipFile(path, "w") as archive, archive.open(name, "w") as member_file:
        np.lib.format.write_array_header_1_0(member_file, header)
        member_file.write(payload)
    return path


@pytest.mark.parametrize("shape, payload", [((10 ** 12,), b"\0" * 8), ((4,), b"\0" * 2)])
def test_an_npz_header_never_chooses_the_allocation(tmp_path, shape, payload):
    path = npz_with_member(tmp_path / "lie.npz", "x.npy", shape, payload)
    with pytest.raises(NpzError, match=rf"{path}: x.npy: header declares \({shape[0]},\) "
                                       rf"uint8 \({shape[0]} bytes\) but the member holds "
                                       rf"{len(payload)} bytes"):
        read_npz(path, ["x"], MIB)


def test_an_npz_member_over_the_limit_is_refused(tmp_path):
    np.savez(tmp_path / "big.npz", x=np.zeros(MIB, np.uint8))
    with pytest.raises(NpzError, match="x.npy holds 1048704 bytes, more than the limit of "
                                       "1048576 bytes"):
        read_npz(tmp_path / "big.npz", ["x"], MIB)


def shared_lists(references, levels):
    """A pickle of `levels` nested lists, each holding `references` memo references to
    the one below: a few bytes that a naive rebuild turns into references**levels lists."""
    payload = bytearray(b"\x80\x02]q\x000")
    for level in range(1, levels + 1):
        payload += b"](" + (b"h" + bytes([level - 1])) * references + b"eq" + bytes([level]) + b"0"
    return bytes(payload + b"h" + bytes([levels]) + b".")


def test_shared_references_are_rebuilt_once():
    payload = shared_lists(4, 8)  # 4**8 = 65536 lists if every reference were rebuilt
    assert len(payload) < 150
    tracemalloc.start()
    try:
        loaded = load_arrays(payload, "x.pkl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024, f"{peak} bytes for a {len(payload)}-byte pickle"
    assert len(loaded) == 4 and all(item is loaded[0] for item in loaded)


def test_a_pickle_of_countless_objects_is_refused_before_unpickling():
    # 20,000 EMPTY_DICT opcodes: one byte each, one dict (64+ bytes) each.
    payload = b"\x80\x02](" + b"}" * 20_000 + b"e."
    with pytest.raises(UnsafePickleError, match="x.pkl: refusing a pickle of more than 10000 "
                                                "opcodes"):
        load_arrays(payload, "x.pkl")


@pytest.mark.parametrize("dtype, shape, problem", [
    # Items of no bytes: the declared size is 0 whatever the shape, so the member's size
    # would bound nothing (|S0 of (2**31, 2**31) asked numpy for 4 EiB).
    ("|S0", (1000,), "dtype |S0; expected bool, integer, float or text items of at least "
                     "one byte"),
    ("<U0", (1000, 1000), "dtype <U0; expected"),
    ("|V0", (1000,), "dtype |V0; expected"),
    ("<u1", (-1, -1), r"shape \(-1, -1\); expected at most 32 sizes of 0..1048576"),
    ("<u1", (0, 10 ** 12), r"shape \(0, 1000000000000\); expected at most 32 sizes"),
])
def test_an_npz_header_with_empty_items_or_negative_sizes_is_refused(tmp_path, dtype, shape,
                                                                     problem):
    payload = b"" if 0 in shape else b"\0"  # the size the header declares, for (0, 10**12)
    path = npz_with_member(tmp_path / "lie.npz", "x.npy", shape, payload, dtype=dtype)
    with pytest.raises(NpzError, match=f"{path}: x.npy: {problem}"):
        read_npz(path, ["x"], MIB)


def test_compressed_or_encrypted_npz_members_are_refused(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", x=np.arange(50, dtype=np.uint8))
    with pytest.raises(NpzError, match=f"{tmp_path / 'c.npz'}: x.npy: deflated; "
                                       f"expected stored, unencrypted"):
        read_npz(tmp_path / "c.npz", ["x"], MIB)
    np.savez(tmp_path / "e.npz", x=np.arange(50, dtype=np.uint8))
    data = bytearray((tmp_path / "e.npz").read_bytes())
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # the encryption bit of both headers
        at = data.find(header) + (6 if header == b"PK\x03\x04" else 8)
        data[at] |= 1
    (tmp_path / "e.npz").write_bytes(data)
    with pytest.raises(NpzError, match="x.npy: stored, encrypted; expected stored"):
        read_npz(tmp_path / "e.npz", ["x"], MIB)


def test_the_course_npz_may_be_deflated_as_numpy_writes_it(tmp_path):
    (train_x, train_y), (test_x, test_y) = tiny_data()
    np.savez_compressed(tmp_path / "omniglot_12.npz", trainX=train_x.astype(bool),
                        trainY=train_y, testX=test_x.astype(bool), testY=test_y)
    arrays = read_course_file(tmp_path / "omniglot_12.npz", MIB)
    assert np.array_equal(arrays["trainX"], train_x) and np.array_equal(arrays["testY"], test_y)


def test_a_course_npz_over_the_limit_is_refused(tmp_path):
    np.savez(tmp_path / "omniglot_12.npz", trainX=np.zeros(MIB + 1, np.uint8))
    with pytest.raises(NpzError, match=r"omniglot_12.npz: 1048\d+ bytes, more than the "
                                       r"limit of 1 MiB"):
        read_course_file(tmp_path / "omniglot_12.npz", MIB)


def test_a_corrupt_deflate_stream_in_an_npz_names_the_member(tmp_path):
    np.savez_compressed(tmp_path / "omniglot_12.npz", **{
        name: np.zeros(5000, np.uint8) for name in ("trainX", "trainY", "testX", "testY")})
    data = bytearray((tmp_path / "omniglot_12.npz").read_bytes())
    name, extra = struct.unpack_from("<2H", data, 26)  # the first local header's lengths
    stream = 30 + name + extra
    data[stream + 2:stream + 8] = b"\xff" * 6
    (tmp_path / "omniglot_12.npz").write_bytes(data)
    with pytest.raises(NpzError, match=r"omniglot_12.npz: trainX.npy: (not readable \(|not a)"):
        read_course_file(tmp_path / "omniglot_12.npz", MIB)


def directory_only_zip(entries, zip64=False):
    """A zip of one local header and `entries` central-directory entries all pointing at it:
    47 bytes per entry, each of which zipfile would turn into an object."""
    name = b"a"
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + name
    entry = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                        0, 0, 0, 0) + name
    directory = entry * entries
    end = b""
    if zip64:
        record_at = len(local) + len(directory)
        end = (struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries,
                           len(directory), len(local))
               + struct.pack("<4sLQL", b"PK\x06\x07", 0, record_at, 1))
    count, size = (0xFFFF, 0xFFFFFFFF) if zip64 else (min(entries, 0xFFFF), len(directory))
    return local + directory + end + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count,
                                                 size, len(local), 0)


@pytest.mark.parametrize("zip64", [False, True])
def test_a_zip_of_countless_entries_is_refused_before_zipfile_parses_it(tmp_path, monkeypatch,
                                                                        zip64):
    path = tmp_path / "images_background.zip"
    path.write_bytes(directory_only_zip(2000, zip64))
    with zipfile.ZipFile(path) as archive:  # a valid zip, as zipfile sees it
        assert len(archive.infolist()) == 2000
    monkeypatch.setattr(omniglot_zip, "MAX_ENTRIES", 1000)
    monkeypatch.setattr(zipfile, "ZipFile", None)  # never reached
    with pytest.raises(OmniglotZipError, match=f"{path}: more than 1000 entries"):
        omniglot_zip.zip_index(path)
    npz = tmp_path / "omniglot_12.npz"
    npz.write_bytes(path.read_bytes())
    with pytest.raises(NpzError, match=f"{npz}: a central directory of 94000 bytes; "
                                       f"expected at most 64 entries"):
        read_course_file(npz, MIB)


def stored_png_zip(path):
    """A zip of one stored PNG entry; (bytes, offset of its local and central headers)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images_background/Alpha/character01/0001_01.png", png_bytes())
    data = bytearray(path.read_bytes())
    return data, 0, data.rfind(b"PK\x01\x02")


def set_both(data, local, central, local_at, central_at, value):
    data[local + local_at:local + local_at + 2] = value.to_bytes(2, "little")
    data[central + central_at:central + central_at + 2] = value.to_bytes(2, "little")


@pytest.mark.parametrize("edit, problem", [
    (lambda d, l, c: set_both(d, l, c, 8, 10, 99), "not readable from the zip "
                                                   "(NotImplementedError"),
    (lambda d, l, c: set_both(d, l, c, 6, 8, 1), "encrypted; expected a plain PNG"),
    (lambda d, l, c: (set_both(d, l, c, 8, 10, 8), d.__setitem__(slice(80, 84), b"\xff" * 4)),
     "not readable from the zip (error: Error -3"),
])
def test_damaged_zip_entries_are_named(tmp_path, edit, problem):
    path = tmp_path / "o.zip"
    data, local, central = stored_png_zip(path)
    edit(data, local, central)
    path.write_bytes(data)
    refs = [ImageRef("train", 0, "Alpha", 1, 1)]
    with pytest.raises(OmniglotZipError) as error:
        omniglot_zip.read_images(path, refs)
    assert str(error.value).startswith(f"{path}: images_background/Alpha/character01/"
                                       f"0001_01.png: {problem}")


def test_a_zip_entry_without_a_name_is_named(tmp_path):
    path = tmp_path / "o.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x", b"")
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 28:central + 30] = (0).to_bytes(2, "little")  # name length 0
    path.write_bytes(data[:central + 46] + data[central + 47:])
    with pytest.raises(OmniglotZipError, match=f"{path}: (an entry with an empty name|not a)"):
        omniglot_zip.zip_index(path)
