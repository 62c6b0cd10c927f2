"""Classify Omniglot images with a trained run: the alphabet and its probability per image.

    python -m stages.predict <run> <image.png ...> [--best]

A command, not a DVC stage: it reads models/<run>.npz (or, with --best, the best
epoch's models/<run>.best.npz), metrics/runs/<run>/config.json for the network's
shape and dtype, and the data report (metrics/data.json) for the class names and
the pixel encoding the network was trained on. Images must be what the Omniglot release
holds: 105x105 1-bit PNGs (stored value 1 = background); anything else is refused.
"""
import argparse
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

import mlpcore as mlp
from pipeline.data.npz_files import NpzError, read_npz
from pipeline.data.omniglot_zip import IMAGE_SIDE, MAX_PNG_BYTES, release_png_pixels
from pipeline.data.pixel_encoding import encode_images
from pipeline.data.prepared import MAX_CLASSES
from pipeline.small_files import read_small_json
from pipeline.training.experiments import MAX_HIDDEN_LAYERS, MAX_HIDDEN_SIZE
from pipeline.training.runs import best_model_path

DATA_REPORT = Path("metrics/data.json")
MODELS = Path("models")
RUNS = Path("metrics/runs")
MAX_RECORD_BYTES = 1 << 20  # a config or data report: a few KB
NPY_HEADER_BYTES = 4096     # room for an .npy member's header


class PredictError(ValueError):
    """A run, data report or image that cannot be used; the message names it."""


class Encoding(NamedTuple):
    """How the training data encoded an image: label i is alphabets[i]."""
    alphabets: list
    pixels: str   # "stored": 1 = background, as in the PNGs; "ink": 1 = ink
    order: str    # "C": flattened row by row; "F": column by column


def read_encoding(path=DATA_REPORT):
    """The class names and pixel encoding of the prepared data, from prepare's data report."""
    record = read_small_json(path, MAX_RECORD_BYTES, PredictError,
                             "prepare's data report with 'class_names' and 'pixels' "
                             "{'encoding', 'order'}; run `dvc pull` or `dvc repro prepare`")
    try:
        pixels = record["pixels"]
        encoding = Encoding(list(record["class_names"]), pixels["encoding"], pixels["order"])
    except (TypeError, KeyError) as error:
        raise PredictError(f"{path}: expected prepare's data report with 'class_names' and "
                           f"'pixels' {{'encoding', 'order'}}: {error!r}") from None
    if not (1 <= len(encoding.alphabets) <= MAX_CLASSES
            and all(isinstance(name, str) for name in encoding.alphabets)):
        raise PredictError(f"{path}: class_names: expected 1..{MAX_CLASSES} names")
    if encoding.pixels not in ("stored", "ink") or encoding.order not in ("C", "F"):
        raise PredictError(f"{path}: pixels {encoding.pixels!r} / order {encoding.order!r}; "
                           f"expected 'stored' or 'ink' / 'C' or 'F'")
    return encoding


class Classifier(NamedTuple):
    model: mlp.MLP
    dtype: np.dtype
    encoding: Encoding


def read_network(config_path, run):
    """(hidden sizes, dropout, dtype) of a run, from its config.json, within training's limits.

    The dropout matters at inference too: the course's ReLU scales its outputs by (1 - p).
    """
    config = read_small_json(config_path, MAX_RECORD_BYTES, PredictError,
                             f"a run's config; is {run!r} a run of params.yaml `experiments`, "
                             f"trained (`dvc repro`) or pulled (`dvc pull`)?")
    hidden = config.get("hidden") if isinstance(config, dict) else None
    dtype = config.get("dtype") if isinstance(config, dict) else None
    dropout = config.get("dropout") if isinstance(config, dict) else None
    if not (isinstance(hidden, list) and 1 <= len(hidden) <= MAX_HIDDEN_LAYERS
            and all(type(size) is int and 1 <= size <= MAX_HIDDEN_SIZE for size in hidden)
            and dtype in ("float32", "float64")
            and type(dropout) in (int, float) and 0 <= dropout < 1):
        raise PredictError(f"{config_path}: expected a run's config with 'hidden' (1-"
                           f"{MAX_HIDDEN_LAYERS} sizes of 1-{MAX_HIDDEN_SIZE}), 'dropout' "
                           f"(0 <= p < 1) and 'dtype' (float32 or float64), found "
                           f"{hidden!r:.60}, {dropout!r:.20} and {dtype!r:.20}")
    return hidden, float(dropout), np.dtype(dtype)


