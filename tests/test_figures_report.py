"""The figures and report stages on small synthetic runs: no DVC, no training.

Figures are checked as matplotlib objects (lines, styles, colours, labels,
legend), then as files; the summary and report.md against hand-computed
numbers. Accuracies are multiples of 1/8, so every delta is exact.
"""
import csv
import dataclasses
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba

import stages.figures
from pipeline.training.curves import EpochLog, curve_csv
from pipeline.training.runs import RunRecord, best_run, jitter_of_test_accuracy
from pipeline.training.runs import run_metrics
from pipeline.results.confusion_figure import MAX_LABELLED_CLASSES, confusion_figure
from pipeline.results.group_figures import group_figure
from pipeline.results.summary import factor_of, per_class, summarize
from stages.figures import FigureParams, render_figures
from stages.report import build_report
from tests.test_training import result_of

GROUP_TITLES = {"2.1": "One hidden layer", "2.2": "Two hidden layers",
                "2.3": "Learning rate", "2.4": "Depth and init"}
CLASS_NAMES = ["Alpha", "Beta", "Gamma"]
DATA_REPORT = {"source": "omniglot", "set": "fall2024", "input_sha256": "ab" * 32,
               "class_names": CLASS_NAMES, "num_classes": 3,
               "train": {"images": 6080}, "test": {"images": 1520},
               "pixels": {"encoding": "stored", "order": "C", "ink_fraction": 0.08}}
# Test counts per true class (rows) and predicted class (columns).
CONFUSION = [[5, 1, 0], [2, 3, 3], [0, 0, 4]]


def make_config(name, group, hidden, momentum=0.0, dropout=0.0, lr=0.001,
                init="xavier_uniform", epochs=2):
    return {"name": name, "group": group, "hidden": list(hidden), "momentum": momentum,
            "dropout": dropout, "lr": lr, "epochs": epochs, "batch_size": 64, "init": init,
            "dtype": "float32", "seed": 0, "threads": 1}


def make_run(config, curve, status="completed", diverged_at=None, wall_seconds=2.0):
    """A RunRecord whose metrics come from the training code's own run_metrics."""
    return RunRecord(name=config["name"], config=config,
                     metrics=run_metrics(result_of(curve, status, diverged_at),
                                         config["epochs"]),
                     timing={"wall_seconds": wall_seconds, "seconds_per_epoch": 1.0},
                     confusion=CONFUSION, curve=curve)


def two_epochs(final_train, final_test, best_test):
    """Epoch 1 holds the best test accuracy, epoch 2 the final figures."""
    return [EpochLog(1, 2.0, final_train - 0.125, 2.25, best_test),
            EpochLog(2, 1.5, final_train, 1.75, final_test)]


def ramp(epochs, offset):
    """A distinct, smooth curve per run: loss falls, accuracy rises."""
    return [EpochLog(epoch, 2.5 - 0.25 * epoch - offset, 0.125 * epoch + offset,
                     2.75 - 0.25 * epoch - offset, 0.06 * epoch + offset)
            for epoch in range(1, epochs + 1)]


# --- figures -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def figure_runs():
    """Group 2.1: three runs, one diverged after 2 epochs; group 2.2: two runs."""
    return [
        make_run(make_config("plain", "2.1", [60], epochs=3), ramp(3, 0.0)),
        make_run(make_config("mom", "2.1", [60], momentum=0.4, epochs=3), ramp(3, 0.01)),
        make_run(make_config("fast", "2.1", [60], lr=0.1, epochs=3), ramp(2, 0.02),
                 status="diverged", diverged_at=3),
        make_run(make_config("deep", "2.2", [60, 60], momentum=0.4, dropout=0.2, epochs=3),
                 ramp(3, 0.03)),
        make_run(make_config("deep_he", "2.2", [60, 60], init="he_uniform", epochs=3),
                 ramp(3, 0.04)),
    ]


@pytest.fixture(scope="module")
def figure_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("figures")


