"""Per-group curve tables for DVC's top-level plots (long format, one file per group).

plots/groups/<metric>/<group>.csv with columns epoch,run,split,group,<metric>: the
custom vega template (.dvc/plots/group_curves.json) draws train and test side by
side under the group's title, one colour per run and one line dash per revision,
so `dvc plots diff` pairs the same run of two revisions by colour.
"""
import csv
import io

from pipeline.atomic import write_text


def group_table(runs, metric, title):
    """CSV text: one row per (run, epoch, split); `title` fills the group column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", "run", "split", "group", metric])
    for run in runs:
        for log in run.curve:
            for split in ("train", "test"):
                writer.writerow([log.epoch, run.name, split, title,
                                 repr(getattr(log, f"{split}_{metric}"))])
    return buffer.getvalue()


def write_group_tables(groups, titles, out_dir, metrics=("loss", "accuracy")):
    """groups: {group: [RunRecord]}, titles: {group: heading} -> out_dir/<metric>/<group>.csv."""
    for metric in metrics:
        for group, runs in groups.items():
            write_text(out_dir / metric / f"{group}.csv",
                       group_table(runs, metric, titles[group]))
