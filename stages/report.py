"""Stage report: metrics/summary.json and report.md, computed from the runs' outputs.

    python -m stages.report <runs dir> <curves dir> <data report> <figures dir>
                            <examples png> <summary json> <report md>
"""
import argparse
import os
from pathlib import Path

from pipeline.atomic import write_json, write_text
from pipeline.curves import CurveError
from pipeline.figures import METRICS, figure_name
from pipeline.params import experiment_names, group_titles, load_params, section
from pipeline.report_markdown import report_markdown
from pipeline.results import (INTEGER, TEXT, InputFileError, by_group, check_fields, load_runs,
                              read_json)
from pipeline.stage_runner import run_stage
from pipeline.summary import summarize

# What the report takes from the prepare stage's metrics/data.json.
DATA_FIELDS = {"source": TEXT, "num_classes": INTEGER}
SPLIT_FIELDS = {"images": INTEGER}


def read_data_report(path):
    """metrics/data.json with the fields data_lines uses, or InputFileError naming it."""
    report = check_fields(read_json(path), DATA_FIELDS, path)
    for part, fields in (("train", SPLIT_FIELDS), ("test", SPLIT_FIELDS),
                         ("archive", {"sha256": TEXT})):
        if not isinstance(report.get(part), dict):
            raise InputFileError(f"{path}: {part}: expected an object, found "
                                 f"{report.get(part)!r}")
        check_fields(report[part], fields, f"{path}: {part}")
    return report


def data_lines(data_report):
    """A few facts about the dataset, from the prepare stage's report."""
    train, test = data_report["train"], data_report["test"]
    return [f"- source: {data_report['source']} (archive sha256 "
            f"`{data_report['archive']['sha256'][:16]}…`)",
            f"- {train['images']} training and {test['images']} test images of 105x105 "
            f"pixels, {data_report['num_classes']} classes (alphabets)"]


def relative(path, start):
    return Path(os.path.relpath(path, start))


def build_report(runs, group_titles, data_report, figures_dir, examples_png, report_path):
    """(summary dict, markdown text)."""
    groups = by_group(runs)
    order = list(group_titles) + [group for group in groups if group not in group_titles]
    summary = summarize(runs, order)
    base = report_path.parent
    figure_paths = {group: [relative(figures_dir / f"{figure_name(group, metric)}.png", base)
                            for metric in METRICS]
                    for group in order if group in groups}
    markdown = report_markdown(summary, group_titles, figure_paths, data_lines(data_report),
                               relative(examples_png, base))
    return summary, markdown


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("runs_dir", "curves_dir", "data_report", "figures_dir", "examples_png",
                 "summary_json", "report_md"):
        parser.add_argument(name, type=Path)
    args = parser.parse_args(argv)
    run_stage("report", lambda: report(args), errors=(InputFileError, CurveError))


def report(args):
    params = load_params()
    section(params, "experiments"), section(params, "groups")  # both required here
    runs = load_runs(experiment_names(params), args.runs_dir, args.curves_dir)
    data_report = read_data_report(args.data_report)
    summary, markdown = build_report(runs, group_titles(params), data_report,
                                     args.figures_dir, args.examples_png, args.report_md)
    write_json(args.summary_json, summary)
    write_text(args.report_md, markdown)


if __name__ == "__main__":
    main()