@pytest.fixture(scope="module")
def rendered(figure_runs, figure_dir):
    """Runs the figure stage once, keeping every Figure it saves: {file stem: Figure}."""
    figures = {}
    real_save = stages.figures.save_figure

    def keep(figure, paths, dpi):
        figures[paths[0].stem] = figure
        real_save(figure, paths, dpi)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stages.figures, "save_figure", keep)
        render_figures(figure_runs, GROUP_TITLES, CLASS_NAMES, FigureParams(dpi=50),
                       figure_dir / "png", figure_dir / "svg", figure_dir / "groups")
    return figures


def runs_of(runs, group):
    return [run for run in runs if run.group == group]


def only_axes(figure):
    assert len(figure.axes) == 1
    return figure.axes[0]


def test_every_group_gets_a_loss_and_an_accuracy_figure_as_png_and_svg(rendered, figure_dir):
    stems = {"2.1_loss", "2.1_accuracy", "2.2_loss", "2.2_accuracy", "confusion_best_run"}
    assert set(rendered) == stems
    assert {path.stem for path in (figure_dir / "png").glob("*.png")} == stems
    assert {path.stem for path in (figure_dir / "svg").glob("*.svg")} == stems
    for path in [*(figure_dir / "png").iterdir(), *(figure_dir / "svg").iterdir()]:
        assert path.stat().st_size > 1000, path


def group_figures(rendered):
    return {stem: figure for stem, figure in rendered.items() if stem[0].isdigit()}


def test_the_best_runs_confusion_matrix_is_drawn_with_class_names(rendered):
    axes = rendered["confusion_best_run"].axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == CLASS_NAMES
    assert [label.get_text() for label in axes.get_xticklabels()] == CLASS_NAMES
    assert "best run deep_he (" in axes.get_title()  # the highest final test accuracy
    assert sorted(text.get_text() for text in axes.texts) == sorted(
        str(n) for row in CONFUSION for n in row if n)


def test_a_confusion_matrix_of_many_classes_keeps_a_bounded_size():
    classes = MAX_LABELLED_CLASSES * 25
    names = [f"class {k}" for k in range(classes)]
    figure = confusion_figure(np.eye(classes, dtype=np.int64) * 4, names, "many")
    axes, size = figure.axes[0], tuple(figure.get_size_inches())
    plt.close(figure)
    assert size == confusion_figure_size(MAX_LABELLED_CLASSES)
    assert len(axes.texts) == 0 and len(axes.get_yticks()) == 0
    assert axes.get_title() == f"many\n({classes} classes, in label order: too many to name)"


def confusion_figure_size(classes):
    figure = confusion_figure(np.eye(classes), [str(k) for k in range(classes)], "t")
    size = tuple(figure.get_size_inches())
    plt.close(figure)
    return size


def test_each_group_axes_has_two_lines_per_run(rendered, figure_runs):
    for stem, figure in group_figures(rendered).items():
        group = stem.split("_")[0]
        assert len(only_axes(figure).get_lines()) == 2 * len(runs_of(figure_runs, group))


def test_train_is_solid_and_test_dashed_in_the_same_colour(rendered):
    for figure in group_figures(rendered).values():
        lines = only_axes(figure).get_lines()
        for train, test in zip(lines[::2], lines[1::2]):
            assert (train.get_linestyle(), test.get_linestyle()) == ("-", "--")
            assert to_rgba(train.get_color()) == to_rgba(test.get_color())


def test_runs_of_a_group_have_distinct_colours(rendered):
    for figure in group_figures(rendered).values():
        colours = [to_rgba(line.get_color()) for line in only_axes(figure).get_lines()[::2]]
        assert len(set(colours)) == len(colours)


