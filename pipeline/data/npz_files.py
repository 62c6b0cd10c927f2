"""npz files written byte for byte reproducibly and read without trusting their headers.

Writing: uncompressed members with a fixed date, so the same arrays give the same
bytes on any machine (compressed bytes would depend on the zlib build) and DVC sees
no change when nothing changed. Reading: no pickles, exactly the expected members,
and every array's declared shape checked against its member's size before numpy
allocates anything, so a few bytes of header can never ask for gigabytes.
"""
import struct
import zipfile
import zlib

import numpy as np

from pipeline.atomic import atomic_path

FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
NPY_SUFFIX = ".npy"
# Read in pieces: one huge read would allocate a second copy of the array as bytes.
READ_CHUNK = 1 << 20
# Numbers, and text for the prepared file's class names; each item at least one byte,
# so that a shape's allocation is bounded by the member's size.
NPY_KINDS = "biufU"
MAX_NDIM = 32
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# What zipfile raises on a damaged zip besides BadZipFile: a corrupt deflate stream
# (zlib.error), an unknown method (NotImplementedError), an encrypted entry
# (RuntimeError), flipped header bytes (struct.error, IndexError, ValueError, EOFError).
ZIP_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, RuntimeError, EOFError,
              OSError, ValueError, IndexError, struct.error)
# The end records: end of central directory, and zip64's locator and end record.
EOCD = (b"PK\x05\x06", 22)
ZIP64_LOCATOR = (b"PK\x06\x07", 20)
ZIP64_EOCD = (b"PK\x06\x06", 56)
DIRECTORY_ENTRY = (b"PK\x01\x02", 46)
MAX_ZIP_COMMENT = 0xFFFF
# Omniglot's entries take 100-115 bytes each in the directory; this average is generous.
MAX_DIRECTORY_ENTRY_BYTES = 512
# An npz may list a few members besides its arrays, to be named in the error; no more.
STRAY_ENTRIES = 60


class NpzError(ValueError):
    """An npz that is unreadable, holds other members, or declares more than it holds."""


def write_npz(path, arrays):
    """Write {name: array} to `path` atomically, uncompressed, C order, no pickles."""
    with atomic_path(path) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}{NPY_SUFFIX}", date_time=FIXED_ZIP_DATE)
            with archive.open(entry, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, order="C"),
                                          allow_pickle=False)


def read_npz(path, names, max_member_bytes, methods=(zipfile.ZIP_STORED,)):
    """{name: array} for exactly `names`; NpzError naming the file for anything else.

    methods: the compression methods a member may use (only stored ones by default,
    as write_npz writes them).
    """
    try:
        with open(path, "rb") as handle:
            check_entry_count(handle, path, len(names) + STRAY_ENTRIES, NpzError)
            with zipfile.ZipFile(handle) as archive:
                found = sorted(info.filename for info in archive.infolist())
                expected = sorted(f"{name}{NPY_SUFFIX}" for name in names)
                if found != expected:
                    raise NpzError(f"{path}: expected arrays {sorted(names)}, found members "
                                   f"{found[:10]}")
                return {name: read_member(archive, f"{name}{NPY_SUFFIX}", path,
                                          max_member_bytes, methods) for name in names}
    except NpzError:
        raise
    except FileNotFoundError:
        raise NpzError(f"{path}: not found") from None
    except IsADirectoryError:
        raise NpzError(f"{path}: is a directory; expected an npz file") from None
    except ZIP_DAMAGE as error:
        raise NpzError(f"{path}: not a readable npz ({type(error).__name__}: {error})") from None


def read_member(archive, member, path, max_member_bytes, methods):
    """One .npy member, after its header's shape and dtype were checked against its size."""
    info = archive.getinfo(member)
    check_entry(info, member, path, max_member_bytes, methods)
    try:
        with archive.open(member) as handle:
            shape, fortran, dtype = read_header(handle, member, path)
            check_declared(shape, dtype, info.file_size - handle.tell(), member, path,
                           max_member_bytes)
            array = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
            fill(handle, array.reshape(-1).view(np.uint8), member, path)
    except NpzError:
        raise
    except ZIP_DAMAGE as error:
        raise NpzError(f"{path}: {member}: not readable ({type(error).__name__}: "
                       f"{error})") from None
    return np.ascontiguousarray(array.T if fortran else array)


def check_entry(info, member, path, max_member_bytes, methods):
    """The zip entry: within the limit, stored (or another of `methods`), not encrypted."""
    if info.file_size > max_member_bytes:
        raise NpzError(f"{path}: {member} holds {info.file_size} bytes, more than the limit "
                       f"of {max_member_bytes} bytes")
    if info.compress_type not in methods or info.flag_bits & 0x1:
        found = METHODS.get(info.compress_type, f"compression method {info.compress_type}")
        raise NpzError(f"{path}: {member}: {found}"
                       f"{', encrypted' if info.flag_bits & 0x1 else ''}; expected "
                       f"{' or '.join(METHODS[m] for m in methods)}, unencrypted")


