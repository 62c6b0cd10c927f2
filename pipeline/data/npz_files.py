"""npz files written byte for byte reproducibly and read without trusting their headers.

Writing: uncompressed members with a fixed date, so the same arrays give the same
bytes on any machine (compressed bytes would depend on the zlib build) and DVC sees
no change when nothing changed. Reading: no pickles, exactly the expected members,
and every array's declared shape checked against its member's size before numpy
allocates anything, so a few bytes of header can never ask for gigabytes.
"""
import zipfile

import numpy as np

from pipeline.atomic import atomic_path

FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
NPY_SUFFIX = ".npy"
# Read in pieces: one huge read would allocate a second copy of the array as bytes.
READ_CHUNK = 1 << 20


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


def read_npz(path, names, max_member_bytes):
    """{name: array} for exactly `names`; NpzError naming the file for anything else."""
    try:
        with zipfile.ZipFile(path) as archive:
            found = sorted(info.filename for info in archive.infolist())
            expected = sorted(f"{name}{NPY_SUFFIX}" for name in names)
            if found != expected:
                raise NpzError(f"{path}: expected arrays {sorted(names)}, found members "
                               f"{found[:10]}")
            return {name: read_member(archive, f"{name}{NPY_SUFFIX}", path, max_member_bytes)
                    for name in names}
    except FileNotFoundError:
        raise NpzError(f"{path}: not found") from None
    except IsADirectoryError:
        raise NpzError(f"{path}: is a directory; expected an npz file") from None
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise NpzError(f"{path}: not a readable npz ({error})") from None


def read_member(archive, member, path, max_member_bytes):
    """One .npy member, after its header's shape and dtype were checked against its size."""
    info = archive.getinfo(member)
    if info.file_size > max_member_bytes:
        raise NpzError(f"{path}: {member} holds {info.file_size} bytes, more than the limit "
                       f"of {max_member_bytes} bytes")
    with archive.open(member) as handle:
        shape, fortran, dtype = read_header(handle, member, path)
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if declared != info.file_size - handle.tell():
            raise NpzError(f"{path}: {member}: header declares {shape} {dtype} "
                           f"({declared} bytes) but the member holds "
                           f"{info.file_size - handle.tell()} bytes of data")
        array = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
        fill(handle, array.reshape(-1).view(np.uint8), member, path)
    return np.ascontiguousarray(array.T if fortran else array)


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
    if dtype.hasobject:
        raise NpzError(f"{path}: {member}: dtype {dtype} holds Python objects; "
                       f"expected numbers")
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
