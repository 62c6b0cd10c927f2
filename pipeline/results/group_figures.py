"""The homework's figures: per group, loss and accuracy over epochs for every run.

Train curves are solid, test curves dashed, one colour per run; the legend
names each run by its label (hidden sizes, momentum, dropout, lr, and init when
not the course's), its final test accuracy and, for a diverged run, the epoch.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from pipeline.atomic import atomic_path  # noqa: E402

METRICS = {
    "loss": ("cross-entropy loss (nats)", 1.0),
    "accuracy": ("accuracy (%)", 100.0),
}
# Deterministic SVG ids and no timestamps: reruns give identical files.
matplotlib.rcParams["svg.hashsalt"] = "omniglot-mlp"
SAVE_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}


def figure_name(group, metric):
    """File stem of a group's figure, e.g. 2.1_loss."""
    return f"{group}_{metric}"


def legend_label(run):
    final = run.metrics.get("final_test_accuracy")
    outcome = f"test {100 * final:.1f}%" if final is not None else "no finished epoch"
    if run.metrics.get("status") == "diverged":
        outcome += f", diverged at epoch {run.metrics['diverged_at_epoch']}"
    return f"{run.label}: {outcome}"


def group_figure(runs, metric, title):
    """A Figure with one axes: 2 lines per run (train solid, test dashed)."""
    axis_label, scale = METRICS[metric]
    figure, axes = plt.subplots(figsize=(8, 5), layout="constrained")
    colours = plt.get_cmap("tab10").colors
    for index, run in enumerate(runs):
        epochs = [log.epoch for log in run.curve]
        colour = colours[index % len(colours)]
        for split, style in (("train", "-"), ("test", "--")):
            values = [scale * getattr(log, f"{split}_{metric}") for log in run.curve]
            axes.plot(epochs, values, linestyle=style, color=colour, linewidth=1.4,
                      marker="o" if len(epochs) == 1 else None,  # a lone point has no line
                      label=legend_label(run) if split == "train" else None)
    axes.set_xlabel("epoch")
    axes.set_ylabel(axis_label)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    handles += [Line2D([], [], color="grey", linestyle="-"),
                Line2D([], [], color="grey", linestyle="--")]
    labels += ["train (solid)", "test (dashed)"]
    axes.legend(handles, labels, fontsize=8, loc="best", title_fontsize=8,
                title="[hidden sizes] m = momentum, p = dropout probability, lr")
    return figure


def save_figure(figure, paths, dpi):
    """Write `figure` atomically to each path (format from its suffix: png, svg), then close it."""
    for path in paths:
        fmt = path.suffix.lstrip(".")
        with atomic_path(path) as temp:
            figure.savefig(temp, format=fmt, dpi=dpi, metadata=SAVE_METADATA[fmt])
    plt.close(figure)