def test_lines_plot_the_curves_with_accuracy_in_percent(rendered, figure_runs):
    for run, lines in zip(runs_of(figure_runs, "2.1"), zip(*[iter(
            only_axes(rendered["2.1_accuracy"]).get_lines())] * 2)):
        assert list(lines[0].get_xdata()) == [log.epoch for log in run.curve]
        assert list(lines[0].get_ydata()) == [100 * log.train_accuracy for log in run.curve]
        assert list(lines[1].get_ydata()) == [100 * log.test_accuracy for log in run.curve]
    loss_lines = only_axes(rendered["2.2_loss"]).get_lines()
    assert list(loss_lines[3].get_ydata()) == [log.test_loss for log in figure_runs[4].curve]


def test_axis_labels_have_units_and_title_names_the_group(rendered):
    loss, accuracy = only_axes(rendered["2.1_loss"]), only_axes(rendered["2.1_accuracy"])
    assert loss.get_xlabel() == accuracy.get_xlabel() == "epoch"
    assert loss.get_ylabel() == "cross-entropy loss (nats)"
    assert accuracy.get_ylabel() == "accuracy (%)"
    assert loss.get_title() == "2.1 One hidden layer: loss"
    assert only_axes(rendered["2.2_accuracy"]).get_title() == "2.2 Two hidden layers: accuracy"


def legend_texts(figure):
    return [text.get_text() for text in only_axes(figure).get_legend().get_texts()]


def test_legend_names_the_factors_and_the_final_test_accuracy(rendered):
    assert legend_texts(rendered["2.2_loss"]) == [
        "[60x60] m=0.4 p=0.2 lr=0.001: test 21.0%",  # 0.06 * 3 + 0.03
        "[60x60] m=0 p=0 lr=0.001 he_uniform: test 22.0%",
        "train (solid)", "test (dashed)"]


def test_legend_says_when_a_run_diverged(rendered):
    texts = legend_texts(rendered["2.1_accuracy"])
    assert texts[2] == "[60] m=0 p=0 lr=0.1: test 14.0%, diverged at epoch 3"
    assert not any("diverged" in text for text in texts[:2])


def test_legend_style_keys_are_proxies_not_extra_lines(rendered):
    axes = only_axes(rendered["2.1_loss"])
    handles = axes.get_legend().legend_handles
    assert len(handles) == 3 + 2
    assert [handle.get_linestyle() for handle in handles[-2:]] == ["-", "--"]
    assert not set(handles[-2:]) & set(axes.get_lines())


def tree_bytes(base):
    return {path.relative_to(base): path.read_bytes()
            for path in sorted(base.rglob("*")) if path.is_file()}


def test_rendering_twice_gives_identical_png_and_svg(rendered, figure_runs, figure_dir,
                                                     tmp_path):
    render_figures(figure_runs, GROUP_TITLES, CLASS_NAMES, FigureParams(dpi=50),
                   tmp_path / "png", tmp_path / "svg", tmp_path / "groups")
    first = tree_bytes(figure_dir)
    assert len(first) == 5 + 5 + 4
    assert tree_bytes(tmp_path) == first


def read_table(path):
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_group_tables_hold_both_splits_of_every_epoch_of_every_run(rendered, figure_dir,
                                                                   figure_runs):
    for metric in ("loss", "accuracy"):
        for group in ("2.1", "2.2"):
            expected = [["epoch", "run", "split", "group", metric]]
            heading = f"{group} {GROUP_TITLES[group]}"
            for run in runs_of(figure_runs, group):
                for log in run.curve:
                    expected += [[str(log.epoch), run.name, split, heading,
                                  repr(getattr(log, f"{split}_{metric}"))]
                                 for split in ("train", "test")]
            assert read_table(figure_dir / "groups" / metric / f"{group}.csv") == expected
    rows = read_table(figure_dir / "groups" / "loss" / "2.1.csv")
    assert len(rows) == 1 + 2 * (3 + 3 + 2)


def write_run_files(run, runs_dir, curves_dir):
    """The files train@<name> leaves behind."""
    run_dir = runs_dir / run.name
    run_dir.mkdir(parents=True)
    for name, content in (("config", run.config), ("metrics", run.metrics),
                          ("timing", run.timing), ("confusion", {"test": run.confusion})):
        (run_dir / f"{name}.json").write_text(json.dumps(content))
    curves_dir.mkdir(exist_ok=True)
    (curves_dir / f"{run.name}.csv").write_text(curve_csv(run.curve))


