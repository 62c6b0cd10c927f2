"""The files one training run leaves behind: where they go, how they are written and read.

    models/<run>.npz, models/<run>.best.npz      final and best-epoch weights (mlpcore.save_params)
    <run dir>/config.json                        the resolved config
    <run dir>/metrics.json                       final and best figures: a pure function of
                                                 params and seed, byte-identical on a rerun
    <run dir>/timing.json                        wall time and what ran it (varies by machine)
    <run dir>/confusion.json                     the final model's test confusion matrix
    plots/curves/<run>.csv                       per-epoch curve (pipeline/training/curves.py)

The writer is train's; the reader is for figures and report, and checks every file
on the way in: a missing, truncated or hand-edited file becomes an InputFileError
naming the file and what was expected.
"""
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipeline.atomic import write_bytes, write_json, write_text
from pipeline.params import NAME_PATTERN, NAME_RULE
from pipeline.small_files import read_small_json
from pipeline.training.curves import CURVE_COLUMNS, curve_csv, read_curve

CONFIG, METRICS, TIMING, CONFUSION = "config.json", "metrics.json", "timing.json", "confusion.json"

# A run's JSON files are a few hundred bytes; anything near this is not one of them.
MAX_JSON_BYTES = 1 << 20
NUMBER, INTEGER, TEXT, FLAG = "a number", "an integer", "text", "true or false"
CONFIG_FIELDS = {"name": TEXT, "group": TEXT, "hidden": "a list of integers",
                 "momentum": NUMBER, "dropout": NUMBER, "lr": NUMBER, "init": TEXT,
                 "epochs": INTEGER, "batch_size": INTEGER, "dtype": TEXT, "seed": INTEGER}
RUN_STATE_FIELDS = {"status": TEXT, "epochs_run": INTEGER}
METRICS_FIELDS = {"best_test_accuracy": NUMBER, "best_epoch": INTEGER,
                  "final_train_loss": NUMBER, "final_train_accuracy": NUMBER,
                  "final_test_loss": NUMBER, "final_test_accuracy": NUMBER}
OPTIONAL_METRICS = {"diverged_at_epoch": INTEGER, "training_loss_rose": FLAG}
TIMING_FIELDS = {"wall_seconds": NUMBER}
# What figures and report take from the prepare stage's metrics/data.json.
DATA_FIELDS = {"source": TEXT, "set": TEXT, "input_sha256": TEXT, "num_classes": INTEGER}
DATA_PARTS = {"train": {"images": INTEGER}, "test": {"images": INTEGER},
              "pixels": {"encoding": TEXT, "order": TEXT, "ink_fraction": NUMBER}}
STATUSES = ("completed", "diverged")


class RunPaths(NamedTuple):
    """Where train@<run> reads its data and writes its files (all given on its command line)."""
    data: Path
    model: Path
    run_dir: Path
    curves: Path


# --- writing (the train stage) -------------------------------------------------------

def run_metrics(result, epochs_planned):
    """Final and best figures of a run; None where no epoch finished.

    result: a TrainingResult, whose best.log is the first epoch of highest test accuracy.
    """
    last = result.curve[-1] if result.curve else None
    best = result.best.log if result.best else None
    metrics = {
        "status": result.status,
        "epochs_run": len(result.curve),
        "epochs_planned": epochs_planned,
        "best_test_accuracy": best.test_accuracy if best else None,
        "best_epoch": best.epoch if best else None,
    }
    for name in CURVE_COLUMNS[1:]:
        metrics[f"final_{name}"] = getattr(last, name) if last else None
    if result.diverged_at_epoch is not None:
        metrics["diverged_at_epoch"] = result.diverged_at_epoch
    # A finite but useless run (lr: 1000) still completes; this tells it apart.
    metrics["training_loss_rose"] = bool(last and last.train_loss > result.curve[0].train_loss)
    return metrics


def best_model_path(model_path):
    """models/<run>.npz -> models/<run>.best.npz"""
    return model_path.with_name(f"{model_path.stem}.best.npz")


def model_bytes(model):
    """An npz of model.getWs() and model.getbs(), as mlpcore.save_params writes it."""
    # Imported here: figures and report read a run's files, and must not depend on
    # (and rerun for) the network's code.
    import mlpcore as mlp  # noqa: PLC0415
    buffer = io.BytesIO()
    mlp.save_params(buffer, model)
    return buffer.getvalue()


class RunTiming(NamedTuple):
    """How long a run took; timing.json, since it varies by machine, not by params."""
    wall_seconds: float  # setup (data cast, model init) and every epoch
    cpu_seconds: float   # this process's user + system time, every BLAS thread included
    epoch_seconds: list  # wall seconds of each finished epoch, setup not included

    def record(self):
        per_epoch = (sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds
                     else self.wall_seconds)
        return {"wall_seconds": round(self.wall_seconds, 3),
                "seconds_per_epoch": round(per_epoch, 4),
                "cpu_seconds": round(self.cpu_seconds, 3),
                "cores_used": round(self.cpu_seconds / max(self.wall_seconds, 1e-9), 3),
                "epoch_seconds": [round(seconds, 4) for seconds in self.epoch_seconds]}


