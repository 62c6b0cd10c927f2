"""Class 4 of issue 11: a bad param or a malformed input file ends a stage with one line.

The line names the stage, the file or key, and what was expected; the exit
status is non-zero and there is no traceback.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import stages.examples
import stages.figures
import stages.report
import stages.train
from pipeline.training.curves import EpochLog, curve_csv
from pipeline.training.runs import run_metrics
from tests.test_training import DEFAULTS, result_of

ROOT = Path(__file__).resolve().parents[1]
RUNS = ("a", "b")
FIGURES_ARGS = ["--runs", "runs", "--curves", "curves", "--data-report", "data.json",
                "--png", "png", "--svg", "svg", "--tables", "groups"]
REPORT_ARGS = ["--runs", "runs", "--curves", "curves", "--data-report", "data.json",
               "--figures", "png", "--examples", "examples.png", "--summary", "summary.json",
               "--grid", "grid.json", "--report", "report.md"]
EXAMPLES_ARGS = ["--data", "data/prepared/omniglot_12.npz", "--out", "examples.png"]
CURVE = [EpochLog(1, 2.0, 0.25, 2.1, 0.2), EpochLog(2, 1.5, 0.5, 1.7, 0.4)]


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder holding what figures and report read: params, two runs, data.json."""
    params = {"train": DEFAULTS, "groups": {"2.1": "One hidden layer"}, "figures": {"dpi": 50},
              "experiments": {name: {"group": "2.1"} for name in RUNS}}
    write_json(tmp_path / "params.yaml", params)
    for name in RUNS:
        config = {"name": name, "group": "2.1", **DEFAULTS}
        write_json(tmp_path / "runs" / name / "config.json", config)
        write_json(tmp_path / "runs" / name / "metrics.json", run_metrics(result_of(CURVE), 2))
        write_json(tmp_path / "runs" / name / "timing.json", {"wall_seconds": 1.5})
        write_json(tmp_path / "runs" / name / "confusion.json", {"test": [[1, 0], [1, 2]]})
        (tmp_path / "curves").mkdir(exist_ok=True)
        (tmp_path / "curves" / f"{name}.csv").write_text(curve_csv(CURVE))
    write_json(tmp_path / "data.json", {"source": "omniglot", "set": "fall2024",
                                        "input_sha256": "ab" * 32, "num_classes": 2,
                                        "class_names": ["Alpha", "Beta"],
                                        "train": {"images": 6080}, "test": {"images": 1520},
                                        "pixels": {"encoding": "stored", "order": "C",
                                                   "ink_fraction": 0.08}})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def edit_params(project, change):
    params = json.loads((project / "params.yaml").read_text())
    change(params)
    write_json(project / "params.yaml", params)


