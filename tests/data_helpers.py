"""Small inputs for the data tests: course-style tars, tiny datasets, synthetic Omniglot zips."""
import io
import os
import pickle
import tarfile
import zipfile

import numpy as np
from PIL import Image

from pipeline.data.prepared import IMAGE_SIDE, PIXELS

SMALL_ALPHABETS = {
    "images_background_small1.zip": ["Balinese", "Early_Aramaic", "Greek", "Korean", "Latin"],
    "images_background_small2.zip": ["Greek", "Japanese_(katakana)", "Latin", "Sanskrit",
                                     "Tagalog"],
}
SMALL_CHARACTERS = {"images_background_small1.zip": 136, "images_background_small2.zip": 156}


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
        code = 0
        for alphabet, characters in alphabets.items():
            for number in range(1, characters + 1):
                code += 1
                for drawer in range(1, drawers + 1):
                    pixels = np.ones((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
                    pixels[code, drawer] = 0
                    name = f"{root}/{alphabet}/character{number:02d}/{code:04d}_{drawer:02d}.png"
                    archive.writestr(name, png_bytes(pixels))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path
