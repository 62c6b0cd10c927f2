"""Which Omniglot images make a dataset: a list of ImageRef in the dataset's row order.

Two ways to say it: the course's Fall 2024 manifest (a CSV naming every image
of the course's file, in its order), or a custom set of alphabets split by
drawing (N test drawings of every character) or by character (all 20 drawings
of a test character unseen in training).
"""
import csv
import io
import re
from dataclasses import dataclass

import numpy as np

from pipeline.data.prepared import RELEASE_IMAGES
from pipeline.small_files import read_small_text

DRAWERS = 20
MANIFEST_COLUMNS = ["split", "alphabet", "character", "drawer"]
SPLITS = ("train", "test")
# A manifest longer than the whole Omniglot release is not one.
MAX_IMAGES = RELEASE_IMAGES
MAX_SHOWN_ROW = 120  # characters of a bad manifest row quoted in its error
MAX_MANIFEST_BYTES = 8 << 20
NUMBER = re.compile(r"[0-9]{1,4}")


class ImageSetError(ValueError):
    """A manifest or a set description that cannot name real Omniglot images."""


@dataclass(frozen=True)
class ImageRef:
    """One image of the release: alphabet/characterNN, drawer DD; label is the class index."""
    split: str
    label: int
    alphabet: str
    character: int
    drawer: int

    @property
    def name(self):
        return f"{self.alphabet}/character{self.character:02d} drawer {self.drawer:02d}"


def read_labels(path):
    """Class names in label order, one per line of `path` (label i = line i + 1)."""
    text = read_small_text(path, MAX_MANIFEST_BYTES, ImageSetError, "one alphabet name per line")
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names or len(set(names)) != len(names):
        raise ImageSetError(f"{path}: expected one alphabet name per line, without repeats")
    return names


def read_manifest(path, class_names):
    """[ImageRef] from a manifest CSV (columns split, alphabet, character, drawer), in file order."""
    labels = {name: label for label, name in enumerate(class_names)}
    text = read_small_text(path, MAX_MANIFEST_BYTES, ImageSetError,
                           f"a manifest CSV with the header {','.join(MANIFEST_COLUMNS)}")
    reader = csv.reader(io.StringIO(text))
    if next(reader, None) != MANIFEST_COLUMNS:
        raise ImageSetError(f"{path}:1: expected the header {','.join(MANIFEST_COLUMNS)}")
    refs = [manifest_row(row, labels, f"{path}:{reader.line_num}") for row in reader]
    if not refs or len(refs) > MAX_IMAGES:
        raise ImageSetError(f"{path}: expected 1..{MAX_IMAGES} rows, found {len(refs)}")
    repeated = len(refs) - len({(r.alphabet, r.character, r.drawer) for r in refs})
    if repeated:
        raise ImageSetError(f"{path}: {repeated} image(s) listed more than once")
    return refs


def manifest_row(row, labels, where):
    """One CSV row -> ImageRef; `where` is 'file:line' for the error."""
    expected = "expected split (train|test), alphabet of labels.txt, character >= 1, drawer 1..20"
    if len(row) != len(MANIFEST_COLUMNS):
        raise ImageSetError(f"{where}: {len(row)} fields; {expected}")
    split, alphabet, character, drawer = row
    # ASCII digits, a few of them: isdigit() also takes '²' and 5000-digit numbers.
    if (split not in SPLITS or alphabet not in labels or not NUMBER.fullmatch(character)
            or not NUMBER.fullmatch(drawer) or int(character) < 1
            or not 1 <= int(drawer) <= DRAWERS):
        shown = ",".join(row)
        if len(shown) > MAX_SHOWN_ROW:  # a field may be as long as the file allows
            shown = shown[:MAX_SHOWN_ROW - 3] + "..."
        raise ImageSetError(f"{where}: {shown!r}: {expected}")
    return ImageRef(split, labels[alphabet], alphabet, int(character), int(drawer))


def custom_set(index, alphabets, split, test_drawings, test_characters, seed):
    """[ImageRef] of `alphabets` (label i = alphabets[i]) from a zip index, split as asked.

    index: {alphabet: {character number: {drawer: entry}}}, each character with 20 drawers.
    split "drawing": test_drawings drawers of every character, drawn per character;
    split "character": test_characters whole characters. Rows: train then test, each
    ordered by (label, character, drawer). All draws come from default_rng(seed).
    """
    missing = [name for name in alphabets if name not in index]
    if missing:
        raise ImageSetError(f"alphabet(s) {missing} (fetch.alphabets) not in the zip; "
                            f"available: {sorted(index)}")
    characters = [(label, name, number) for label, name in enumerate(alphabets)
                  for number in sorted(index[name])]
    rng = np.random.default_rng(seed)
    if split == "drawing":
        test = test_drawers_per_character(len(characters), test_drawings, rng)
    else:
        test = test_whole_characters(characters, test_characters, alphabets, rng)
    refs = {side: [] for side in SPLITS}
    for (label, name, number), test_drawers in zip(characters, test):
        for drawer in range(1, DRAWERS + 1):
            side = "test" if drawer in test_drawers else "train"
            refs[side].append(ImageRef(side, label, name, number, drawer))
    return refs["train"] + refs["test"]


def test_drawers_per_character(count, test_drawings, rng):
    """For each of `count` characters, the set of its drawers that go to test."""
    if not 1 <= test_drawings < DRAWERS:
        raise ImageSetError(f"fetch.test_drawings: {test_drawings} is invalid; "
                            f"expected 1..{DRAWERS - 1}")
    return [set((rng.permutation(DRAWERS)[:test_drawings] + 1).tolist()) for _ in range(count)]


def test_whole_characters(characters, test_characters, alphabets, rng):
    """All drawers of `test_characters` characters go to test; every class keeps one in train."""
    if not 1 <= test_characters < len(characters):
        raise ImageSetError(f"fetch.test_characters: {test_characters} is invalid; "
                            f"expected 1..{len(characters) - 1} for {len(characters)} characters")
    chosen = set(rng.permutation(len(characters))[:test_characters].tolist())
    training = {characters[i][1] for i in range(len(characters)) if i not in chosen}
    empty = [name for name in alphabets if name not in training]
    if empty:
        raise ImageSetError(f"the split puts every character of {empty} in test; change "
                            f"fetch.split_seed or fetch.test_characters")
    every = set(range(1, DRAWERS + 1))
    return [every if i in chosen else set() for i in range(len(characters))]