def test_figures_stage_command_reads_the_training_outputs(figure_runs, tmp_path,
                                                           monkeypatch):
    for run in figure_runs:
        write_run_files(run, tmp_path / "runs", tmp_path / "curves")
    params = {"experiments": {run.name: {"group": run.group} for run in figure_runs},
              "groups": GROUP_TITLES, "figures": {"dpi": 50}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))  # JSON is YAML
    (tmp_path / "data.json").write_text(json.dumps(DATA_REPORT))
    monkeypatch.chdir(tmp_path)
    stages.figures.main(["--runs", "runs", "--curves", "curves", "--data-report", "data.json",
                         "--png", "png", "--svg", "svg", "--tables", "groups"])
    assert sorted(path.name for path in (tmp_path / "png").iterdir()) == [
        "2.1_accuracy.png", "2.1_loss.png", "2.2_accuracy.png", "2.2_loss.png",
        "confusion_best_run.png"]
    table = read_table(tmp_path / "groups" / "accuracy" / "2.2.csv")
    assert table[1:3] == [["1", "deep", "train", "2.2 Two hidden layers", repr(0.125 + 0.03)],
                          ["1", "deep", "test", "2.2 Two hidden layers", repr(0.06 + 0.03)]]


# --- summary and report --------------------------------------------------------------

def grid_runs():
    """Every kind of single-factor pair, and pairs that must not count as effects."""
    def run(name, group, hidden, accuracies, **config):
        return make_run(make_config(name, group, hidden, **config), two_epochs(*accuracies))
    return [
        # (final train, final test, best test) accuracy
        run("one_60", "2.1", [60], (6 / 8, 4 / 8, 5 / 8)),
        run("one_60_mom", "2.1", [60], (7 / 8, 5 / 8, 5 / 8), momentum=0.4),
        run("one_60_mom_drop", "2.1", [60], (6 / 8, 6 / 8, 6 / 8), momentum=0.4, dropout=0.2),
        run("one_150_mom_drop", "2.1", [150], (7 / 8, 7 / 8, 7 / 8), momentum=0.4,
            dropout=0.2),
        # depth vs one_60_mom_drop; vs one_150_mom_drop: other sizes, so not "depth"
        run("two_60_mom_drop", "2.2", [60, 60], (5 / 8, 3 / 8, 4 / 8), momentum=0.4,
            dropout=0.2),
        # listed high to low: base/changed must follow the values, not the order
        make_run(make_config("lr_hi", "2.3", [150, 150], lr=0.01), [], status="diverged",
                 diverged_at=1),
        run("lr_mid", "2.3", [150, 150], (6 / 8, 5 / 8, 6 / 8)),
        run("lr_lo", "2.3", [150, 150], (4 / 8, 2 / 8, 2 / 8), lr=0.0001),
        run("he", "2.4", [150, 150], (7 / 8, 6 / 8, 6 / 8), init="he_uniform"),
        # differs from one_60 in momentum AND lr; from one_60_mom in momentum and lr
        run("two_factors", "2.4", [60], (2 / 8, 1 / 8, 2 / 8), momentum=0.9, lr=0.01),
        # differs from one_60 only in epochs: not comparable
        run("longer", "2.4", [60], (5 / 8, 4 / 8, 4 / 8), epochs=5),
    ]


@pytest.fixture
def summary():
    return summarize(grid_runs(), list(GROUP_TITLES), CLASS_NAMES)


