"""The course's archive format: a tar holding omniglot_12.pkl, the pickle of
((trainX, trainY), (testX, testY)).

Only read (the fetch stage writes the Fall 2024 npz format instead), never
touching the disk: every member is checked first, then the one expected pickle
is read into memory and given to an unpickler that only rebuilds numpy arrays,
made of the pickle's own bytes (together no larger than the member).
"""
import pickle
import struct
import tarfile
import zlib
from pathlib import PurePosixPath

from pipeline.data.safe_pickle import UnsafePickleError, load_arrays

MEMBER_NAME = "omniglot_12.pkl"
MAX_MEMBERS = 1000
MIB = 1 << 20
# What a damaged tar or pickle can raise while being read.
DAMAGE = (tarfile.TarError, EOFError, OSError, zlib.error, pickle.UnpicklingError,
          ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error)


class ArchiveError(ValueError):
    """An archive that is unreadable, unsafe or not in the course's layout."""


def read_course_archive(path, max_member_bytes):
    """The unpickled object of the archive's omniglot_12.pkl, read in memory only."""
    try:
        tar = tarfile.open(path, "r:*")
    except FileNotFoundError:
        raise ArchiveError(f"{path}: not found; run `dvc repro fetch`") from None
    except (tarfile.TarError, EOFError, zlib.error):
        raise ArchiveError(f"{path}: not a readable tar archive "
                           f"(empty, truncated or another format)") from None
    except OSError as error:
        raise ArchiveError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        with tar:
            member = expected_member(list_members(tar, path), path, max_member_bytes)
            # Read whole (member.size is within max_member_bytes): the unpickler
            # then sizes every array by these bytes, never by what the pickle declares.
            payload = tar.extractfile(member).read(member.size)
            return load_arrays(payload, f"{path}:{member.name}")
    except (ArchiveError, UnsafePickleError):
        raise
    except DAMAGE as error:
        raise ArchiveError(f"{path}: truncated or corrupt archive or pickle "
                           f"({type(error).__name__}: {error})") from None


def list_members(tar, path):
    """All members, read lazily so an archive of countless headers is refused early."""
    members = []
    for member in tar:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise ArchiveError(f"{path}: more than {MAX_MEMBERS} members; "
                               f"expected a single {MEMBER_NAME}")
    return members


def expected_member(members, path, max_member_bytes):
    """The single regular file named omniglot_12.pkl, after every member passed check_member."""
    for member in members:
        check_member(member, path, max_member_bytes)
    found = [m for m in members if m.isreg() and PurePosixPath(m.name).name == MEMBER_NAME]
    if len(found) != 1:
        raise ArchiveError(f"{path}: expected exactly one regular file named {MEMBER_NAME}, "
                           f"found {len(found)}; members: {[m.name for m in members]}")
    return found[0]


def check_member(member, path, max_member_bytes):
    """Refuse what could escape a target folder, point elsewhere, or exhaust memory."""
    name = member.name
    problem = None
    if PurePosixPath(name).is_absolute():
        problem = "absolute path"
    elif ".." in PurePosixPath(name).parts:
        problem = "'..' in its path"
    elif member.issym():
        problem = f"symbolic link to {member.linkname!r}"
    elif member.islnk():
        problem = f"hard link to {member.linkname!r}"
    elif member.isdev():
        problem = "device or fifo"
    elif not (member.isreg() or member.isdir()):
        problem = f"unsupported member type {member.type!r}"
    elif member.size > max_member_bytes:
        problem = (f"{member.size} bytes, more than the limit of "
                   f"{max_member_bytes / MIB:g} MiB (fetch.max_input_mb)")
    if problem:
        raise ArchiveError(f"{path}: refusing member {name!r}: {problem}")
