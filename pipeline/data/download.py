"""Download one file, verified by size and md5, to a temp file beside the target.

The target appears only when both checks pass; a failed or interrupted download
leaves nothing behind.
"""
import hashlib
import http.client
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from pipeline.atomic import atomic_path

CHUNK = 1 << 16
TIMEOUT_SECONDS = 60


class DownloadError(RuntimeError):
    """A download that failed or did not match the expected size and md5."""


def download(url, target, expected_bytes, expected_md5, stream=None):
    """Fetch `url` into `target`; DownloadError (and no file) unless size and md5 match."""
    target, stream = Path(target), stream or sys.stderr
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        raise DownloadError(unreachable(url, target, error)) from None
    with response, atomic_path(target) as temp:
        size, md5 = copy_verified(response, temp, expected_bytes, url, target, stream)
        if size != expected_bytes or md5 != expected_md5:
            raise DownloadError(
                f"{url}: got {size} bytes with md5 {md5}, expected {expected_bytes} bytes "
                f"with md5 {expected_md5}; nothing was saved at "
                f"{target}")


def copy_verified(response, temp, expected_bytes, url, target, stream):
    """Stream `response` into `temp`; returns (bytes, md5). Stops once past expected_bytes."""
    md5, size = hashlib.md5(), 0
    quiet = not (hasattr(stream, "isatty") and stream.isatty())
    with open(temp, "wb") as out, tqdm(total=expected_bytes, unit="B", unit_scale=True,
                                       unit_divisor=1024, desc=target.name, file=stream,
                                       disable=quiet, leave=False) as progress:
        while True:
            try:
                chunk = response.read(CHUNK)
            # IncompleteRead (a connection closed mid-body) is an HTTPException, not an OSError.
            except (OSError, socket.timeout, http.client.HTTPException) as error:
                raise DownloadError(unreachable(url, target, error)) from None
            if not chunk:
                return size, md5.hexdigest()
            size += len(chunk)
            if size > expected_bytes:
                raise DownloadError(f"{url}: more than the expected {expected_bytes} bytes; "
                                    f"nothing was saved at {target}")
            md5.update(chunk)
            out.write(chunk)
            progress.update(len(chunk))


def unreachable(url, target, error):
    reason = getattr(error, "reason", error)
    return f"could not download {url} to {target} ({reason})"
