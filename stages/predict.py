"""Classify Omniglot images with a trained run: the alphabet and its probability per image.

    python -m stages.predict <run> <image.png ...> [--best]

A command, not a DVC stage: it reads models/<run>.npz (or, with --best, the best
epoch's models/<run>.best.npz), metrics/runs/<run>/config.json for the network's
shape and dtype, and the data report (metrics/data.json) for the class names and
the pixel encoding the network was trained on. Images must be what the Omniglot release
holds: 105x105 1-bit PNGs (stored value 1 = background); anything else is refused.
"""
import argparse
import json
import pickle
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

import mlpcore as mlp
from pipeline.data.omniglot_zip import EXPECTED_PNG, IMAGE_SIDE, MAX_PNG_BYTES
from pipeline.training.runs import best_model_path

DATA_REPORT = Path("metrics/data.json")
MODELS = Path("models")
RUNS = Path("metrics/runs")


class PredictError(ValueError):
    """A run, data report or image that cannot be used; the message names it."""


class Encoding(NamedTuple):
    """How the training data encoded an image: label i is alphabets[i]."""
    alphabets: list
    pixels: str   # "stored": 1 = background, as in the PNGs; "ink": 1 = ink
    order: str    # "C": flattened row by row; "F": column by column


def read_encoding(path=DATA_REPORT):
    """The class names and pixel encoding of the prepared data, from prepare's data report."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        pixels = record["pixels"]
        encoding = Encoding(list(record["class_names"]), pixels["encoding"], pixels["order"])
    except FileNotFoundError:
        raise PredictError(f"{path}: not found; run `dvc pull` or `dvc repro prepare`") from None
    except (ValueError, TypeError, KeyError) as error:
        raise PredictError(f"{path}: expected prepare's data report with 'class_names' and "
                           f"'pixels' {{'encoding', 'order'}}: {error!r}") from None
    if encoding.pixels not in ("stored", "ink") or encoding.order not in ("C", "F"):
        raise PredictError(f"{path}: pixels {encoding.pixels!r} / order {encoding.order!r}; "
                           f"expected 'stored' or 'ink' / 'C' or 'F'")
    return encoding


class Classifier(NamedTuple):
    model: mlp.MLP
    dtype: np.dtype
    encoding: Encoding


def load_classifier(run, best=False, models=MODELS, runs=RUNS, data_report=DATA_REPORT):
    """The trained network of `run`, ready for inference, with the data's encoding."""
    config_path = Path(runs) / run / "config.json"
    model_path = Path(models) / f"{run}.npz"
    model_path = best_model_path(model_path) if best else model_path
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        hidden, dtype = list(config["hidden"]), np.dtype(config["dtype"])
    except FileNotFoundError:
        raise PredictError(f"{config_path}: not found; is {run!r} a run of params.yaml "
                           f"`experiments`, trained (`dvc repro`) or pulled (`dvc pull`)?"
                           ) from None
    except (ValueError, TypeError, KeyError) as error:
        raise PredictError(f"{config_path}: expected a run's config with 'hidden' and "
                           f"'dtype': {error!r}") from None
    encoding = read_encoding(data_report)
    try:
        Ws, bs = mlp.load_params(model_path)
        model = mlp.MLP(IMAGE_SIDE * IMAGE_SIDE, len(encoding.alphabets), hidden,
                        rng=np.random.default_rng(0), dtype=dtype)
        model.loadparams(Ws, bs)
    except FileNotFoundError:
        raise PredictError(f"{model_path}: not found; run `dvc pull` or `dvc repro`") from None
    except (OSError, ValueError, AttributeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as error:
        raise PredictError(f"{model_path}: not a model of {len(hidden)} hidden layer(s) "
                           f"{hidden} with {len(encoding.alphabets)} classes: {error}") from None
    return Classifier(model, dtype, encoding)


def read_image(path):
    """(105, 105) uint8 of a 1-bit PNG as the release stores it: 1 = background, 0 = ink."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PNG_BYTES:
            raise PredictError(f"{path}: {path.stat().st_size} bytes; expected a 1-bit "
                               f"{IMAGE_SIDE}x{IMAGE_SIDE} PNG of a few KB")
        with Image.open(path) as image:
            found = (image.format, image.mode, image.size)
            # Decode only what has the expected header: never a huge declared size.
            pixels = np.asarray(image, dtype=np.uint8) if found == EXPECTED_PNG else None
    except PredictError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise PredictError(f"{path}: not a readable image ({error})") from None
    if pixels is None:
        raise PredictError(f"{path}: expected a 1-bit {IMAGE_SIDE}x{IMAGE_SIDE} PNG as in the "
                           f"Omniglot release, found {found[0]} mode {found[1]!r} size {found[2]}")
    return pixels


def encode(images, encoding, dtype):
    """images: (N, 105, 105) uint8 as stored -> x: (11025, N), encoded as in training."""
    images = np.asarray(images, dtype=np.uint8)
    if encoding.pixels == "ink":
        images = 1 - images
    if encoding.order == "F":
        images = images.transpose(0, 2, 1)
    return images.reshape(len(images), -1).T.astype(dtype)


def probabilities(classifier, images):
    """images: (N, 105, 105) uint8 as stored -> (num_classes, N) class probabilities."""
    logits = classifier.model.forward(encode(images, classifier.encoding, classifier.dtype),
                                      train=False).astype(np.float64)
    exp = np.exp(logits - logits.max(axis=0, keepdims=True))
    return exp / exp.sum(axis=0, keepdims=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
