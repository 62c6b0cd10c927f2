"""The grid's config checks and the training loop, on tiny synthetic data."""
import copy
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.data.prepared import PIXELS, Dataset, save_prepared
from pipeline.params import ParamsError
from pipeline.training.runs import RunPaths, write_run
from pipeline.training import cpu_kernels
from pipeline.training.confusion import confusion_matrix
from pipeline.training.curves import CURVE_COLUMNS
from pipeline.training.experiments import parse_experiment
from pipeline.training.loop import Snapshot, TrainingResult
from stages.train import run_experiment
from tests.conftest import ROOT

DEFAULTS = {"hidden": [16], "momentum": 0.0, "dropout": 0.0, "lr": 0.05, "epochs": 2,
            "batch_size": 16, "init": "xavier_uniform", "dtype": "float64", "seed": 0,
            "threads": 1, "kernels": "portable"}


def params_with(experiment=None, defaults=None):
    return {"train": {**DEFAULTS, **(defaults or {})},
            "experiments": {"tiny": {"group": "2.1", **(experiment or {})}}}


def blobs(seed=0, classes=3, pixels=64, train=150, test=60):
    """A separable stand-in for the prepared dataset: binary images around class prototypes."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((classes, pixels)) < 0.5

    def draw(count):
        labels = np.arange(count) % classes
        flips = rng.random((count, pixels)) < 0.1
        return (prototypes[labels] ^ flips).astype(np.uint8), labels.astype(np.int64)

    (train_x, train_y), (test_x, test_y) = draw(train), draw(test)
    return SimpleNamespace(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y,
                           num_classes=classes)


def result_of(curve, status="completed", diverged_at_epoch=None):
    """A TrainingResult (without weights) as train() leaves it after `curve`."""
    best = None
    for log in curve:
        if best is None or log.test_accuracy > best.log.test_accuracy:
            best = Snapshot(log, [], [])
    return TrainingResult(None, list(curve), status, diverged_at_epoch, best)


def run_into(tmp_path, params, name="tiny", dataset=None):
    experiment = parse_experiment(params, name)
    paths = RunPaths(None, tmp_path / "model.npz", tmp_path / "run", tmp_path / "curves.csv")
    dataset = dataset or blobs()
    result, timing = run_experiment(experiment, dataset)
    write_run(paths, experiment, result, timing, confusion_matrix(result.model, result.test))
    return paths, result


def test_defaults_fill_what_an_experiment_leaves_out():
    experiment = parse_experiment(params_with({"lr": 0.5, "hidden": [4, 3]}), "tiny")
    assert experiment.group == "2.1"
    assert experiment.config.lr == 0.5 and experiment.config.hidden == [4, 3]
    assert experiment.config.batch_size == DEFAULTS["batch_size"]


@pytest.mark.parametrize("key, value, message", [
    ("lr", -0.1, "lr: -0.1 is invalid; expected > 0"),
    ("lr", 0, "lr: 0.0 is invalid"),
    ("dropout", 1.0, "dropout: 1.0 is invalid; expected in [0, 1)"),
    ("dropout", -0.2, "dropout: -0.2 is invalid"),
    ("momentum", 1.0, "momentum: 1.0 is invalid; expected in [0, 1)"),
    ("hidden", [], "hidden: [] is invalid"),
    ("hidden", [60, 0], "hidden: [60, 0] is invalid"),
    ("batch_size", 0, "batch_size: 0 is invalid; expected >= 1"),
    ("epochs", 0, "epochs: 0 is invalid"),
    ("init", "glorot", "init: 'glorot' is invalid; expected one of"),
    ("dtype", "float16", "dtype: 'float16' is not one of"),
    ("lr", "fast", "lr: expected a number, got 'fast'"),
    ("lr", True, "lr: expected a number, got True"),  # YAML's `true` is no 1.0
    ("epochs", True, "epochs: expected an integer, got True"),
    ("hidden", 60, "hidden: expected a list, got 60"),
    ("batch_size", 6.5, "batch_size: expected an integer"),
])
def test_invalid_values_name_the_experiment_and_key(key, value, message):
    with pytest.raises(ParamsError) as error:
        parse_experiment(params_with({key: value}), "tiny")
    assert f"experiments.tiny.{key}: " in str(error.value) and message in str(error.value)


def test_a_missing_default_is_named():
    params = params_with()
    del params["train"]["seed"]
    with pytest.raises(ParamsError, match=r"params.yaml:train: missing key\(s\) \['seed'\]"):
        parse_experiment(params, "tiny")


def test_unknown_keys_are_rejected_in_experiments_and_defaults():
    with pytest.raises(ParamsError, match=r"experiments.tiny: unknown key\(s\) \['learning_rate'\]"):
        parse_experiment(params_with({"learning_rate": 0.1}), "tiny")
    with pytest.raises(ParamsError, match=r"train: unknown key\(s\) \['weight_decay'\]"):
        parse_experiment(params_with(defaults={"weight_decay": 0.1}), "tiny")


def test_missing_group_and_unknown_experiment():
    params = params_with()
    del params["experiments"]["tiny"]["group"]
    with pytest.raises(ParamsError, match="experiments.tiny.group: missing"):
        parse_experiment(params, "tiny")
    with pytest.raises(ParamsError, match=r"no experiment named 'huge'; known: \['tiny'\]"):
        parse_experiment(params_with(), "huge")


def test_the_repository_grid_is_valid_whatever_its_values():
    """Every experiment of params.yaml parses and names a group of `groups`: true of any
    grid a user writes, so this holds after any legitimate edit."""
    from pipeline.params import experiment_names, group_titles, load_params
    params = load_params(ROOT / "params.yaml")
    titles = group_titles(params)
    for name in experiment_names(params):
        assert parse_experiment(params, name).group in titles, name


def test_two_epochs_write_well_formed_outputs(tmp_path):
    paths, result = run_into(tmp_path, params_with())
    lines = paths.curves.read_text().splitlines()
    assert lines[0] == ",".join(CURVE_COLUMNS)
    rows = [list(map(float, line.split(","))) for line in lines[1:]]
    assert [row[0] for row in rows] == [1, 2]
    assert all(0 <= row[2] <= 1 and 0 <= row[4] <= 1 and row[1] > 0 for row in rows)
    metrics = json.loads((paths.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 2
    assert metrics["final_test_accuracy"] == rows[-1][4]
    assert metrics["best_test_accuracy"] == max(row[4] for row in rows)
    accuracies = [row[4] for row in rows]
    assert metrics["best_epoch"] == 1 + accuracies.index(max(accuracies))  # the first best
    config = json.loads((paths.run_dir / "config.json").read_text())
    assert config == {"name": "tiny", "group": "2.1", **DEFAULTS}
    timing = json.loads((paths.run_dir / "timing.json").read_text())
    assert timing["wall_seconds"] + 1e-3 >= sum(timing["epoch_seconds"]) > 0  # rounded
    assert abs(timing["seconds_per_epoch"] - sum(timing["epoch_seconds"]) / 2) < 1e-4
    assert len(timing["epoch_seconds"]) == 2
    # CPU time is the process's, every thread included: no more than all cores (os.times()
    # ticks in 10 ms), and cores_used is its ratio to the wall time (both rounded to 1 ms).
    wall, cpu, cores = (timing[key] for key in ("wall_seconds", "cpu_seconds", "cores_used"))
    assert cpu <= wall * os.cpu_count() + 0.02
    assert abs(cores * wall - cpu) <= 0.002 + 0.001 * cores
    confusion = np.array(json.loads((paths.run_dir / "confusion.json").read_text())["test"])
    assert confusion.shape == (3, 3) and confusion.sum(axis=1).tolist() == [20, 20, 20]
    assert np.trace(confusion) / confusion.sum() == metrics["final_test_accuracy"]
    with np.load(paths.model) as saved:
        assert saved["W0"].shape == (16, 64) and saved["W1"].shape == (3, 16)


def test_accuracy_is_the_confusion_trace_over_n_whatever_the_chunks():
    """877 of 3450 right, 5 in the first chunk of 2048 and 872 in the second: adding up
    the chunks' mean accuracy x size gives 0.2542028985507246, not 877 / 3450."""
    from pipeline.training.loop import Split, evaluate

    labels, index = np.arange(3450) % 3, np.arange(3450)
    right = (index < 5) | ((index >= 2048) & (index < 2048 + 872))
    guesses = np.where(right, labels, (labels + 1) % 3)
    onehot = np.eye(3)[labels].T

    class Fixed:  # "predicts" row i of x: x holds one example index per row
        def forward(self, x, train=False):
            return np.eye(3)[guesses[x[0].astype(int)]].T

    split = Split(np.arange(3450, dtype=float)[:, None], onehot)
    assert evaluate(Fixed(), split)[1] == 877 / 3450


