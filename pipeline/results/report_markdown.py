"""report.md: the run table, the figures and the measured effects, as plain facts."""

FACTOR_NAMES = {"momentum": "momentum", "dropout": "dropout", "lr": "learning rate",
                "width": "hidden sizes", "depth": "depth", "init": "initialization"}


def percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


def points(delta):
    return "n/a" if delta is None else f"{100 * delta:+.1f} pp"


def jitter(value):
    return "n/a" if value is None else f"{100 * value:.2f}"


def status(row):
    """The run's status, flagged when its final training loss is above its first epoch's."""
    if row.get("training_loss_rose"):
        return f"{row['status']}, training loss rose"
    return row["status"]


def run_table(rows):
    header = ("| group | run | hidden | momentum | dropout | lr | init | final train acc "
              "| final test acc | best test acc (epoch) | jitter (pp/epoch) | epochs | time "
              "| status |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        best = percent(row["best_test_accuracy"])
        if row["best_epoch"] is not None:
            best += f" ({row['best_epoch']})"
        seconds = row["wall_seconds"]
        lines.append(
            f"| {row['group']} | `{row['name']}` | {row['hidden']} | {row['momentum']:g} "
            f"| {row['dropout']:g} | {row['lr']:g} | {row['init']} "
            f"| {percent(row['final_train_accuracy'])} | {percent(row['final_test_accuracy'])} "
            f"| {best} | {jitter(row['test_accuracy_jitter'])} | {row['epochs_run']} | "
            f"{'n/a' if seconds is None else f'{seconds:.0f} s'} | {status(row)} |")
    return "\n".join(lines)


def effect_line(effect):
    name = FACTOR_NAMES[effect["factor"]]
    return (f"- {name} {effect['from']} → {effect['to']} "
            f"(`{effect['base']}` → `{effect['changed']}`): final train accuracy "
            f"{points(effect['delta_final_train_accuracy'])}, final test accuracy "
            f"{points(effect['delta_final_test_accuracy'])}, best test accuracy "
            f"{points(effect['delta_best_test_accuracy'])}")


def group_section(group, title, figure_paths, effects):
    lines = [f"## {group} {title}".rstrip(), ""]
    lines += [f"![{group} {path.stem.split('_')[-1]}]({path.as_posix()})" for path in figure_paths]
    epochs = sorted({effect["epochs"] for effect in effects})
    after = f" after {' or '.join(map(str, epochs))} epochs" if epochs else ""
    lines += ["", f"Measured effects (changed run minus base run; final = the last epoch"
                  f"{after}, best = the best epoch of each run):", ""]
    lines += [effect_line(effect) for effect in effects] or ["- no pair of runs here differs "
                                                             "in exactly one factor"]
    return "\n".join(lines)


def per_class_section(summary, confusion_path):
    """Per-class test accuracy of the best run, and its confusion matrix."""
    lines = ["## Per class: the best run", "",
             f"`{summary['best_run']}`, final model, test set. Rows of the confusion matrix "
             f"are the true alphabets.", "",
             "| label | alphabet | test images | accuracy | most often taken for (images) |",
             "|---|---|---|---|---|"]
    for label, row in enumerate(summary["best_run_per_class"]):
        confused = (f"{row['most_confused_with']} ({row['confused_count']})"
                    if row["most_confused_with"] else "none")
        lines.append(f"| {label} | {row['class']} | {row['test_images']} "
                     f"| {percent(row['accuracy'])} | {confused} |")
    lines += ["", f"![confusion matrix of the best run]({confusion_path.as_posix()})"]
    return "\n".join(lines)


def report_markdown(summary, group_titles, figure_paths, data_lines, examples_path,
                    confusion_path):
    """figure_paths: {group: [paths relative to the report]}; confusion_path likewise."""
    parts = ["# Omniglot MLPs (CMU 10-417/617 HW1, problem 5): results", "",
             "Written by the `report` stage from the runs' metrics; every number below is "
             "measured, none is typed in.", "", "## Data", "", *data_lines, "",
             f"![examples per class, row- and column-major]({examples_path.as_posix()})", "",
             "## All runs", "",
             "Jitter: the mean absolute change of test accuracy from one epoch to the next "
             "over the last half of training, in percentage points; small means the run "
             "has settled.", "", run_table(summary["runs"])]
    if summary["best_run"]:
        parts += ["", per_class_section(summary, confusion_path)]
    for group, paths in figure_paths.items():
        effects = [effect for effect in summary["effects"] if effect["group"] == group]
        parts += ["", group_section(group, group_titles[group], paths, effects)]
    return "\n".join(parts) + "\n"
