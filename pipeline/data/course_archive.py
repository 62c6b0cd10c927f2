"""The course's archive format: a tar holding omniglot_12.pkl, the pickle of
((trainX, trainY), (testX, testY)).

Only read (the fetch stage writes the Fall 2024 npz format instead), never
touching the disk: the file's size is checked, then every header, then every
member, then the one expected pickle is read into memory and given to an
unpickler that only rebuilds numpy arrays, made of the pickle's own bytes
(together no larger than the member). Only uncompressed tars are read, as the
course ships them: a compressed tar's size says nothing about what it unpacks to.
"""
import tarfile
from pathlib import PurePosixPath

from pipeline.data.safe_pickle import load_arrays
from pipeline.data.size_limit import limit_text

MEMBER_NAME = "omniglot_12.pkl"
MAX_MEMBERS = 1000
BLOCK = 512
# tarfile reads a long name's or a pax header's whole body into memory before any
# member check; real ones hold a path and a few numbers.
MAX_EXTENDED_HEADER = 64 << 10
EXTENDED_TYPES = {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                  tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
PAX_TYPES = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
COMPRESSIONS = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
NOT_A_TAR = "not a readable tar archive (empty, truncated or another format)"
# What a damaged uncompressed tar can raise while being read.
DAMAGE = (tarfile.TarError, EOFError, OSError)


class ArchiveError(ValueError):
    """An archive that is unreadable, unsafe or not in the course's layout."""


def read_course_archive(path, max_bytes):
    """The unpickled object of the archive's omniglot_12.pkl, read in memory only.

    max_bytes bounds the archive file, and so every member.
    """
    try:
        with open(path, "rb") as handle:
            check_file(handle, path, max_bytes)
            name, payload = read_member(handle, path, max_bytes)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: not found; run `dvc repro fetch`") from None
    except IsADirectoryError:
        raise ArchiveError(f"{path}: is a directory; expected a tar file") from None
    except OSError as error:
        raise ArchiveError(f"{path}: cannot be read ({error.strerror or error})") from None
    return load_arrays(payload, f"{path}:{name}")


def read_member(handle, path, max_bytes):
    """(name, bytes) of the one expected member of the open tar file `handle`."""
    try:
        tar = tarfile.open(fileobj=handle, mode="r:")
    except tarfile.ReadError:
        raise ArchiveError(f"{path}: {NOT_A_TAR}") from None
    try:
        with tar:
            member = expected_member(list_members(tar, path, max_bytes), path)
            # Read whole (member.size is within max_bytes): the unpickler then
            # sizes every array by these bytes, never by what the pickle declares.
            return member.name, tar.extractfile(member).read(member.size)
    except DAMAGE as error:
        raise ArchiveError(f"{path}: truncated or corrupt archive "
                           f"({type(error).__name__}: {error})") from None


def check_file(handle, path, max_bytes):
    """Refuse a file over max_bytes, a compressed tar, and oversized extended headers."""
    size = handle.seek(0, 2)
    if size > max_bytes:
        raise ArchiveError(f"{path}: {size} bytes, more than the limit of "
                           f"{limit_text(max_bytes)}")
    handle.seek(0)
    start = handle.read(8)
    for magic, kind in COMPRESSIONS.items():
        if start.startswith(magic):
            raise ArchiveError(f"{path}: a {kind}-compressed tar; expected the course's "
                               f"uncompressed omniglot_12.pkl.tar (decompress it first)")
    handle.seek(0)
    check_headers(handle, path)
    handle.seek(0)


def check_headers(handle, path):
    """Walk the tar's 512-byte headers as tarfile will, refusing extended headers
    (long names, pax) over MAX_EXTENDED_HEADER before tarfile reads their bodies."""
    for _ in range(3 * MAX_MEMBERS + 3):  # a member may have a pax header and two long names
        offset = handle.tell()
        block = handle.read(BLOCK)
        if len(block) < BLOCK or not block.strip(b"\0"):
            return  # the end, or a truncation that tarfile reports
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            raise ArchiveError(f"{path}: " + (NOT_A_TAR if offset == 0 else
                               f"truncated or corrupt archive (bad header at byte {offset})"))
        if info.type in EXTENDED_TYPES:
            check_extended(handle, info, offset, path)
        handle.seek(offset + BLOCK + -(-info.size // BLOCK) * BLOCK)
    raise ArchiveError(f"{path}: more than {MAX_MEMBERS} members; expected a single {MEMBER_NAME}")


def check_extended(handle, info, offset, path):
    """A long name or pax header: small, and (pax) not moving the next header elsewhere."""
    if info.size > MAX_EXTENDED_HEADER:
        raise ArchiveError(f"{path}: refusing an extended header (type {info.type!r}) of "
                           f"{info.size} bytes at byte {offset}; expected at most "
                           f"{MAX_EXTENDED_HEADER} bytes")
    # A pax 'size' record overrides the next header's size, which this walk would not
    # follow; only members over 8 GiB, far beyond any limit here, need one.
    if info.type in PAX_TYPES and b" size=" in handle.read(info.size):
        raise ArchiveError(f"{path}: refusing a pax header setting a member's size at "
                           f"byte {offset}; expected members under 8 GiB")


def list_members(tar, path, max_bytes):
    """All members, each checked as soon as read, so an archive of countless headers or
    of a member the size of a disk is refused early."""
    members = []
    for member in tar:
        check_member(member, path, max_bytes)
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise ArchiveError(f"{path}: more than {MAX_MEMBERS} members; "
                               f"expected a single {MEMBER_NAME}")
    return members


def expected_member(members, path):
    """The single regular file named omniglot_12.pkl (every member passed check_member)."""
    found = [m for m in members if m.isreg() and PurePosixPath(m.name).name == MEMBER_NAME]
    if len(found) != 1:
        raise ArchiveError(f"{path}: expected exactly one regular file named {MEMBER_NAME}, "
                           f"found {len(found)}; members: {[m.name for m in members]}")
    return found[0]


def check_member(member, path, max_bytes):
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
    elif member.size > max_bytes:
        problem = (f"{member.size} bytes, more than the limit of "
                   f"{limit_text(max_bytes)}")
    if problem:
        raise ArchiveError(f"{path}: refusing member {name!r}: {problem}")