def test_epoch_times_leave_out_the_setup(monkeypatch):
    """A setup that takes 0.5 s counts in the wall time, not in the first epoch's."""
    import time
    from pipeline.training import loop
    from pipeline.training.experiments import parse_experiment
    from stages.train import run_experiment

    slow_start = loop.start_run
    monkeypatch.setattr(loop, "start_run", lambda *a: time.sleep(0.5) or slow_start(*a))
    experiment = parse_experiment(params_with({"epochs": 2}), "tiny")
    _, timing = run_experiment(experiment, blobs())
    assert timing.wall_seconds >= 0.5 > 0.25 > max(timing.epoch_seconds)


def test_same_params_give_byte_identical_results(tmp_path):
    params = params_with({"dropout": 0.3, "momentum": 0.5, "dtype": "float32"})
    outputs = []
    for attempt in ("a", "b"):
        paths, _ = run_into(tmp_path / attempt, params)
        outputs.append([paths.curves.read_bytes(), paths.model.read_bytes(),
                        (paths.run_dir / "metrics.json").read_bytes()])
    assert outputs[0] == outputs[1]
    other, _ = run_into(tmp_path / "c", params_with({"dropout": 0.3, "momentum": 0.5,
                                                     "dtype": "float32", "seed": 1}))
    assert other.curves.read_bytes() != outputs[0][0]


