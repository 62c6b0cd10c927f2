"""Stage figures: the homework's figures per group, the best run's confusion, DVC's tables.

    python -m stages.figures --runs metrics/runs --curves plots/curves \
        --data-report metrics/data.json --png plots/figures --svg plots/figures-svg \
        --tables plots/groups

Reads only what the training stages wrote (metrics/runs/<name>/, plots/curves/),
so changing a plot style reruns no training.
"""
from dataclasses import dataclass

from pipeline.results.confusion_figure import CONFUSION_STEM, confusion_figure
from pipeline.training.curves import CurveError
from pipeline.results.group_figures import METRICS, figure_name, group_figure, save_figure
from pipeline.results.group_tables import write_group_tables
from pipeline.params import check_values, load_params, parse, section
from pipeline.results.titled_runs import load_titled_runs
from pipeline.training.runs import InputFileError, best_run, by_group
from pipeline.stage_args import parse_path_options
from pipeline.stage_runner import run_stage


@dataclass(frozen=True)
class FigureParams:
    dpi: int

    def validate(self, where):
        check_values(self, where, [("dpi", 50 <= self.dpi <= 600, "50..600")])


def render_figures(runs, group_titles, class_names, params, png_dir, svg_dir, tables_dir):
    """Per group: <png_dir>/<group>_<metric>.png and the same .svg; the best run's confusion
    matrix; the group tables."""
    groups = by_group(runs)
    headings = {group: f"{group} {group_titles[group]}".strip() for group in groups}
    for group, members in groups.items():
        for metric in METRICS:
            figure = group_figure(members, metric, f"{headings[group]}: {metric}")
            name = figure_name(group, metric)
            save_figure(figure, [png_dir / f"{name}.png", svg_dir / f"{name}.svg"], params.dpi)
    best = best_run(runs)
    if best is not None:
        title = (f"Test set, best run {best.name} "
                 f"({100 * best.metrics['final_test_accuracy']:.1f}% at the last epoch)")
        save_figure(confusion_figure(best.confusion, class_names, title),
                    [png_dir / f"{CONFUSION_STEM}.png", svg_dir / f"{CONFUSION_STEM}.svg"],
                    params.dpi)
    write_group_tables(groups, headings, tables_dir)


PATH_HELP = {
    "runs": "folder of the runs' folders that train wrote (metrics/runs)",
    "curves": "folder of the runs' curve CSVs that train wrote",
    "data-report": "prepare's data report (JSON), for the class names",
    "png": "folder to write the PNG figures into",
    "svg": "folder to write the SVG figures into",
    "tables": "folder to write the per-group tables DVC plots into",
}


def main(argv=None):
    args = parse_path_options("figures", __doc__.splitlines()[0], PATH_HELP, argv)
    run_stage("figures", lambda: figures(args), errors=(InputFileError, CurveError))


def figures(args):
    params = load_params()
    figure_params = parse(FigureParams, section(params, "figures"), "params.yaml:figures")
    runs, titles, data_report = load_titled_runs(params, args.data_report, args.runs,
                                                 args.curves)
    render_figures(runs, titles, data_report["class_names"], figure_params, args.png,
                   args.svg, args.tables)


if __name__ == "__main__":
    main()
