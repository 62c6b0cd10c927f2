"""Writes that never leave a half-written file: write a temp file, then rename."""
import contextlib
import json
import os
import tempfile
from pathlib import Path


def _file_mode():
    """0o666 minus the process umask: what open() would have given the file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()  # mkstemp creates 0o600 files; outputs should be readable like any other


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(temp, FILE_MODE)
    try:
        yield Path(temp)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def write_bytes(path, data):
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_text(path, text):
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")


def json_text(obj):
    """Stable JSON: sorted keys, 2-space indent, trailing newline; NaN/inf are refused."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path, obj):
    write_text(path, json_text(obj))
