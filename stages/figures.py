"""Stage figures: the homework's loss and accuracy figures per group, and DVC's group tables.

    python -m stages.figures <runs dir> <curves dir> <png dir> <svg dir> <tables dir>

Reads only what the training stages wrote (metrics/runs/<name>/, plots/curves/),
so changing a plot style reruns no training.
"""
import argparse
from dataclasses import dataclass
from pathlib import Path

from pipeline.curves import CurveError
from pipeline.figures import METRICS, figure_name, group_figure, save_figure
from pipeline.group_curves import write_group_tables
from pipeline.params import (check_values, experiment_names, group_titles, load_params, parse,
                             section)
from pipeline.results import InputFileError, by_group, load_runs
from pipeline.stage_runner import run_stage


@dataclass(frozen=True)
class FigureParams:
    dpi: int

    def validate(self, where):
        check_values(self, where, [("dpi", 50 <= self.dpi <= 600, "50..600")])


def render_figures(runs, group_titles, params, png_dir, svg_dir, tables_dir):
    """Per group: <png_dir>/<group>_<metric>.png and the same .svg; plus the group tables."""
    groups = by_group(runs)
    for group, members in groups.items():
        heading = f"{group} {group_titles.get(group, '')}".strip()
        for metric in METRICS:
            figure = group_figure(members, metric, f"{heading}: {metric}")
            name = figure_name(group, metric)
            save_figure(figure, [png_dir / f"{name}.png", svg_dir / f"{name}.svg"], params.dpi)
    write_group_tables(groups, tables_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("runs_dir", "curves_dir", "png_dir", "svg_dir", "tables_dir"):
        parser.add_argument(name, type=Path)
    args = parser.parse_args(argv)
    run_stage("figures", lambda: figures(args), errors=(InputFileError, CurveError))


def figures(args):
    params = load_params()
    figure_params = parse(FigureParams, section(params, "figures"), "params.yaml:figures")
    section(params, "experiments"), section(params, "groups")  # both required here
    runs = load_runs(experiment_names(params), args.runs_dir, args.curves_dir)
    render_figures(runs, group_titles(params), figure_params,
                   args.png_dir, args.svg_dir, args.tables_dir)


if __name__ == "__main__":
    main()
