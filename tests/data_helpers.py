"""Small inputs for the data tests: course-style tars, tiny datasets, synthetic Omniglot zips."""
import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pipeline.data.prepared import IMAGE_SIDE, PIXELS
from pipeline.params import load_params, parse, section
from stages.fetch import FetchParams

ROOT = Path(__file__).resolve().parents[1]

SMALL_ALPHABETS = {
    "images_background_small1.zip": ["Balinese", "Early_Aramaic", "Greek", "Korean", "Latin"],
    "images_background_small2.zip": ["Greek", "Japanese_(katakana)", "Latin", "Sanskrit",
                                     "Tagalog"],
}
SMALL_CHARACTERS = {"images_background_small1.zip": 136, "images_background_small2.zip": 156}


def fetch_params(**changes):
    """The repository's fetch section with the default source and set, whatever a user chose."""
    values = section(load_params(ROOT / "params.yaml"), "fetch")
    defaults = {"source": "omniglot", "set": "fall2024", "max_input_mb": 2048}
    return parse(FetchParams, {**values, **defaults, **changes}, "params.yaml:fetch")


class RunsACommand:
    """Pickles as os.system(command): what a malicious course archive could hold."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def tiny_data(classes=3, per_class=(4, 2), seed=0):
    """((train_x, train_y), (test_x, test_y)): x (N, 11025) uint8 in {0, 1}, y (N,) int64."""
    rng = np.random.default_rng(seed)
    splits = []
    for count in per_class:
        y = np.repeat(np.arange(classes, dtype=np.int64), count)
        x = (rng.random((len(y), PIXELS)) < 0.2).astype(np.uint8)
        splits.append((x, y))
    return tuple(splits)


def tar_bytes(members):
    """A tar of (TarInfo, payload bytes or None) pairs; sizes are set from the payloads."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, payload in members:
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buffer.getvalue()


def member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def write_course_tar(path, obj, protocol=4, name="omniglot_12.pkl", extra=()):
    """A course-style tar at `path` holding pickle(obj) as `name`, plus `extra` members."""
    payload = pickle.dumps(obj, protocol=protocol)
    path.write_bytes(tar_bytes([(member(name), payload), *extra]))
    return path


def png_bytes(pixels=None, mode="1", size=(IMAGE_SIDE, IMAGE_SIDE)):
    """A PNG; pixels (105, 105) of 0/1 for mode "1", else a blank image of `mode` and `size`."""
    image = Image.new(mode, size, 1 if mode == "1" else 0)
    if pixels is not None:
        image = Image.fromarray(pixels.astype(bool))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def omniglot_zip(path, alphabets, root="images_background", drawers=20, extra=None):
    """A zip in the Omniglot layout; alphabets: {name: number of characters}.

    Each drawing has a unique dot at (character, drawer) so tests can find it.
    extra: {entry name: bytes} added as is (junk, broken files).
    """
    with zipfile.ZipFile(path, "w") as archive:
        for _, code, drawer, name in layout(alphabets, root, drawers):
            pixels = np.ones((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
            pixels[code, drawer] = 0
            archive.writestr(name, png_bytes(pixels))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def layout(alphabets, root="images_background", drawers=20):
    """(alphabet, character code, drawer, entry name) of every drawing, in zip order.

    alphabets: {name: number of characters}; codes run 1, 2, ... across alphabets and
    name <root>/<Alphabet>/characterNN/<code:04>_<drawer:02>.png, as the official zips do.
    """
    code = 0
    for alphabet, characters in alphabets.items():
        for number in range(1, characters + 1):
            code += 1
            for drawer in range(1, drawers + 1):
                yield (alphabet, code, drawer,
                       f"{root}/{alphabet}/character{number:02d}/{code:04d}_{drawer:02d}.png")


# Fixed entry timestamps, so that the same arguments give the same zip bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def synthetic_omniglot_zip(path, alphabets, drawers=20, seed=0):
    """A learnable zip in the official layout; alphabets: {name: number of characters}.

    Every alphabet has two strokes all its characters share and every character two
    strokes of its own; each drawing moves every stroke end by up to 3 pixels and
    flips 1% of the pixels, so drawings of one character are alike but never equal.
    Entries are <root>/<Alphabet>/characterNN/IIII_DD.png, 1-bit 105x105, 1 = background.
    """
    rng = np.random.default_rng(seed)
    shared, strokes = {}, {}  # drawn on first use, so the draws keep the zip's order
    with zipfile.ZipFile(path, "w") as archive:
        for alphabet, code, _, name in layout(alphabets, drawers=drawers):
            if alphabet not in shared:
                shared[alphabet] = random_strokes(rng, 2)
            if code not in strokes:
                strokes[code] = shared[alphabet] + random_strokes(rng, 2)
            pixels = drawing(strokes[code], rng)
            archive.writestr(zipfile.ZipInfo(name, ZIP_DATE), png_bytes(pixels))
    return path


def random_strokes(rng, count):
    """count strokes, each ((x0, y0), (x1, y1)) inside the image's central part."""
    ends = rng.integers(15, IMAGE_SIDE - 15, size=(count, 2, 2))
    return [tuple(map(tuple, stroke.tolist())) for stroke in ends]


def drawing(strokes, rng):
    """(105, 105) uint8, 1 = background: the strokes, each end jittered, plus flipped pixels."""
    image = Image.new("1", (IMAGE_SIDE, IMAGE_SIDE), 1)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        ends = np.array(stroke) + rng.integers(-3, 4, size=(2, 2))
        pen.line([tuple(end) for end in ends.tolist()], fill=0, width=5)
    pixels = np.asarray(image, dtype=np.uint8).copy()
    flips = rng.random(pixels.shape) < 0.01
    pixels[flips] ^= 1
    return pixels
