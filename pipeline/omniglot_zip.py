"""The course's 12-alphabet set, built from an Omniglot zip without extracting it.

Entries are <root>/<Alphabet>/characterNN/IIII_DD.png under one top-level
folder (__MACOSX/ and dotfiles are skipped); DD is the drawer, 01..20. The PNGs
are 1-bit 105x105 images, stored value 1 = background, 0 = ink.

Split by character: all 20 drawings of a character land on the same side, as in
the course's 6660 train / 1660 test (333 / 83 characters).
"""
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

# The release's image format; pipeline/prepared.py flattens the same side.
IMAGE_SIDE = 105
DRAWERS = 20
CHARACTER_FOLDER = re.compile(r"character(\d+)")
DRAWING_FILE = re.compile(r"(\d+)_(\d+)\.png")
# A 105x105 1-bit PNG is well under 2 KB; anything far larger is not one.
MAX_PNG_BYTES = 1 << 20
EXPECTED_PNG = ("PNG", "1", (IMAGE_SIDE, IMAGE_SIDE))


class OmniglotZipError(ValueError):
    """A zip that is unreadable or not in the Omniglot layout."""


@dataclass(frozen=True)
class Character:
    """One character of an alphabet; `drawings` are its zip entries, drawer 01..20 in order."""
    label: int
    alphabet: str
    number: int
    drawings: tuple

    @property
    def name(self):
        return f"{self.alphabet}/character{self.number:02d}"


def build_dataset(zip_path, alphabets, test_characters, split_seed, pixels, order):
    """((train_x, train_y), (test_x, test_y)), info from the zip at `zip_path`.

    train_x: (N_train, 11025) uint8 in {0, 1}; train_y: (N_train,) int64, label i
    = alphabets[i]; test_x, test_y likewise. Samples are ordered by (label,
    character, drawer). pixels: "stored" keeps 1 = background, "ink" makes 1 = ink;
    order: "C" flattens each image row by row, "F" column by column.
    info: JSON-ready counts and the test characters' names.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            characters = select_characters(index_drawings(archive, zip_path), alphabets,
                                           zip_path)
            is_test = split_characters(len(characters), test_characters, split_seed)
            check_every_class_trains(characters, is_test, alphabets, zip_path)
            splits = [read_split(archive, zip_path, characters, is_test == side, pixels, order)
                      for side in (False, True)]
    except FileNotFoundError:
        raise OmniglotZipError(f"{zip_path}: not found") from None
    except zipfile.BadZipFile as error:
        raise OmniglotZipError(f"{zip_path}: not a readable zip ({error})") from None
    test_names = [c.name for c, test in zip(characters, is_test) if test]
    info = {"characters": {"train": int((~is_test).sum()), "test": int(is_test.sum())},
            "images": {"train": len(splits[0][1]), "test": len(splits[1][1])},
            "test_character_names": test_names}
    return tuple(splits), info


def index_drawings(archive, zip_path):
    """{alphabet: {character number: {drawer: entry name}}} over the zip's PNG entries."""
    index = defaultdict(lambda: defaultdict(dict))
    roots = set()
    for entry in archive.infolist():
        parts = PurePosixPath(entry.filename).parts
        if entry.is_dir() or is_junk(parts):
            continue
        if len(parts) != 4:
            raise OmniglotZipError(f"{zip_path}: entry {entry.filename!r}: expected "
                                   f"<root>/<Alphabet>/characterNN/IIII_DD.png")
        root, alphabet, folder, file = parts
        roots.add(root)
        number, drawer = parse_drawing(folder, file, entry.filename, zip_path)
        if drawer in index[alphabet][number]:
            raise OmniglotZipError(f"{zip_path}: {alphabet}/{folder} has drawer {drawer:02d} "
                                   f"twice: {index[alphabet][number][drawer]!r} and "
                                   f"{entry.filename!r}")
        index[alphabet][number][drawer] = entry.filename
    if len(roots) > 1:
        raise OmniglotZipError(f"{zip_path}: expected one top-level folder, found "
                               f"{sorted(roots)}")
    return index


