"""The pipeline's plots and metrics as DVC shows them, in one tiny temporary project.

Setup (once for the module): the tiny grid on the synthetic zip (conftest.tiny_project)
reproduced and committed, then two experiments changing one run's lr (`lo`, `hi`;
`hi` stays in the workspace). The pages of `dvc plots show` and `dvc plots diff lo hi`
are rendered in headless chromium without network; screenshots go to
$OMNIGLOT_ARTIFACTS/plots_dvc.
"""
import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.browser import CHROMIUM_REQUIREMENT, chromium_available, render_in_chromium
from tests.conftest import TINY_EXPERIMENTS, require, tiny_project
from tests.test_plots_offline import ARTIFACTS as OFFLINE_ARTIFACTS
from tests.test_plots_offline import check_screenshot, rendered_charts

ARTIFACTS = OFFLINE_ARTIFACTS.parent / "plots_dvc"
GROUP_RUNS = {"2.1": {"small", "small_mom"}, "2.2": {"deep"}}
GROUP_PLOTS = [f"plots/groups/{metric}/{group}.csv"
               for metric in ("loss", "accuracy") for group in GROUP_RUNS]
IMAGE_PLOTS = [f"plots/figures/{group}_{metric}.png"
               for group in GROUP_RUNS for metric in ("loss", "accuracy")] + [
    "plots/examples.png", "plots/figures/confusion_best_run.png"]
# The README's comparison: changed params and changed final test accuracies.
EXP_TABLE = ["dvc", "exp", "show", "--only-changed", "--drop", "Created|.*best_acc|.*/.*"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, synthetic_omniglot):
    project = tiny_project(tmp_path_factory.mktemp("plots_dvc"), synthetic_omniglot)
    project.run("dvc", "repro", "-q")
    project.commit("results")
    project.run("dvc", "exp", "run", "-q", "-n", "lo", "-S", "experiments.small.lr=0.0001")
    project.run("dvc", "exp", "run", "-q", "-n", "hi", "-S", "experiments.small.lr=0.01")
    return project


def dvc_json(project, *args):
    return json.loads(project.run("dvc", *args, "--json").stdout)


@pytest.fixture(scope="module")
def shown(project):
    return dvc_json(project, "plots", "show")["data"]


@pytest.fixture(scope="module")
def diffed(project):
    return dvc_json(project, "plots", "diff", "lo", "hi")["data"]


def only_vega(plots, name):
    [plot] = plots[name]
    assert plot["type"] == "vega"
    return plot


def test_show_has_one_group_chart_per_group_for_loss_and_accuracy(shown):
    group_plots = sorted(name for name in shown if name.startswith("plots/groups/"))
    assert group_plots == sorted(GROUP_PLOTS)
    for name in GROUP_PLOTS:
        metric, group = name.split("/")[2], Path(name).stem
        values = only_vega(shown, name)["content"]["data"]["values"]
        assert {row["run"] for row in values} == GROUP_RUNS[group]
        assert {row["split"] for row in values} == {"train", "test"}
        assert {(row["run"], row["split"], row["epoch"]) for row in values} == {
            (run, split, epoch) for run in GROUP_RUNS[group]
            for split in ("train", "test") for epoch in ("1", "2")}
        assert all(0 < float(row[metric]) for row in values)


def test_group_charts_use_the_group_template(shown):
    spec = only_vega(shown, "plots/groups/accuracy/2.1.csv")["content"]
    assert spec["spec"]["encoding"]["y"]["title"] == "accuracy (fraction)"
    assert spec["spec"]["encoding"]["x"]["field"] == "epoch"
    assert spec["facet"]["column"]["field"] == "split"
    assert spec["spec"]["encoding"]["strokeDash"]["field"] == "rev"
    assert spec["spec"]["encoding"]["color"]["field"] == "run"
    loss = only_vega(shown, "plots/groups/loss/2.1.csv")["content"]
    assert loss["spec"]["encoding"]["y"]["title"] == "cross-entropy loss (nats)"


def test_show_lists_the_figures_and_the_examples_as_images(shown):
    for name in IMAGE_PLOTS:
        [plot] = shown[name]
        assert plot["type"] == "image" and plot["revisions"] == ["workspace"]
        assert Path(plot["url"]).is_file()