def write_run(paths, experiment, result, timing, confusion, execution=None):
    """Write every output of a run; metrics.json last, so its presence means 'complete'.

    When no epoch finished (divergence in the first), the best model is the final one.
    timing: RunTiming. confusion: (num_classes, num_classes) test-set counts of the
    final model, row = true class. execution: what ran it (kernels, BLAS libraries,
    threads, numpy), kept in timing.json with the timing.
    """
    write_bytes(paths.model, model_bytes(result.model))
    write_bytes(best_model_path(paths.model), model_bytes(result.best or result.model))
    write_text(paths.curves, curve_csv(result.curve))
    write_json(paths.run_dir / CONFIG, experiment.resolved())
    write_json(paths.run_dir / CONFUSION, {"test": confusion.tolist()})
    write_json(paths.run_dir / TIMING,
               {**timing.record(), **({"execution": execution} if execution else {})})
    write_json(paths.run_dir / METRICS, run_metrics(result, experiment.config.epochs))


# --- reading (figures and report) ---------------------------------------------------


class InputFileError(ValueError):
    """A file written by an earlier stage that is missing or malformed; names the file."""


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
    if config["init"] != "xavier_uniform":
        label += f" {config['init']}"
    return label


def read_json(path):
    """The JSON object in `path` (a dict), finite numbers only; InputFileError otherwise."""
    path = Path(path)
    record = read_small_json(path, MAX_JSON_BYTES, InputFileError,
                             "a small JSON file written by the pipeline; rerun the stage "
                             "that writes it")
    if not isinstance(record, dict):
        raise InputFileError(f"{path}: expected a JSON object, found {type(record).__name__}")
    return record


def is_kind(value, kind):
    if kind == TEXT:
        return isinstance(value, str)
    if kind == FLAG:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == INTEGER:
        return isinstance(value, int)
    if kind == NUMBER:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, list) and all(is_kind(item, INTEGER) for item in value)


def check_fields(record, fields, path, nullable=False, optional=False):
    """Each key of `fields` present (unless optional) and of its kind (or null if nullable)."""
    for key, kind in fields.items():
        if key not in record:
            if optional:
                continue
            raise InputFileError(f"{path}: missing key {key!r}; rerun the stage that writes it")
        value = record[key]
        if not (is_kind(value, kind) or (nullable and value is None)):
            raise InputFileError(f"{path}: {key}: expected {kind}"
                                 f"{' or null' if nullable else ''}, found {value!r}")
    return record


def read_config(path, name):
    config = check_fields(read_json(path), CONFIG_FIELDS, path)
    if config["name"] != name:
        raise InputFileError(f"{path}: name: expected {name!r}, found {config['name']!r}")
    if not NAME_PATTERN.fullmatch(config["group"]):
        raise InputFileError(f"{path}: group {config['group']!r} is not allowed; "
                             f"expected {NAME_RULE}")
    return config


def read_metrics(path):
    """A run's metrics.json; its figures are null exactly when no epoch finished."""
    metrics = check_fields(read_json(path), RUN_STATE_FIELDS, path)
    check_fields(metrics, METRICS_FIELDS, path, nullable=metrics["epochs_run"] == 0)
    check_fields(metrics, OPTIONAL_METRICS, path, optional=True)
    if metrics["status"] not in STATUSES:
        raise InputFileError(f"{path}: status: expected one of {list(STATUSES)}, "
                             f"found {metrics['status']!r}")
    if metrics["status"] == "diverged" and "diverged_at_epoch" not in metrics:
        raise InputFileError(f"{path}: status 'diverged' without diverged_at_epoch")
    return metrics


def read_data_report(path):
    """metrics/data.json with the fields figures and report use, or InputFileError naming it."""
    report = check_fields(read_json(path), DATA_FIELDS, path)
    names = report.get("class_names")
    if not (isinstance(names, list) and len(names) == report["num_classes"]
            and all(isinstance(name, str) for name in names)):
        raise InputFileError(f"{path}: class_names: expected num_classes names, found "
                             f"{names!r:.80}")
    for part, fields in DATA_PARTS.items():
        if not isinstance(report.get(part), dict):
            raise InputFileError(f"{path}: {part}: expected an object, found "
                                 f"{report.get(part)!r}")
        check_fields(report[part], fields, f"{path}: {part}")
    return report


def read_confusion(path, num_classes=None):
    """confusion.json's "test": a square list of lists of counts, row = true class.

    num_classes: the data's class count (metrics/data.json), which the matrix must match.
    """
    matrix = read_json(path).get("test")
    if not (isinstance(matrix, list) and matrix
            and all(isinstance(row, list) and len(row) == len(matrix)
                    and all(is_kind(n, INTEGER) and n >= 0 for n in row) for row in matrix)):
        raise InputFileError(f"{path}: test: expected a square matrix of counts >= 0; "
                             f"rerun the run's training stage")
    if num_classes is not None and len(matrix) != num_classes:
        raise InputFileError(f"{path}: test: expected {num_classes}x{num_classes} (the data's "
                             f"classes), found {len(matrix)}x{len(matrix)}; rerun the run's "
                             f"training stage")
    return matrix


def load_run(name, runs_dir, curves_dir, num_classes=None):
    """The outputs of train@<name>: runs_dir/<name>/*.json and curves_dir/<name>.csv.

    num_classes: when given, the run's confusion matrix must be num_classes square.
    """
    run_dir = Path(runs_dir) / name
    return RunRecord(name=name, config=read_config(run_dir / CONFIG, name),
                     metrics=read_metrics(run_dir / METRICS),
                     timing=check_fields(read_json(run_dir / TIMING), TIMING_FIELDS,
                                         run_dir / TIMING),
                     confusion=read_confusion(run_dir / CONFUSION, num_classes),
                     curve=read_curve(Path(curves_dir) / f"{name}.csv"))


def load_runs(names, runs_dir, curves_dir, num_classes=None):
    return [load_run(name, runs_dir, curves_dir, num_classes) for name in names]


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