def test_effects_are_exactly_the_single_factor_pairs(summary):
    assert [(e["factor"], e["base"], e["changed"], e["from"], e["to"], e["group"])
            for e in summary["effects"]] == [
        ("momentum", "one_60", "one_60_mom", 0.0, 0.4, "2.1"),
        ("dropout", "one_60_mom", "one_60_mom_drop", 0.0, 0.2, "2.1"),
        ("width", "one_60_mom_drop", "one_150_mom_drop", [60], [150], "2.1"),
        ("depth", "one_60_mom_drop", "two_60_mom_drop", [60], [60, 60], "2.2"),
        ("lr", "lr_mid", "lr_hi", 0.001, 0.01, "2.3"),
        ("lr", "lr_lo", "lr_hi", 0.0001, 0.01, "2.3"),
        ("lr", "lr_lo", "lr_mid", 0.0001, 0.001, "2.3"),
        ("init", "lr_mid", "he", "xavier_uniform", "he_uniform", "2.4"),
    ]


def deltas(summary, base, changed):
    [found] = [e for e in summary["effects"] if (e["base"], e["changed"]) == (base, changed)]
    return (found["delta_final_train_accuracy"], found["delta_final_test_accuracy"],
            found["delta_best_test_accuracy"])


def test_effect_deltas_are_changed_minus_base(summary):
    assert deltas(summary, "one_60", "one_60_mom") == (0.125, 0.125, 0.0)
    assert deltas(summary, "one_60_mom", "one_60_mom_drop") == (-0.125, 0.125, 0.125)
    assert deltas(summary, "one_60_mom_drop", "one_150_mom_drop") == (0.125, 0.125, 0.125)
    assert deltas(summary, "one_60_mom_drop", "two_60_mom_drop") == (-0.125, -0.375, -0.25)
    assert deltas(summary, "lr_lo", "lr_mid") == (0.25, 0.375, 0.5)
    assert deltas(summary, "lr_mid", "he") == (0.125, 0.125, 0.0)


def test_effects_with_a_run_that_never_finished_an_epoch_have_no_deltas(summary):
    assert deltas(summary, "lr_mid", "lr_hi") == (None, None, None)
    assert deltas(summary, "lr_lo", "lr_hi") == (None, None, None)


def test_best_run_and_counts(summary):
    assert summary["best_run"] == "one_150_mom_drop"
    assert summary["best_final_test_accuracy"] == 7 / 8
    assert (summary["runs_completed"], summary["runs_diverged"]) == (10, 1)
    assert summary["total_wall_seconds"] == 22.0


def test_summary_rows_follow_the_run_order_with_configs_and_metrics(summary):
    assert [row["name"] for row in summary["runs"]] == [run.name for run in grid_runs()]
    assert summary["runs"][1] == {
        "name": "one_60_mom", "group": "2.1", "label": "[60] m=0.4 p=0 lr=0.001",
        "momentum": 0.4, "dropout": 0.0, "hidden": [60], "lr": 0.001,
        "init": "xavier_uniform", "status": "completed", "epochs_run": 2,
        "final_train_accuracy": 7 / 8, "final_test_accuracy": 5 / 8,
        "best_test_accuracy": 5 / 8, "best_epoch": 1, "final_train_loss": 1.5,
        "final_test_loss": 1.75, "training_loss_rose": False, "test_accuracy_jitter": None, "wall_seconds": 2.0}


def test_per_class_accuracy_of_the_best_run_comes_from_its_confusion_matrix(summary):
    assert summary["best_run_per_class"] == [
        {"class": "Alpha", "test_images": 6, "accuracy": 5 / 6,
         "most_confused_with": "Beta", "confused_count": 1},
        {"class": "Beta", "test_images": 8, "accuracy": 3 / 8,
         "most_confused_with": "Gamma", "confused_count": 3},
        {"class": "Gamma", "test_images": 4, "accuracy": 1.0,
         "most_confused_with": None, "confused_count": 0}]


@pytest.mark.parametrize("other", [{"seed": 1}, {"epochs": 3}, {"batch_size": 32},
                                   {"dtype": "float64"}])
def test_a_pair_differing_in_more_than_the_factor_is_no_effect(other):
    base = make_config("base", "2.1", [60])
    assert factor_of(base, {**base, "lr": 0.01}) == "lr"
    assert factor_of(base, {**base, "lr": 0.01, **other}) is None


