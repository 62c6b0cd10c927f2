"""The training grid as DVC runs it: per-experiment caching, exp run -S, queues, determinism.

Each test works in its own temporary git + DVC copy of the project (see
conftest.tiny_pipeline): a synthetic Omniglot zip, three small networks, 2 epochs.
The last test also trains on the default data, from the shared Omniglot zip.
"""
import csv
import io
import json
import re
import signal
import subprocess
import time

import pytest

from tests.conftest import TINY_EXPERIMENTS, live_ctrl_c

TRAIN_STAGES = {f"train@{name}" for name in TINY_EXPERIMENTS}
CHECK = {"check_params"}  # reruns on any edit of params.yaml (stages/check_params.py)


def ran(result):
    """Names of the stages a `dvc repro`/`dvc exp run` executed."""
    return set(re.findall(r"Running stage '([^']+)'", result.stdout))


def read_json(project, path):
    return json.loads((project.path / path).read_text())


def run_outputs(project, name):
    """The deterministic outputs of train@name, as bytes."""
    return [(project.path / path).read_bytes() for path in (
        f"metrics/runs/{name}/metrics.json", f"metrics/runs/{name}/config.json",
        f"plots/curves/{name}.csv", f"models/{name}.npz")]


def repro_and_commit(project):
    result = project.run("dvc", "repro")
    project.commit("results")
    return result


def test_whole_pipeline_runs_then_nothing_reruns(tiny_pipeline):
    project = tiny_pipeline
    first = repro_and_commit(project)
    assert ran(first) == {"fetch", "prepare", "examples", "figures", "report"} | TRAIN_STAGES | CHECK
    for name in TINY_EXPERIMENTS:
        metrics = read_json(project, f"metrics/runs/{name}/metrics.json")
        assert metrics["status"] == "completed" and metrics["epochs_run"] == 2
        config = read_json(project, f"metrics/runs/{name}/config.json")
        assert config["hidden"] == TINY_EXPERIMENTS[name]["hidden"] and config["lr"] == 0.001
    summary = read_json(project, "metrics/summary.json")
    assert [row["name"] for row in summary["runs"]] == list(TINY_EXPERIMENTS)
    assert (project.path / "report.md").read_text().count("![") == 6  # examples, confusion, 2 groups x 2
    start = time.perf_counter()
    again = project.run("dvc", "repro")
    assert ran(again) == set() and "up to date" in again.stdout
    assert time.perf_counter() - start < 10
    assert "changed" not in project.run("dvc", "status").stdout


def test_editing_one_experiment_reruns_only_it_and_what_depends_on_it(tiny_pipeline):
    project = tiny_pipeline
    repro_and_commit(project)
    untouched = run_outputs(project, "deep")
    project.set_params(lambda params: params["experiments"]["small"].update(lr=0.01))
    assert ran(project.run("dvc", "repro")) == {"train@small", "figures", "report"} | CHECK
    assert read_json(project, "metrics/runs/small/config.json")["lr"] == 0.01
    assert run_outputs(project, "deep") == untouched


def test_a_figure_style_change_reruns_no_training(tiny_pipeline):
    project = tiny_pipeline
    repro_and_commit(project)
    project.set_params(lambda params: params["figures"].update(dpi=80))
    assert ran(project.run("dvc", "repro")) == {"figures", "report"} | CHECK  # report embeds them


def test_changing_a_shared_default_reruns_every_experiment(tiny_pipeline):
    project = tiny_pipeline
    repro_and_commit(project)
    project.set_params(lambda params: params["train"].update(batch_size=128))
    assert ran(project.run("dvc", "repro")) == TRAIN_STAGES | {"figures", "report"} | CHECK


def test_a_section_no_stage_reads_fails_the_repro(tiny_pipeline):
    """A typo'd section (`trian:`) changes no other stage's params, so without
    check_params `dvc repro` would say "up to date" and ignore the intended edit."""
    project = tiny_pipeline
    repro_and_commit(project)
    project.set_params(lambda params: params.__setitem__("trian", {"epochs": 5}))
    result = project.run("dvc", "repro", check=False)
    assert result.returncode != 0 and ran(result) == CHECK
    assert "check_params: params.yaml: unknown section(s) ['trian']" in result.stderr


@pytest.mark.parametrize("edit, message", [
    (lambda params: params["experiments"]["deep"].__setitem__("group", "9.9"),
     "params.yaml:experiments.deep.group: '9.9' has no title under `groups`"),
    (lambda params: params["experiments"]["deep"].__setitem__("lr", "fast"),
     "params.yaml:experiments.deep.lr: expected a number, got 'fast'"),
    (lambda params: params["figures"].__setitem__("dpi", 10),
     "params.yaml:figures.dpi: 10 is invalid"),
])
def test_bad_params_that_later_stages_read_fail_the_repro_before_training(tiny_pipeline,
                                                                          edit, message):
    """An untitled group or a bad figures value would otherwise be refused only by
    figures or report, after the grid (here train@deep) had trained."""
    project = tiny_pipeline
    repro_and_commit(project)
    project.set_params(edit)
    result = project.run("dvc", "repro", check=False)
    assert result.returncode != 0 and ran(result) == CHECK
    assert f"check_params: {message}" in result.stderr