def check_declared(shape, dtype, data_bytes, member, path, max_member_bytes):
    """Refuse a shape whose bytes are not exactly the member's data, or that numpy cannot
    make: with items of a byte or more, np.empty then allocates at most data_bytes."""
    sizes = f"expected at most {MAX_NDIM} sizes of 0..{max_member_bytes}"
    if not (len(shape) <= MAX_NDIM and all(n >= 0 for n in shape)):
        raise NpzError(f"{path}: {member}: shape {shape}; {sizes}")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared != data_bytes:
        raise NpzError(f"{path}: {member}: header declares {shape} {dtype} "
                       f"({declared} bytes) but the member holds {data_bytes} bytes of data")
    if max(shape, default=0) > max_member_bytes:  # e.g. (0, 10**40): no bytes, yet too big
        raise NpzError(f"{path}: {member}: shape {shape}; {sizes}")


def read_header(handle, member, path):
    """(shape, fortran_order, dtype) of a .npy stream positioned at its start."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as error:
        raise NpzError(f"{path}: {member}: not a .npy array ({error})") from None
    if dtype.kind not in NPY_KINDS or dtype.itemsize == 0 or dtype.fields or dtype.subdtype:
        raise NpzError(f"{path}: {member}: dtype {dtype}; expected bool, integer, float or "
                       f"text items of at least one byte")
    return shape, fortran, dtype


def fill(handle, buffer, member, path):
    """Read exactly len(buffer) bytes from `handle` into `buffer` (uint8 view of an array)."""
    done = 0
    while done < len(buffer):
        count = handle.readinto(buffer[done:done + READ_CHUNK])
        if not count:
            raise NpzError(f"{path}: {member}: truncated after {done} of "
                           f"{len(buffer)} bytes of data")
        done += count


def check_entry_count(handle, path, max_entries, error):
    """Refuse a zip whose central directory lists more than max_entries entries, before
    zipfile parses it (zipfile makes an object per entry, whatever the end record says).

    The directory is found as zipfile finds it and walked entry by entry without keeping
    anything; a zip too damaged to walk is left for zipfile to refuse.
    """
    found = directory_span(handle)
    if found is None:
        return
    start, size = found
    if size > max(max_entries, 1) * MAX_DIRECTORY_ENTRY_BYTES:
        raise error(f"{path}: a central directory of {size} bytes; expected at most "
                    f"{max_entries} entries")
    handle.seek(start)
    directory, offset, count = handle.read(size), 0, 0
    signature, fixed = DIRECTORY_ENTRY
    while directory[offset:offset + 4] == signature and offset + fixed <= len(directory):
        name, extra, comment = struct.unpack_from("<3H", directory, offset + 28)
        offset += fixed + name + extra + comment
        count += 1
        if count > max_entries:
            raise error(f"{path}: more than {max_entries} entries; expected at most "
                        f"{max_entries}")


def directory_span(handle):
    """(start, size) of the central directory as zipfile locates it, else None."""
    file_size = handle.seek(0, 2)
    end = end_record(handle, file_size)
    if end is None:
        return None
    handle.seek(end + 12)
    size = struct.unpack("<L", handle.read(4))[0]
    end_of_directory = end
    locator, zip64 = end - ZIP64_LOCATOR[1], end - ZIP64_LOCATOR[1] - ZIP64_EOCD[1]
    if zip64 >= 0 and record_at(handle, locator, ZIP64_LOCATOR) \
            and record_at(handle, zip64, ZIP64_EOCD):
        handle.seek(zip64 + 40)
        size = struct.unpack("<Q", handle.read(8))[0]
        end_of_directory = zip64
    start = end_of_directory - size
    return (start, size) if start >= 0 else None


def end_record(handle, file_size):
    """Offset of the end-of-central-directory record: last 22 bytes, else searched for
    within the largest comment, as zipfile does."""
    signature, length = EOCD
    if file_size >= length:
        handle.seek(file_size - length)
        tail = handle.read(length)
        if tail.startswith(signature) and tail.endswith(b"\0\0"):
            return file_size - length
    first = max(file_size - MAX_ZIP_COMMENT - length, 0)
    handle.seek(first)
    tail = handle.read()
    found = tail.rfind(signature)
    return first + found if found >= 0 and len(tail) - found >= length else None


def record_at(handle, offset, record):
    signature, _ = record
    handle.seek(offset)
    return handle.read(len(signature)) == signature