def test_best_run_is_the_first_on_ties_and_an_empty_class_has_no_accuracy():
    runs = [make_run(make_config(name, "2.1", [60]), two_epochs(0.5, 0.5, 0.5))
            for name in ("first", "second")]
    assert best_run(runs).name == "first"
    rows = per_class(dataclasses.replace(runs[0], confusion=[[2, 0, 0], [0, 0, 0], [0, 1, 3]]),
                     CLASS_NAMES)
    assert rows[1]["accuracy"] is None and rows[1]["test_images"] == 0


def test_per_class_names_the_first_class_on_ties():
    run = make_run(make_config("tied", "2.1", [60]), two_epochs(0.5, 0.5, 0.5))
    rows = per_class(dataclasses.replace(run, confusion=[[5, 3, 3], [0, 1, 0], [0, 0, 1]]),
                     CLASS_NAMES)
    assert (rows[0]["most_confused_with"], rows[0]["confused_count"]) == ("Beta", 3)


def test_a_run_of_one_epoch_is_drawn_as_points(tmp_path):
    runs = [make_run(make_config("short", "2.1", [60], epochs=1), two_epochs(0.5, 0.5, 0.5)[:1]),
            make_run(make_config("long", "2.1", [150]), two_epochs(0.5, 0.5, 0.5))]
    figure = group_figure(runs, "accuracy", "title")
    markers = [line.get_marker() for line in figure.axes[0].get_lines()[:4]]
    assert markers == ["o", "o", "None", "None"]  # train and test of each run


def test_jitter_is_the_mean_step_of_test_accuracy_over_the_last_half():
    curve = [EpochLog(epoch, 1.0, 0.5, 1.0, accuracy) for epoch, accuracy in
             enumerate([0.1, 0.9, 0.5, 0.25, 0.75, 0.5], start=1)]
    assert jitter_of_test_accuracy(curve) == (0.5 + 0.25) / 2  # epochs 4..6
    assert jitter_of_test_accuracy(curve[:3]) == 0.4  # epochs 2..3
    assert jitter_of_test_accuracy(curve[:1]) is None


def test_summary_is_plain_json(summary):
    assert json.loads(json.dumps(summary)) == summary


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """report.md built next to real figures and an examples image; (markdown, its dir)."""
    tmp_path = tmp_path_factory.mktemp("report")
    runs = grid_runs()
    render_figures(runs, GROUP_TITLES, CLASS_NAMES, FigureParams(dpi=50),
                   tmp_path / "plots" / "figures", tmp_path / "plots" / "figures-svg",
                   tmp_path / "plots" / "groups")
    examples = tmp_path / "plots" / "examples.png"
    examples.write_bytes(b"png")
    summary, markdown = build_report(runs, GROUP_TITLES, DATA_REPORT,
                                     tmp_path / "plots" / "figures", examples,
                                     tmp_path / "report.md")
    assert summary == summarize(runs, list(GROUP_TITLES), CLASS_NAMES)
    return markdown, tmp_path


def section_of(markdown, group):
    """The text of the report's `## <group> ...` section."""
    return re.search(rf"^## {re.escape(group)} .*?(?=^## |\Z)", markdown, re.S | re.M).group(0)


def test_report_table_has_a_row_per_run(report):
    markdown, _ = report
    rows = [line for line in markdown.splitlines() if line.startswith("| 2.")]
    assert len(rows) == len(grid_runs())
    assert ("| 2.1 | `one_60` | [60] | 0 | 0 | 0.001 | xavier_uniform | 75.0% | 50.0% "
            "| 62.5% (1) | n/a | 2 | 2 s | completed |") in rows
    assert ("| 2.3 | `lr_hi` | [150, 150] | 0 | 0 | 0.01 | xavier_uniform | n/a | n/a "
            "| n/a | n/a | 0 | 2 s | diverged |") in rows