def test_results_do_not_depend_on_global_random_state(tmp_path):
    params = params_with({"dropout": 0.3})
    np.random.seed(1)
    first, _ = run_into(tmp_path / "a", params)
    np.random.seed(2)
    second, _ = run_into(tmp_path / "b", params)
    assert first.curves.read_bytes() == second.curves.read_bytes()


@pytest.mark.filterwarnings("error::RuntimeWarning")  # divergence is reported, not warned
def test_a_huge_learning_rate_diverges_and_stops_early(tmp_path):
    # float32: the weights overflow to inf and the loss turns NaN (in float64 a ReLU
    # network's loss merely grows huge but stays finite for a long time).
    params = params_with({"lr": 1e10, "momentum": 0.9, "epochs": 20, "dtype": "float32"})
    paths, result = run_into(tmp_path, params)
    metrics = json.loads((paths.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    assert metrics["epochs_run"] < 20 and metrics["diverged_at_epoch"] == metrics["epochs_run"] + 1
    rows = paths.curves.read_text().splitlines()[1:]
    assert len(rows) == metrics["epochs_run"]
    assert all(np.isfinite(list(map(float, row.split(",")))).all() for row in rows)


@pytest.mark.parametrize("diverging_epoch", [1, 3])
def test_a_diverged_run_keeps_the_weights_of_its_last_finished_epoch(tmp_path, monkeypatch,
                                                                      diverging_epoch):
    """Its model file and confusion matrix are those its final metrics describe."""
    from pipeline.training import loop
    real_run_epoch = loop.run_epoch

    def run_epoch(run, batch_size, epoch=0):
        if epoch < diverging_epoch:
            return real_run_epoch(run, batch_size, epoch)
        for linear in run.model.linears:  # what an exploding epoch leaves behind
            linear.W *= np.inf
        return None

    params = params_with({"epochs": 5})
    finished = params_with({"epochs": diverging_epoch - 1})
    monkeypatch.setattr(loop, "run_epoch", run_epoch)
    diverged, result = run_into(tmp_path / "diverged", params)
    assert (result.status, result.diverged_at_epoch) == ("diverged", diverging_epoch)
    monkeypatch.setattr(loop, "run_epoch", real_run_epoch)
    if diverging_epoch == 1:  # no epoch finished: the initial weights
        model = loop.start_run(parse_experiment(params, "tiny").config, blobs()).model
        assert all(np.array_equal(a, b) for a, b in zip(result.model.getWs(), model.getWs()))
    else:
        clean, _ = run_into(tmp_path / "clean", finished)
        assert diverged.model.read_bytes() == clean.model.read_bytes()
        assert ((diverged.run_dir / "confusion.json").read_bytes()
                == (clean.run_dir / "confusion.json").read_bytes())
        metrics = json.loads((diverged.run_dir / "metrics.json").read_text())
        confusion = np.array(json.loads((diverged.run_dir / "confusion.json").read_text())["test"])
        assert np.trace(confusion) / confusion.sum() == metrics["final_test_accuracy"]


def test_training_learns_the_tiny_problem(tmp_path):
    params = params_with({"epochs": 15, "momentum": 0.5})
    _, result = run_into(tmp_path, params)
    assert result.curve[-1].test_accuracy > 0.9  # chance is 1/3


def test_experiment_dict_is_not_mutated():
    params = params_with({"lr": 0.5})
    before = copy.deepcopy(params)
    parse_experiment(params, "tiny")
    assert params == before


def test_the_stage_pins_its_kernels_and_records_them_outside_metrics(tmp_path):
    """Run as DVC runs it: kernels pinned before numpy loads, recorded in timing.json."""
    rng = np.random.default_rng(0)
    labels = np.arange(48) % 3
    save_prepared(tmp_path / "data.npz", Dataset(
        rng.integers(0, 2, (48, PIXELS), dtype=np.uint8), labels,
        rng.integers(0, 2, (12, PIXELS), dtype=np.uint8), labels[:12], ("a", "b", "c")))
    (tmp_path / "params.yaml").write_text(json.dumps(params_with()))
    subprocess.run([sys.executable, "-m", "stages.train", "tiny", "data.npz", "model.npz",
                    "run", "curves.csv"], cwd=tmp_path, check=True, capture_output=True,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    execution = json.loads((tmp_path / "run/timing.json").read_text())["execution"]
    expected = "native" if cpu_kernels.portable_level_missing() else "portable"
    assert execution["kernels"] == expected
    assert f"{DEFAULTS['threads']} thread(s)" in execution["blas"]
    assert "execution" not in (tmp_path / "run/metrics.json").read_text()