def one_line_exit(main, args, stage):
    """The message main(args) exits with, after checking it is one line naming the stage."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    message = exit_.value.code
    assert isinstance(message, str), f"expected an error line, got exit status {message!r}"
    assert message.startswith(f"{stage}: ") and "\n" not in message, message
    return message


def set_key(key, value):
    def change(path):
        record = json.loads(path.read_text())
        record[key] = value
        path.write_text(json.dumps(record))
    return change


RUN_FILE_DAMAGE = {
    "truncated metrics": ("runs/a/metrics.json", lambda p: p.write_text(p.read_text()[:40]),
                          "runs/a/metrics.json: not readable JSON"),
    "non-finite metric": ("runs/a/metrics.json",
                          lambda p: p.write_text(p.read_text().replace("0.4,", "NaN,", 1)),
                          "runs/a/metrics.json: not readable JSON (NaN is not a finite"),
    "deeply nested metrics": ("runs/a/metrics.json", lambda p: p.write_text("[" * 100_000),
                              "runs/a/metrics.json: not readable JSON (maximum recursion"),
    "metrics not an object": ("runs/a/metrics.json", lambda p: p.write_text("[]"),
                              "runs/a/metrics.json: expected a JSON object, found list"),
    "diverged without its epoch": ("runs/a/metrics.json", set_key("status", "diverged"),
                                   "runs/a/metrics.json: status 'diverged' without "
                                   "diverged_at_epoch"),
    "best epoch as a boolean": ("runs/a/metrics.json", set_key("best_epoch", True),
                                "runs/a/metrics.json: best_epoch: expected an integer, "
                                "found True"),
    "unknown status": ("runs/a/metrics.json", set_key("status", "done"),
                       "runs/a/metrics.json: status: expected one of ['completed'"),
    "accuracy as text": ("runs/b/metrics.json", set_key("final_test_accuracy", "40%"),
                         "runs/b/metrics.json: final_test_accuracy: expected a number, "
                         "found '40%'"),
    "no accuracy after epochs": ("runs/b/metrics.json", set_key("final_test_accuracy", None),
                                 "runs/b/metrics.json: final_test_accuracy: expected a "
                                 "number, found None"),
    "epochs_run null": ("runs/b/metrics.json", set_key("epochs_run", None),
                        "runs/b/metrics.json: epochs_run: expected an integer, found None"),
    "missing config": ("runs/a/config.json", Path.unlink,
                       "runs/a/config.json: missing; expected a small JSON file"),
    "config without hidden": ("runs/a/config.json",
                              lambda p: write_json(p, {"name": "a", "group": "2.1"}),
                              "runs/a/config.json: missing key 'hidden'"),
    "config of another run": ("runs/a/config.json", set_key("name", "b"),
                              "runs/a/config.json: name: expected 'a', found 'b'"),
    "group escaping its folder": ("runs/a/config.json", set_key("group", "../../x"),
                                  "runs/a/config.json: group '../../x' is not allowed"),
    "garbled timing": ("runs/b/timing.json", lambda p: p.write_bytes(b"\xff\xfe{"),
                       "runs/b/timing.json: not UTF-8 text; expected a small JSON file"),
    "timing as text": ("runs/b/timing.json", set_key("wall_seconds", "long"),
                       "runs/b/timing.json: wall_seconds: expected a number, found 'long'"),
    "missing curve": ("curves/b.csv", Path.unlink, "curves/b.csv: missing"),
    "confusion not square": ("runs/a/confusion.json",
                             lambda p: write_json(p, {"test": [[1, 2]]}),
                             "runs/a/confusion.json: test: expected a square matrix"),
    "confusion of other classes": ("runs/b/confusion.json",
                                   lambda p: write_json(p, {"test": [[1, 0, 0], [0, 1, 0],
                                                                     [0, 0, 1]]}),
                                   "runs/b/confusion.json: test: expected 2x2 (the data's "
                                   "classes), found 3x3"),
    "negative count": ("runs/b/confusion.json", lambda p: write_json(p, {"test": [[1, -1],
                                                                                [0, 1]]}),
                       "runs/b/confusion.json: test: expected a square matrix of counts"),
    "curve without header": ("curves/b.csv", lambda p: p.write_text("1,2,3\n"),
                             "curves/b.csv: expected the header epoch,"),
    "curve with text": ("curves/b.csv",
                        lambda p: p.write_text(p.read_text().replace("1.5", "x", 1)),
                        "curves/b.csv:3: expected epoch 2 and 4 finite numbers"),
    "curve cut short": ("curves/b.csv", lambda p: p.write_text(p.read_text()[:-12]),
                        "curves/b.csv:3: expected epoch 2 and 4 finite numbers"),
    "curve skipping an epoch": ("curves/b.csv",
                                lambda p: p.write_text(p.read_text().replace("\n2,", "\n3,")),
                                "curves/b.csv:3: expected epoch 2"),
}

PARAM_DAMAGE = {
    "groups as a list": (lambda p: p.__setitem__("groups", ["2.1"]),
                         "params.yaml:groups: expected a mapping of group names to titles"),
    "group title not text": (lambda p: p["groups"].__setitem__("2.1", ["x"]),
                             "params.yaml:groups.2.1: expected a title (text)"),
    "experiments as a list": (lambda p: p.__setitem__("experiments", ["a", "b"]),
                              "params.yaml:experiments: expected a mapping"),
    "unknown section": (lambda p: p.__setitem__("figure", {"dpi": 50}),
                        "params.yaml: unknown section(s) ['figure']"),
    # A group key renamed under `groups` leaves the runs' group untitled.
    "group without a title": (lambda p: p.__setitem__("groups", {"2.2": "Two hidden layers"}),
                              "params.yaml:experiments.a.group: '2.1' has no title under "
                              "`groups` (titled: ['2.2'])"),
}


@pytest.mark.parametrize("stage, main, args", [
    ("figures", stages.figures.main, FIGURES_ARGS), ("report", stages.report.main, REPORT_ARGS)])
@pytest.mark.parametrize("case", sorted(RUN_FILE_DAMAGE))
def test_damaged_run_files_are_named(project, stage, main, args, case):
    path, damage, expected = RUN_FILE_DAMAGE[case]
    damage(project / path)
    assert expected in one_line_exit(main, args, stage)


@pytest.mark.parametrize("stage, main, args", [
    ("figures", stages.figures.main, FIGURES_ARGS), ("report", stages.report.main, REPORT_ARGS)])
@pytest.mark.parametrize("case", sorted(PARAM_DAMAGE))
def test_bad_params_of_figures_and_report_are_named(project, stage, main, args, case):
    change, expected = PARAM_DAMAGE[case]
    edit_params(project, change)
    assert expected in one_line_exit(main, args, stage)


@pytest.mark.parametrize("dpi, expected", [(0, "figures.dpi: 0 is invalid; expected 50..600"),
                                           ("high", "figures.dpi: expected an integer")])
def test_a_bad_dpi_is_named(project, dpi, expected):
    edit_params(project, lambda p: p["figures"].__setitem__("dpi", dpi))
    assert expected in one_line_exit(stages.figures.main, FIGURES_ARGS, "figures")


@pytest.mark.parametrize("damage, expected", [
    (lambda p: p.write_text('{"source": "omni'), "data.json: not readable JSON"),
    (lambda p: p.unlink(), "data.json: missing"),
    (set_key("train", [6660]), "data.json: train: expected an object, found [6660]"),
    (set_key("num_classes", "12"), "data.json: num_classes: expected an integer"),
    (set_key("class_names", ["Alpha"]), "data.json: class_names: expected num_classes names"),
    (set_key("pixels", {"encoding": "stored"}), "data.json: pixels: missing key 'order'"),
    (set_key("set", None), "data.json: set: expected text, found None"),
])
@pytest.mark.parametrize("stage, main, args", [
    ("figures", stages.figures.main, FIGURES_ARGS), ("report", stages.report.main, REPORT_ARGS)])
def test_a_malformed_data_report_is_named(project, damage, expected, stage, main, args):
    damage(project / "data.json")
    assert expected in one_line_exit(main, args, stage)


def test_the_fixture_project_is_valid(project):
    stages.figures.main(FIGURES_ARGS)
    stages.report.main(REPORT_ARGS)
    assert "| completed |" in (project / "report.md").read_text()


def test_train_names_a_bad_param_and_a_bad_prepared_file(project):
    args = ["a", "prepared.npz", "model.npz", "run", "curve.csv"]
    (project / "prepared.npz").write_bytes(b"PK\x03\x04 not really")
    assert "prepared.npz: not a readable npz" in one_line_exit(
        stages.train.main, args, "train@a")
    edit_params(project, lambda p: p["train"].__setitem__("hidden", [10 ** 8]))
    assert "params.yaml:train.hidden: [100000000] is invalid" in one_line_exit(
        stages.train.main, args, "train@a")
    assert not (project / "run").exists() and not (project / "model.npz").exists()


def test_examples_names_a_bad_param_and_a_missing_dataset(project):
    edit_params(project, lambda p: p.__setitem__("examples", {"per_class": 0, "dpi": 150}))
    assert "examples.per_class: 0 is invalid" in one_line_exit(
        stages.examples.main, EXAMPLES_ARGS, "examples")
    edit_params(project, lambda p: p.__setitem__("examples", {"per_class": 2, "dpi": 150}))
    assert "omniglot_12.npz: not found" in one_line_exit(
        stages.examples.main, EXAMPLES_ARGS, "examples")


def test_a_stage_process_prints_one_line_and_no_traceback(project):
    (project / "runs" / "a" / "metrics.json").write_text('{"status": "compl')
    done = subprocess.run([sys.executable, "-m", "stages.report", *REPORT_ARGS],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("report: runs/a/metrics.json: not readable JSON")