def read_model(model_path, hidden, dropout, num_classes, dtype):
    """The MLP whose weights models/<run>.npz holds; no array larger than its layer read."""
    sizes = [IMAGE_SIDE * IMAGE_SIDE, *hidden, num_classes]
    names = [f"{kind}{i}" for i in range(len(sizes) - 1) for kind in "Wb"]
    largest = max(a * b for a, b in zip(sizes, sizes[1:])) * np.dtype(np.float64).itemsize
    try:
        arrays = read_npz(model_path, names, largest + NPY_HEADER_BYTES)
        model = mlp.MLP(sizes[0], num_classes, hidden, dropout_probability=dropout,
                        rng=np.random.default_rng(0), dtype=dtype)
        count = len(sizes) - 1
        model.loadparams([arrays[f"W{i}"] for i in range(count)],
                         [arrays[f"b{i}"] for i in range(count)])
    except (NpzError, ValueError) as error:
        raise PredictError(f"{model_path}: not a model of {len(hidden)} hidden layer(s) "
                           f"{hidden} with {num_classes} classes: {error}") from None
    return model


def check_project_root(path):
    """PredictError when a relative `path` is missing because predict runs outside the
    project: its default paths (models/, metrics/) are relative to the project's root."""
    if not path.is_absolute() and not path.exists() and not Path("dvc.yaml").is_file():
        raise PredictError(f"{path}: missing, and {Path.cwd()} is not the project's root "
                           f"(it has no dvc.yaml); run `python -m stages.predict` from the "
                           f"project's root")


def load_classifier(run, best=False, models=MODELS, runs=RUNS, data_report=DATA_REPORT):
    """The trained network of `run`, ready for inference, with the data's encoding."""
    model_path = Path(models) / f"{run}.npz"
    model_path = best_model_path(model_path) if best else model_path
    config_path = Path(runs) / run / "config.json"
    check_project_root(config_path)
    hidden, dropout, dtype = read_network(config_path, run)
    encoding = read_encoding(data_report)
    if not model_path.is_file():
        raise PredictError(f"{model_path}: not found; run `dvc pull` or `dvc repro`")
    model = read_model(model_path, hidden, dropout, len(encoding.alphabets), dtype)
    return Classifier(model, dtype, encoding)


def read_image(path):
    """(105, 105) uint8 of a 1-bit PNG as the release stores it: 1 = background, 0 = ink."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise PredictError(f"{path}: not readable ({error.strerror or error})") from None
    if size > MAX_PNG_BYTES:
        raise PredictError(f"{path}: {size} bytes; expected a 1-bit "
                           f"{IMAGE_SIDE}x{IMAGE_SIDE} PNG of a few KB")
    return release_png_pixels(path, path, PredictError)


def encode(images, encoding, dtype):
    """images: (N, 105, 105) uint8 as stored -> x: (11025, N), encoded as in training."""
    images = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
    return encode_images(images, encoding.pixels, encoding.order, IMAGE_SIDE).T.astype(dtype)


def probabilities(classifier, images):
    """images: (N, 105, 105) uint8 as stored -> (num_classes, N) class probabilities."""
    logits = classifier.model.forward(encode(images, classifier.encoding, classifier.dtype),
                                      train=False).astype(np.float64)
    exp = np.exp(logits - logits.max(axis=0, keepdims=True))
    return exp / exp.sum(axis=0, keepdims=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.predict",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a key of `experiments` in params.yaml, e.g. two_60_mom_drop")
    parser.add_argument("images", nargs="+", type=Path, help="105x105 1-bit PNGs")
    parser.add_argument("--best", action="store_true",
                        help="use the best epoch's weights (models/<run>.best.npz)")
    args = parser.parse_args(argv)
    try:
        classifier = load_classifier(args.run, best=args.best)
        images = np.stack([read_image(path) for path in args.images])
    except PredictError as error:
        sys.exit(f"predict: {error}")
    probs = probabilities(classifier, images)
    for path, column in zip(args.images, probs.T):
        label = int(column.argmax())
        print(f"{path}: {classifier.encoding.alphabets[label]} {column[label]:.3f}")


if __name__ == "__main__":
    main()
