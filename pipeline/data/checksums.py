"""File checksums, read in chunks so large files never sit in memory."""
import hashlib

CHUNK = 1 << 20


def file_digests(path, algorithms=("sha256",)):
    """{"bytes": size, <algorithm>: hex digest, ...} of the file at `path`."""
    hashes = {name: hashlib.new(name) for name in algorithms}
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            for digest in hashes.values():
                digest.update(chunk)
    return {"bytes": size, **{name: digest.hexdigest() for name, digest in hashes.items()}}
