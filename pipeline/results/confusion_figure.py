"""The confusion-matrix figure of one run: rows are true alphabets, columns predicted ones."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CONFUSION_STEM = "confusion_best_run"
# Beyond this many classes the cells are too small to label: the matrix is drawn at this
# size without names or counts (a course file may hold up to prepared.MAX_CLASSES, and a
# figure growing with them would take gigabytes).
MAX_LABELLED_CLASSES = 40


def confusion_figure(counts, class_names, title):
    """A Figure of counts (K, K), each row scaled to fractions of that class's test images."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    labelled = len(class_names) <= MAX_LABELLED_CLASSES
    size = 2.0 + 0.55 * min(len(class_names), MAX_LABELLED_CLASSES)
    figure, axes = plt.subplots(figsize=(size + 1.5, size), layout="constrained")
    image = axes.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    if labelled:
        label_cells(axes, counts, fractions, class_names)
    else:
        axes.set_xticks([])
        axes.set_yticks([])
        title = f"{title}\n({len(class_names)} classes, in label order: too many to name)"
    axes.set_xlabel("predicted alphabet")
    axes.set_ylabel("true alphabet")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="fraction of the true alphabet's test images")
    return figure


def label_cells(axes, counts, fractions, class_names):
    """Class names on both axes and each non-zero count (K, K) in its cell."""
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(ticks, class_names, fontsize=8)
    for (row, column), value in np.ndenumerate(counts):
        if value:
            dark = fractions[row, column] > 0.5
            axes.text(column, row, f"{value:.0f}", ha="center", va="center", fontsize=7,
                      color="white" if dark else "black")
