"""Facts for the report, computed from the runs' metrics: a table and measured effects.

An effect compares two runs whose configs differ in exactly one of the
factors the homework asks about (momentum, dropout, hidden layers, lr, init)
and agree on everything else, e.g. one_60 -> one_60_mom is "momentum 0 -> 0.4".
"""
from itertools import combinations

from pipeline.training.runs import best_run, jitter_of_test_accuracy

FACTORS = ("momentum", "dropout", "hidden", "lr", "init")
SAME_REQUIRED = ("epochs", "batch_size", "dtype", "seed")
COMPARED = ("final_train_accuracy", "final_test_accuracy", "best_test_accuracy")


def run_row(run):
    """One line of the report's table."""
    keys = ("status", "epochs_run", "final_train_accuracy", "final_test_accuracy",
            "best_test_accuracy", "best_epoch", "final_train_loss", "final_test_loss",
            "training_loss_rose")
    return {"name": run.name, "group": run.group, "label": run.label,
            **{key: run.config[key] for key in FACTORS},
            **{key: run.metrics.get(key) for key in keys},
            "test_accuracy_jitter": jitter_of_test_accuracy(run.curve),
            "wall_seconds": run.timing.get("wall_seconds")}


def factor_of(a, b):
    """The single factor in which configs a and b differ, or None."""
    if any(a[key] != b[key] for key in SAME_REQUIRED):
        return None
    differing = [key for key in FACTORS if a[key] != b[key]]
    if len(differing) != 1:
        return None
    if differing[0] != "hidden":
        return differing[0]
    if len(a["hidden"]) != len(b["hidden"]):
        return "depth" if set(a["hidden"]) == set(b["hidden"]) else None
    return "width"


def effect(base, changed, factor):
    key = "hidden" if factor in ("depth", "width") else factor
    record = {"factor": factor, "base": base.name, "changed": changed.name,
              "epochs": base.config["epochs"],
              "from": base.config[key], "to": changed.config[key], "group": changed.group}
    for metric in COMPARED:
        before, after = base.metrics.get(metric), changed.metrics.get(metric)
        record[f"delta_{metric}"] = None if before is None or after is None else after - before
    return record


def value_rank(factor, config):
    """Orders the two values of a factor: fewer layers, smaller sizes and values, the course's init first."""
    if factor == "depth":
        return len(config["hidden"])
    if factor == "width":
        return config["hidden"]
    if factor == "init":
        return config["init"] != "xavier_uniform"
    return config[factor]


def ordered_pair(a, b, factor, group_rank):
    """(base, changed): the run of the earlier group first, then by value_rank."""
    def rank(run):
        return group_rank[run.group], value_rank(factor, run.config)
    return sorted((a, b), key=rank)


def effects(runs, group_order):
    group_rank = {group: i for i, group in enumerate(group_order)}
    found = []
    for a, b in combinations(runs, 2):
        factor = factor_of(a.config, b.config)
        if factor:
            base, changed = ordered_pair(a, b, factor, group_rank)
            found.append(effect(base, changed, factor))
    return found


def grid_metrics(runs):
    """{run: {"test_acc", "best_acc"}}: the flat, short-keyed numbers `dvc exp show` lists."""
    return {run.name: {"test_acc": run.metrics.get("final_test_accuracy"),
                       "best_acc": run.metrics.get("best_test_accuracy")} for run in runs}


def per_class(run, class_names):
    """Test accuracy per class of `run`'s final model, and the class each is most taken for."""
    rows = []
    for label, (name, counts) in enumerate(zip(class_names, run.confusion)):
        total = sum(counts)
        others = [(n, other) for other, n in enumerate(counts) if other != label]
        # The first class on ties: (count, -label) orders a lower label higher.
        confused_count, negated = max(((n, -other) for n, other in others), default=(0, None))
        confused_with = None if negated is None else -negated
        rows.append({"class": name, "test_images": total,
                     "accuracy": counts[label] / total if total else None,
                     "most_confused_with": class_names[confused_with] if confused_count else None,
                     "confused_count": confused_count})
    return rows


def summarize(runs, group_order, class_names):
    """The content of metrics/summary.json."""
    best = best_run(runs)
    return {
        "runs": [run_row(run) for run in runs],
        "effects": effects(runs, group_order),
        "best_run": best.name if best else None,
        "best_final_test_accuracy": best.metrics["final_test_accuracy"] if best else None,
        "best_run_per_class": per_class(best, class_names) if best else [],
        "runs_completed": sum(run.metrics.get("status") == "completed" for run in runs),
        "runs_diverged": sum(run.metrics.get("status") == "diverged" for run in runs),
        "total_wall_seconds": round(sum(run.timing.get("wall_seconds", 0) for run in runs), 1),
    }