def test_report_data_section_quotes_the_data_report(report):
    markdown, _ = report
    data = re.search(r"^## Data\n\n(.*?)\n\n", markdown, re.S | re.M).group(1)
    assert data.splitlines() == [
        "- source: omniglot, set fall2024 (course file sha256 `abababababababab…`)",
        "- 6080 training and 1520 test images of 105x105 pixels, 3 classes (alphabets): "
        "0 Alpha, 1 Beta, 2 Gamma",
        "- pixels: stored (8.0% ink), flattened in C order"]


def test_report_shows_the_best_runs_classes(report):
    markdown, _ = report
    assert "| 1 | Beta | 8 | 37.5% | Gamma (3) |" in markdown
    assert "| 2 | Gamma | 4 | 100.0% | none |" in markdown


def test_report_links_point_to_existing_files(report):
    markdown, base = report
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert links[:2] == ["plots/examples.png", "plots/figures/confusion_best_run.png"]
    assert links[2:] == [f"plots/figures/{group}_{metric}.png" for group in GROUP_TITLES
                         for metric in ("loss", "accuracy")]
    for link in links:
        assert not Path(link).is_absolute() and (base / link).is_file(), link


def test_report_states_effects_with_signs_in_percentage_points(report):
    markdown, _ = report
    assert ("- momentum 0.0 → 0.4 (`one_60` → `one_60_mom`): final train accuracy +12.5 pp, "
            "final test accuracy +12.5 pp, best test accuracy +0.0 pp") in section_of(
        markdown, "2.1")
    depth = section_of(markdown, "2.2")
    assert ("- depth [60] → [60, 60] (`one_60_mom_drop` → `two_60_mom_drop`): final train "
            "accuracy -12.5 pp, final test accuracy -37.5 pp, best test accuracy -25.0 pp"
            ) in depth
    learning_rate = section_of(markdown, "2.3")
    assert ("- learning rate 0.0001 → 0.001 (`lr_lo` → `lr_mid`): final train accuracy "
            "+25.0 pp, final test accuracy +37.5 pp, best test accuracy +50.0 pp"
            ) in learning_rate
    assert ("- learning rate 0.001 → 0.01 (`lr_mid` → `lr_hi`): final train accuracy n/a, "
            "final test accuracy n/a, best test accuracy n/a") in learning_rate
    assert "- initialization xavier_uniform → he_uniform (`lr_mid` → `he`)" in section_of(
        markdown, "2.4")


def test_report_says_how_many_epochs_the_effects_compare(report):
    markdown, _ = report
    assert ("Measured effects (changed run minus base run; final = the last epoch after 2 "
            "epochs, best = the best epoch of each run):" in section_of(markdown, "2.1"))


def test_legends_explain_the_abbreviations(rendered):
    legend = only_axes(rendered["2.1_loss"]).get_legend()
    assert "m = momentum, p = dropout probability" in legend.get_title().get_text()


def test_report_sections_list_only_their_own_effects(report):
    markdown, _ = report
    counts = {group: section_of(markdown, group).count("\n- ") for group in GROUP_TITLES}
    assert counts == {"2.1": 3, "2.2": 1, "2.3": 3, "2.4": 1}
    assert "two_factors" not in "".join(section_of(markdown, g) for g in GROUP_TITLES)
    assert "`longer`" not in "".join(section_of(markdown, g) for g in GROUP_TITLES)


def test_report_says_when_a_group_has_no_comparable_pair(tmp_path):
    runs = [make_run(make_config("a", "2.1", [60]), two_epochs(0.5, 0.5, 0.5)),
            make_run(make_config("b", "2.1", [150], momentum=0.4), two_epochs(0.5, 0.5, 0.5))]
    _, markdown = build_report(runs, GROUP_TITLES, DATA_REPORT, tmp_path / "figures",
                               tmp_path / "examples.png", tmp_path / "report.md")
    assert "- no pair of runs here differs in exactly one factor" in section_of(markdown, "2.1")
    assert "## 2.2" not in markdown
