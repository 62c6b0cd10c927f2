"""Stage report: metrics/summary.json and report.md, computed from the runs' outputs.

    python -m stages.report --runs metrics/runs --curves plots/curves \
        --data-report metrics/data.json --figures plots/figures \
        --examples plots/examples.png --summary metrics/summary.json \
        --grid metrics/grid.json --report report.md

summary.json holds everything the report says; grid.json only each run's final and
best test accuracy under short keys, the one file DVC shows as metrics.
"""
import os
from pathlib import Path

from pipeline.atomic import write_json, write_text
from pipeline.results.confusion_figure import CONFUSION_STEM
from pipeline.training.curves import CurveError
from pipeline.results.group_figures import METRICS, figure_name
from pipeline.params import load_params
from pipeline.results.report_markdown import report_markdown
from pipeline.results.titled_runs import load_titled_runs
from pipeline.training.runs import InputFileError, by_group
from pipeline.stage_args import parse_path_options
from pipeline.stage_runner import run_stage
from pipeline.results.summary import grid_metrics, summarize

def data_lines(data_report):
    """A few facts about the dataset, from the prepare stage's report."""
    train, test = data_report["train"], data_report["test"]
    pixels = data_report["pixels"]
    names = ", ".join(f"{label} {name}" for label, name in enumerate(data_report["class_names"]))
    return [f"- source: {data_report['source']}, set {data_report['set']} (course file sha256 "
            f"`{data_report['input_sha256'][:16]}…`)",
            f"- {train['images']} training and {test['images']} test images of 105x105 "
            f"pixels, {data_report['num_classes']} classes (alphabets): {names}",
            f"- pixels: {pixels['encoding']} ({pixels['ink_fraction']:.1%} ink), "
            f"flattened in {pixels['order']} order"]


def relative(path, start):
    return Path(os.path.relpath(path, start))


def build_report(runs, group_titles, data_report, figures_dir, examples_png, report_path):
    """(summary dict, markdown text)."""
    groups = by_group(runs)
    order = list(group_titles)  # every run's group is titled (check_titled)
    summary = summarize(runs, order, data_report["class_names"])
    base = report_path.parent
    figure_paths = {group: [relative(figures_dir / f"{figure_name(group, metric)}.png", base)
                            for metric in METRICS]
                    for group in order if group in groups}
    markdown = report_markdown(summary, group_titles, figure_paths, data_lines(data_report),
                               relative(examples_png, base),
                               relative(figures_dir / f"{CONFUSION_STEM}.png", base))
    return summary, markdown


PATH_HELP = {
    "runs": "folder of the runs' folders that train wrote (metrics/runs)",
    "curves": "folder of the runs' curve CSVs that train wrote",
    "data-report": "prepare's data report (JSON)",
    "figures": "folder of the PNG figures the report links to",
    "examples": "the examples figure the report links to",
    "summary": "the summary JSON to write",
    "grid": "the JSON of each run's test accuracies (DVC's metrics) to write",
    "report": "the Markdown report to write",
}


def main(argv=None):
    args = parse_path_options("report", __doc__.splitlines()[0], PATH_HELP, argv)
    run_stage("report", lambda: report(args), errors=(InputFileError, CurveError))


def report(args):
    runs, titles, data_report = load_titled_runs(load_params(), args.data_report, args.runs,
                                                 args.curves)
    summary, markdown = build_report(runs, titles, data_report, args.figures, args.examples,
                                     args.report)
    write_json(args.summary, summary)
    write_json(args.grid, grid_metrics(runs))
    write_text(args.report, markdown)


if __name__ == "__main__":
    main()