def is_junk(parts):
    """macOS resource forks and dotfiles, which some official zips carry."""
    return parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def parse_drawing(folder, file, entry, zip_path):
    """(character number, drawer) from 'characterNN' and 'IIII_DD.png'."""
    character, drawing = CHARACTER_FOLDER.fullmatch(folder), DRAWING_FILE.fullmatch(file)
    if not character or not drawing:
        raise OmniglotZipError(f"{zip_path}: entry {entry!r}: expected "
                               f"<root>/<Alphabet>/characterNN/IIII_DD.png")
    return int(character.group(1)), int(drawing.group(2))


def select_characters(index, alphabets, zip_path):
    """Characters of `alphabets`, in list order then by character number; 20 drawers each."""
    missing = [name for name in alphabets if name not in index]
    if missing:
        raise OmniglotZipError(f"{zip_path}: alphabet(s) {missing} (fetch.alphabets) not in "
                               f"the zip; available: {sorted(index)}")
    characters = []
    for label, alphabet in enumerate(alphabets):
        for number, drawers in sorted(index[alphabet].items()):
            if sorted(drawers) != list(range(1, DRAWERS + 1)):
                raise OmniglotZipError(f"{zip_path}: {alphabet}/character{number:02d}: "
                                       f"expected drawers 01..{DRAWERS}, found "
                                       f"{sorted(drawers)}")
            drawings = tuple(drawers[d] for d in range(1, DRAWERS + 1))
            characters.append(Character(label, alphabet, number, drawings))
    return characters


def split_characters(count, test_characters, seed):
    """is_test: (count,) bool, exactly `test_characters` True, drawn by default_rng(seed)."""
    if not 1 <= test_characters < count:
        raise OmniglotZipError(f"fetch.test_characters: {test_characters} is invalid; "
                               f"expected 1..{count - 1} for {count} characters")
    is_test = np.zeros(count, dtype=bool)
    is_test[np.random.default_rng(seed).permutation(count)[:test_characters]] = True
    return is_test


def check_every_class_trains(characters, is_test, alphabets, zip_path):
    training = {c.alphabet for c, test in zip(characters, is_test) if not test}
    empty = [name for name in alphabets if name not in training]
    if empty:
        raise OmniglotZipError(f"{zip_path}: the split puts every character of {empty} in "
                               f"test; change fetch.split_seed or fetch.test_characters")


def read_split(archive, zip_path, characters, selected, pixels, order):
    """(x, y) of the selected characters: x (N, 11025) uint8, y (N,) int64."""
    chosen = [c for c, keep in zip(characters, selected) if keep]
    images = np.empty((len(chosen) * DRAWERS, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    y = np.repeat(np.array([c.label for c in chosen], dtype=np.int64), DRAWERS)
    entries = [entry for character in chosen for entry in character.drawings]
    for row, entry in enumerate(entries):
        images[row] = decode_png(archive, entry, zip_path)
    if pixels == "ink":
        images = 1 - images
    if order == "F":
        images = images.transpose(0, 2, 1)
    return np.ascontiguousarray(images).reshape(len(images), -1), y


def decode_png(archive, entry, zip_path):
    """(105, 105) uint8 of one 1-bit PNG entry: 1 = background, 0 = ink."""
    info = archive.getinfo(entry)
    if info.file_size > MAX_PNG_BYTES:
        raise OmniglotZipError(f"{zip_path}: {entry}: {info.file_size} bytes; "
                               f"expected a small 1-bit PNG")
    try:
        with Image.open(io.BytesIO(archive.read(entry))) as image:
            found = (image.format, image.mode, image.size)
            # Decode only what has the expected header: never a huge declared size.
            pixels = np.asarray(image, dtype=np.uint8) if found == EXPECTED_PNG else None
    except (OSError, SyntaxError, ValueError, zipfile.BadZipFile,
            Image.DecompressionBombError) as error:
        raise OmniglotZipError(f"{zip_path}: {entry}: not a readable PNG ({error})") from None
    if pixels is None:
        raise OmniglotZipError(f"{zip_path}: {entry}: expected a 1-bit "
                               f"{IMAGE_SIDE}x{IMAGE_SIDE} PNG, found {found[0]} "
                               f"mode {found[1]!r} size {found[2]}")
    return pixels