def test_diff_puts_both_revisions_of_every_run_in_the_group_chart(diffed):
    for name in GROUP_PLOTS:
        plot = only_vega(diffed, name)
        assert plot["revisions"] == ["lo", "hi"]
        values = plot["content"]["data"]["values"]
        assert {(row["rev"], row["run"]) for row in values} == {
            (rev, run) for rev in ("lo", "hi") for run in GROUP_RUNS[Path(name).stem]}


def test_diff_shows_the_changed_run_differ_and_the_others_agree(diffed):
    values = only_vega(diffed, "plots/groups/loss/2.1.csv")["content"]["data"]["values"]

    def curve(rev, run):
        return [(row["epoch"], row["split"], row["loss"]) for row in values
                if (row["rev"], row["run"]) == (rev, run)]
    assert curve("lo", "small") != curve("hi", "small")
    assert curve("lo", "small_mom") == curve("hi", "small_mom")


def test_diff_has_each_image_for_both_revisions(diffed):
    for name in IMAGE_PLOTS:
        assert sorted(plot["revisions"][0] for plot in diffed[name]) == ["hi", "lo"]


@pytest.fixture(scope="module")
def pages(project, tmp_path_factory):
    """name -> index.html of `dvc plots show` and `dvc plots diff lo hi`."""
    out = tmp_path_factory.mktemp("pages")
    project.run("dvc", "plots", "show", "-o", str(out / "show"))
    project.run("dvc", "plots", "diff", "lo", "hi", "-o", str(out / "diff"))
    return {name: out / name / "index.html" for name in ("show", "diff")}


@pytest.mark.parametrize("name, images", [("show", len(IMAGE_PLOTS)),
                                          ("diff", 2 * len(IMAGE_PLOTS))])
def test_plots_page_renders_every_chart_and_image_offline(pages, name, images):
    require(chromium_available(), CHROMIUM_REQUIREMENT)
    html = pages[name].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc\s*=", html, re.IGNORECASE), "external script"
    sources = re.findall(r'<img src="([^"$]+)"', html)
    assert len(sources) == images
    assert all((pages[name].parent / source).is_file() for source in sources), sources

    screenshot = ARTIFACTS / f"{name}.png"
    dom = render_in_chromium(pages[name], screenshot_path=screenshot, window_size=(1400, 2400))
    plot_ids, rendered = rendered_charts(html, dom)
    assert len(plot_ids) == len(GROUP_PLOTS) + len(TINY_EXPERIMENTS)  # + per-run curves
    assert rendered == set(plot_ids), f"charts missing in {sorted(set(plot_ids) - rendered)}"
    check_screenshot(screenshot)


def test_dvc_metrics_are_the_flat_grid_file_in_a_stable_order(project):
    metrics = dvc_json(project, "metrics", "show")[""]["data"]
    assert list(metrics) == ["metrics/grid.json"]
    assert metrics["metrics/grid.json"]["data"] == {
        run: {"test_acc": pytest.approx(0.5, abs=0.5), "best_acc": pytest.approx(0.5, abs=0.5)}
        for run in TINY_EXPERIMENTS}
    first = project.run("dvc", "metrics", "diff", "lo", "hi").stdout
    assert first == project.run("dvc", "metrics", "diff", "lo", "hi").stdout
    assert "small.test_acc" in first and "deep.test_acc" not in first


def test_exp_show_lists_every_experiment_with_the_grid_metrics(project):
    shown = dvc_json(project, "exp", "show")
    names = {exp["name"] for commit in shown for exp in commit.get("experiments") or []}
    assert names == {"lo", "hi"}
    assert set(shown[0]["data"]["metrics"]) == {"metrics/grid.json"}


def test_exp_table_command_shows_changed_params_and_test_accuracies_in_120_columns(project):
    rows = list(csv.DictReader(io.StringIO(project.run(*EXP_TABLE, "--csv").stdout)))
    assert [key for key in rows[0] if key not in ("rev", "typ")] == [
        "Experiment", "small.test_acc", "experiments.small.lr"]
    by_name = {row["Experiment"]: row for row in rows}
    assert by_name["lo"]["experiments.small.lr"] == "0.0001"
    assert by_name["hi"]["experiments.small.lr"] == "0.01"
    for name in ("lo", "hi"):
        assert 0 < float(by_name[name]["small.test_acc"]) < 1
    project.env["COLUMNS"] = "120"
    table = project.run(*EXP_TABLE, "--no-pager").stdout
    assert "[lo]" in table and "[hi]" in table and "experiments.small.lr" in table
    assert max(len(line) for line in table.splitlines()) <= 120 and "…" not in table
