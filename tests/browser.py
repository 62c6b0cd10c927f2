"""Render local HTML pages in Debian's headless chromium, with the network unusable.

Install with `apt-get install chromium`. Tests call
`require(chromium_available(), CHROMIUM_REQUIREMENT)` (see conftest.py).
"""
import os
import signal
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_REQUIREMENT = "Debian chromium (apt-get install chromium)"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these chromium connects out at startup; a closed network refuses those.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Small /dev/shm in containers crashes chromium; the Debian wrapper's own check
    # for that misparses some findmnt outputs.
    "--disable-dev-shm-usage",
    # No host name resolves and every request goes to a dead proxy, so anything the
    # page tries to fetch fails instead of quietly working on a connected machine.
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
]


def chromium_available():
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def render_in_chromium(html_path, screenshot_path=None, timeout=60,
                       window_size=(1200, 900), budget_ms=5000):
    """The page's DOM after `budget_ms` of virtual time; optionally a PNG screenshot too."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        args = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                f"--window-size={window_size[0]},{window_size[1]}", "--dump-dom"]
        if screenshot_path:
            Path(screenshot_path).parent.mkdir(parents=True, exist_ok=True)
            args.append(f"--screenshot={Path(screenshot_path).resolve()}")
        args.append(Path(html_path).resolve().as_uri())
        # Own process group, so a hung browser is killed with its helper processes.
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        try:
            dom, errors = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    if process.returncode != 0:
        raise RuntimeError(f"chromium exited with {process.returncode}:\n{errors[-3000:]}")
    return dom