def test_the_docs_way_back_to_the_baseline_leaves_nothing_changed(tiny_pipeline):
    """docs/experiments.md, after adding a run in the workspace: git and DVC both clean."""
    project = tiny_pipeline
    repro_and_commit(project)
    project.run("dvc", "exp", "run", "-S", "+experiments.extra={group: '2.1', hidden: [4]}")
    for command in ("git checkout -- .", "dvc checkout", "git clean -fdq metrics/runs"):
        project.run(*command.split())
    assert project.run("git", "status", "--porcelain").stdout == ""
    assert "up to date" in project.run("dvc", "status").stdout
    assert not (project.path / "metrics/runs/extra").exists()


def test_same_params_give_identical_bytes_in_any_stage_order(tiny_pipeline):
    project = tiny_pipeline
    repro_and_commit(project)
    before = {name: run_outputs(project, name) for name in TINY_EXPERIMENTS}
    for name in reversed(list(TINY_EXPERIMENTS)):
        project.run("dvc", "repro", "--force", "--single-item", f"train@{name}")
    assert {name: run_outputs(project, name) for name in TINY_EXPERIMENTS} == before


def test_exp_run_sets_nested_keys_and_lists(tiny_pipeline):
    project = tiny_pipeline
    repro_and_commit(project)
    result = project.run("dvc", "exp", "run", "-n", "faster", "-S", "experiments.small.lr=0.01",
                         "-S", "experiments.deep.hidden=[16,8]",
                         "-S", "++experiments.deep.batch_size=32")  # ++: not listed there yet
    assert ran(result) == {"train@small", "train@deep", "figures", "report"} | CHECK
    config = read_json(project, "metrics/runs/deep/config.json")
    assert config["hidden"] == [16, 8] and config["batch_size"] == 32
    shown = json.loads(project.run("dvc", "exp", "show", "--json").stdout)
    names = [exp["name"] for commit in shown for exp in commit.get("experiments") or []]
    assert "faster" in names


def test_exp_run_adds_a_new_experiment_with_defaults(tiny_pipeline):
    project = tiny_pipeline
    repro_and_commit(project)
    result = project.run("dvc", "exp", "run", "-S",
                         "+experiments.extra={group: '2.4', hidden: [4], momentum: 0.9}")
    assert ran(result) == {"train@extra", "figures", "report"} | CHECK
    config = read_json(project, "metrics/runs/extra/config.json")
    assert config["momentum"] == 0.9 and config["epochs"] == 2 and config["batch_size"] == 64
    assert (project.path / "plots/figures/2.4_loss.png").is_file()


def test_queued_variants_run_in_parallel(tiny_pipeline):
    project = tiny_pipeline
    repro_and_commit(project)
    for lr in ("0.01", "0.1"):
        project.run("dvc", "exp", "run", "--queue", "-n", f"lr-{lr}",
                    "-S", f"experiments.small.lr={lr}")
    project.run("dvc", "exp", "run", "--run-all", "-j", "2", timeout=600)
    shown = json.loads(project.run("dvc", "exp", "show", "--json").stdout)
    finished = {exp["name"]: exp for commit in shown for exp in commit.get("experiments") or []}
    assert {"lr-0.01", "lr-0.1"} <= set(finished)
    shown = project.run("dvc", "exp", "show", "--csv", "--drop", ".*", "--keep",
                        "^Experiment$|^experiments.small.lr$|^small.test_acc$").stdout
    rows = {row["Experiment"]: row for row in csv.DictReader(io.StringIO(shown))}
    for lr in ("0.01", "0.1"):  # each variant's own param and its own metric
        assert rows[f"lr-{lr}"]["experiments.small.lr"] == lr
        assert 0 <= float(rows[f"lr-{lr}"]["small.test_acc"]) <= 1


def test_an_interrupted_run_leaves_no_output_that_looks_complete(tiny_pipeline):
    project = tiny_pipeline
    project.set_params(lambda params: params["train"].update(epochs=10_000))
    project.run("dvc", "repro", "prepare")
    command = ["python", "-m", "stages.train", "small", "data/prepared/omniglot_12.npz",
               "models/small.npz", "metrics/runs/small", "plots/curves/small.csv"]
    process = subprocess.Popen(command, cwd=project.path, env=project.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=live_ctrl_c)
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode != 0
    leftovers = [path for folder in ("metrics/runs", "models", "plots/curves")
                 if (project.path / folder).exists()
                 for path in (project.path / folder).rglob("*") if path.is_file()]
    assert leftovers == []


@pytest.mark.parametrize("data", ["tiny_pipeline", "tiny_pipeline_fall2024"])
def test_a_short_real_run_beats_chance_clearly(request, data):
    """Three epochs of a 2x150 network with momentum, on the synthetic zip and on the
    default data: far above chance."""
    project = request.getfixturevalue(data)
    project.set_params(lambda params: params["experiments"].update(
        {"real": {"group": "2.1", "hidden": [150, 150], "momentum": 0.9, "epochs": 3}}))
    project.run("dvc", "repro", "train@real")
    metrics = read_json(project, "metrics/runs/real/metrics.json")
    classes = len(read_json(project, "metrics/data.json")["class_names"])
    assert metrics["final_test_accuracy"] > 2.5 / classes, metrics
