"""The same numpy timings with OpenBLAS's own kernel choice, when the environment forces one.

OPENBLAS_CORETYPE (set on this project's machines to Haswell) pins OpenBLAS to
one CPU's kernels, which keeps float results identical across hosts but leaves
a newer CPU's wider vector units idle. OpenBLAS reads it once, at load time, so
the comparison runs the numpy part of this benchmark in a child process
without it, side by side with the configured run.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .workload import DTYPES, ROOT

FORCING_VARIABLE = "OPENBLAS_CORETYPE"


def forced_kernel():
    return os.environ.get(FORCING_VARIABLE)


def own_choice_timings(args):
    """Child run of `benchmarks.epoch --numpy-only` without the variable: its results dict."""
    env = {key: value for key, value in os.environ.items() if key != FORCING_VARIABLE}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="bench-kernels-") as folder:
        out = Path(folder) / "numpy.json"
        command = [sys.executable, "-m", "benchmarks.epoch", "--numpy-only",
                   "--repeats", str(args.repeats), "--threads", str(args.threads),
                   "--batch-size", str(args.batch_size), "--data", str(args.data),
                   "--json", str(out)] + (["--quick"] if args.quick else [])
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        child = json.loads(out.read_text())
    return {"blas": child["blas"], "networks": child["networks"]}


def compare_with_torch(native, networks):
    """Adds mlpcore_over_torch to the child's rows, using the torch times of this run."""
    for name, network in native["networks"].items():
        for dtype in DTYPES:
            row = network[dtype]
            torch = networks[name][dtype]["torch"]
            row["mlpcore_over_torch"] = (row["mlpcore"]["median"] / torch["median"]
                                         if torch else None)
