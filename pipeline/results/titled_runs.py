"""What figures and report both read: every run of params.yaml, with its group's title."""
from typing import NamedTuple

from pipeline.params import check_titled, experiment_names, group_titles, section
from pipeline.training.runs import load_runs, read_data_report


class TitledRuns(NamedTuple):
    runs: list          # RunRecord per experiment, in params order
    titles: dict        # {group: title}, in params order; every run's group is one
    data_report: dict   # metrics/data.json: class names, counts, pixels


def load_titled_runs(params, data_report_path, runs_dir, curves_dir):
    """The runs of params' `experiments`, each checked, and `groups`' titles.

    Both sections are required; bad experiment names are refused before any file is
    read, and a run whose group has no title after its files are.
    """
    section(params, "experiments"), section(params, "groups")
    names = experiment_names(params)
    data_report = read_data_report(data_report_path)
    runs = load_runs(names, runs_dir, curves_dir, data_report["num_classes"])
    titles = group_titles(params)
    check_titled({run.name: run.group for run in runs}, titles)
    return TitledRuns(runs, titles, data_report)
