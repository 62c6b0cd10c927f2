"""Per-group curve tables for DVC's top-level plots (long format, one file per group).

plots/groups/<metric>/<group>.csv with columns epoch,run,split,<metric>: the
custom vega template colours by run and dashes by split, so `dvc plots show`
and `dvc plots diff` overlay every run of a group in one chart.
"""
from .atomic import write_text


def group_table(runs, metric):
    lines = [f"epoch,run,split,{metric}"]
    for run in runs:
        for log in run.curve:
            for split in ("train", "test"):
                lines.append(f"{log.epoch},{run.name},{split},"
                             f"{getattr(log, f'{split}_{metric}')!r}")
    return "\n".join(lines) + "\n"


def write_group_tables(groups, out_dir, metrics=("loss", "accuracy")):
    """groups: {group: [RunRecord]} -> out_dir/<metric>/<group>.csv for each metric."""
    for metric in metrics:
        for group, runs in groups.items():
            write_text(out_dir / metric / f"{group}.csv", group_table(runs, metric))
