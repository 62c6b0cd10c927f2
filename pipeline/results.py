"""Reading back what the training runs wrote, for the figures and the report."""
import json
from dataclasses import dataclass
from pathlib import Path

from .curves import read_curve


@dataclass(frozen=True)
class RunRecord:
    name: str
    config: dict          # the resolved config (config.json), incl. name and group
    metrics: dict         # metrics.json
    timing: dict          # timing.json
    confusion: list       # confusion.json "test": (num_classes, num_classes) counts, row = true
    curve: list           # curves.EpochLog per finished epoch

    @property
    def group(self):
        return self.config["group"]

    @property
    def label(self):
        return run_label(self.config)


def run_label(config):
    """Names a run by what the homework varies: hidden sizes, momentum, dropout, lr."""
    hidden = "x".join(str(size) for size in config["hidden"])
    label = f"[{hidden}] m={config['momentum']:g} p={config['dropout']:g} lr={config['lr']:g}"
    if config.get("init", "xavier_uniform") != "xavier_uniform":
        label += f" {config['init']}"
    return label


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing; has its training stage run?") from None


def load_run(name, runs_dir, curves_dir):
    """The outputs of train@<name>: runs_dir/<name>/*.json and curves_dir/<name>.csv."""
    run_dir = Path(runs_dir) / name
    return RunRecord(name=name, config=read_json(run_dir / "config.json"),
                     metrics=read_json(run_dir / "metrics.json"),
                     timing=read_json(run_dir / "timing.json"),
                     confusion=read_json(run_dir / "confusion.json")["test"],
                     curve=read_curve(Path(curves_dir) / f"{name}.csv"))


def load_runs(names, runs_dir, curves_dir):
    return [load_run(name, runs_dir, curves_dir) for name in names]


def best_run(runs):
    """The run with the highest final test accuracy (the first on ties), or None."""
    finished = [run for run in runs if run.metrics.get("final_test_accuracy") is not None]
    return max(finished, key=lambda run: run.metrics["final_test_accuracy"], default=None)


def jitter_of_test_accuracy(curve):
    """Mean |change| of test accuracy between consecutive epochs over the last half of training.

    Small means the run has settled; None with fewer than 2 epochs in that half.
    """
    late = [log.test_accuracy for log in curve[len(curve) // 2:]]
    if len(late) < 2:
        return None
    return sum(abs(b - a) for a, b in zip(late, late[1:])) / (len(late) - 1)


def by_group(runs):
    """{group: [runs]} in first-seen order."""
    groups = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    return groups
