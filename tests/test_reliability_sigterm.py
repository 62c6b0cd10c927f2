"""Class 5 of issue 11: SIGTERM during a write leaves no temp file, like Ctrl-C.

Real processes, really killed: one stopped in the middle of an atomic write,
one a training stage stopped between epochs.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.prepared import Dataset, save_prepared
from tests.test_training import DEFAULTS
from tests.conftest import live_ctrl_c

ROOT = Path(__file__).resolve().parents[1]
# Writes half of a file through atomic_path, says so, then waits to be killed.
HALF_WRITE = """
import sys, time
from pipeline.atomic import atomic_path
with atomic_path(sys.argv[1]) as temp:
    with open(temp, "wb") as handle:
        handle.write(b"x" * 1_000_000)
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)
"""

# The train stage's own main(), once its imports are done: a SIGTERM during the
# imports would meet Python's default handler, before any stage code runs.
TRAIN = """
import sys
import stages.train
print("imported", flush=True)
stages.train.main(sys.argv[1:])
"""


def start(args, cwd):
    return subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=live_ctrl_c,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def terminate(process, signum=signal.SIGTERM):
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr


def temp_files(folder):
    return sorted(path.name for path in folder.rglob(".*.tmp"))


def test_sigterm_in_the_middle_of_a_write_removes_the_temp_file(tmp_path):
    target = tmp_path / "out" / "big.bin"
    process = start(["-c", HALF_WRITE, str(target)], tmp_path)
    assert process.stdout.readline() == "writing\n"
    assert len(temp_files(tmp_path)) == 1  # the write is really under way
    status, stderr = terminate(process)
    assert status == 128 + signal.SIGTERM
    assert "Traceback" not in stderr
    assert temp_files(tmp_path) == [] and not target.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_a_training_stage_cleanly(tmp_path, signum):
    rng = np.random.default_rng(0)
    x = (rng.random((64, 11025)) < 0.2).astype(np.uint8)
    y = np.arange(64, dtype=np.int64) % 3
    save_prepared(tmp_path / "prepared.npz", Dataset(x, y, x[:16], y[:16], ("a", "b", "c")))
    params = {"train": {**DEFAULTS, "epochs": 100_000, "hidden": [8]},
              "experiments": {"long": {"group": "2.1"}}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    process = start(["-c", TRAIN, "long", "prepared.npz", "models/long.npz", "runs/long",
                     "curves/long.csv"], tmp_path)
    assert process.stdout.readline() == "imported\n"
    time.sleep(1)  # well into training
    assert process.poll() is None
    status, stderr = terminate(process, signum)
    assert status == 128 + signum
    assert "Traceback" not in stderr
    # Stopped between epochs, before any output is written (a write cut short is the
    # test above): nothing of the run exists, not even a directory.
    assert not (tmp_path / "runs").exists() and not (tmp_path / "models").exists()
