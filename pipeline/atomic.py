"""Writes that never leave a half-written file: write a temp file, then rename.

The temp file is removed in a `finally`, which Ctrl-C (KeyboardInterrupt)
reaches but a default SIGTERM does not: the process would die on the spot. So
the first atomic write (and every stage's start, see stage_runner) makes
SIGTERM raise SystemExit instead, which unwinds the same way.
"""
import contextlib
import json
import os
import signal
import tempfile
import threading
from pathlib import Path


def _file_mode():
    """0o666 minus the process umask: what open() would have given the file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()  # mkstemp creates 0o600 files; outputs should be readable like any other


def exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)  # the shell's exit status for death by this signal


def handle_sigterm():
    """Make SIGTERM unwind like Ctrl-C, unless someone installed their own handler.

    Signal handlers can only be set from the main thread; other threads keep the default.
    """
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
        signal.signal(signal.SIGTERM, exit_on_signal)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    handle_sigterm()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:  # from here on, a signal's SystemExit still removes the temp file
        os.close(handle)
        os.chmod(temp, FILE_MODE)
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
