"""Stage examples: the homework's warm-up figure.

    python -m stages.examples --data data/prepared/omniglot_12.npz --out plots/examples.png

For each class, the first examples.per_class training images, each row of
pixels reshaped to 105x105 twice: row-major (C) on the left, column-major (F)
on the right. The side that shows upright characters tells the order in which
the pixels were flattened; the other side shows them transposed.
"""
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pipeline.atomic import atomic_path  # noqa: E402
from pipeline.params import check_values, load_params, parse, section  # noqa: E402
from pipeline.data.prepared import IMAGE_SIDE, PreparedError, load_prepared  # noqa: E402
from pipeline.stage_args import parse_path_options  # noqa: E402
from pipeline.stage_runner import run_stage  # noqa: E402

ORDERS = (("C", "row-major (C) reshape"), ("F", "column-major (F) reshape"))
CELL_INCHES = 0.75
# The figure has a row per class; a course file may hold up to prepared.MAX_CLASSES,
# and a thousand rows of axes would take minutes and gigabytes to draw.
MAX_ROWS = 40


@dataclass(frozen=True)
class ExamplesParams:
    per_class: int
    dpi: int

    def validate(self, where):
        check_values(self, where, [("per_class", 1 <= self.per_class <= 20, "1..20"),
                                   ("dpi", 50 <= self.dpi <= 600, "50..600")])


def examples_figure(dataset, per_class):
    """A Figure: a row per class (the first MAX_ROWS), per_class images reshaped C-order,
    then per_class F-order."""
    rows = min(dataset.num_classes, MAX_ROWS)
    figure = plt.figure(figsize=(2 * per_class * CELL_INCHES + 3.2, rows * CELL_INCHES + 0.8),
                        layout="constrained")
    some = "" if rows == dataset.num_classes else (
        f" (classes 0-{rows - 1} of {dataset.num_classes})")
    figure.suptitle(f"First {per_class} training images per class, reshaped two ways{some}")
    for panel, (order, title) in zip(figure.subfigures(1, 2, wspace=0.04), ORDERS):
        panel.suptitle(title)
        axes = panel.subplots(rows, per_class, squeeze=False)
        for label in range(rows):
            images = dataset.train_x[dataset.train_y == label][:per_class]
            for column, ax in enumerate(axes[label]):
                ax.set_xticks([])
                ax.set_yticks([])
                if column < len(images):
                    ax.imshow(images[column].reshape(IMAGE_SIDE, IMAGE_SIDE, order=order),
                              cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                else:
                    ax.set_frame_on(False)
            axes[label, 0].set_ylabel(f"{label}: {dataset.class_names[label]}", rotation=0,
                                      ha="right", va="center", fontsize=8)
    return figure


def render_examples(dataset, per_class, dpi, path):
    """Write the figure to `path` atomically as PNG; no timestamp, so reruns give equal bytes."""
    figure = examples_figure(dataset, per_class)
    try:
        with atomic_path(path) as temp:
            figure.savefig(temp, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(figure)


PATH_HELP = {"data": "the prepared npz to read", "out": "the PNG figure to write"}


def main(argv=None):
    args = parse_path_options("examples", __doc__.splitlines()[0], PATH_HELP, argv)

    def examples():
        params = parse(ExamplesParams, section(load_params(), "examples"),
                       "params.yaml:examples")
        render_examples(load_prepared(args.data), params.per_class, params.dpi, args.out)
    run_stage("examples", examples, errors=(PreparedError,))
    print(f"examples: {args.out}")


if __name__ == "__main__":
    main()
