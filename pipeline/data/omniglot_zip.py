"""Reading images out of an Omniglot zip without extracting it.

Entries are <root>/<Alphabet>/characterNN/IIII_DD.png under one top-level
folder (__MACOSX/ and dotfiles are skipped); DD is the drawer, 01..20. The PNGs
are 1-bit 105x105 images, stored value 1 = background, 0 = ink. Which images
to read is the caller's (pipeline/data/image_sets.py).
"""
import contextlib
import io
import re
import zipfile
from collections import defaultdict
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from pipeline.data.npz_files import ZIP_DAMAGE, check_entry_count
from pipeline.data.prepared import IMAGE_SIDE

# ASCII digits, at most 4 (the release's longest is 4): a crafted name of thousands of
# digits would otherwise reach int(), which refuses over 4300 with a traceback.
CHARACTER_FOLDER = re.compile(r"character([0-9]{1,4})")
DRAWING_FILE = re.compile(r"([0-9]{1,4})_([0-9]{1,4})\.png")
# A 105x105 1-bit PNG is well under 2 KB; anything far larger is not one.
MAX_PNG_BYTES = 1 << 20
EXPECTED_PNG = ("PNG", "1", (IMAGE_SIDE, IMAGE_SIDE))
# The release has 32,460 images; a zip with far more entries is not an Omniglot zip.
MAX_ENTRIES = 100_000


class OmniglotZipError(ValueError):
    """A zip that is unreadable or not in the Omniglot layout."""


def read_images(zip_path, refs, index=None):
    """(x, y) of the images `refs` name, in their order, read from the zip at `zip_path`.

    x: (len(refs), 11025) uint8, stored values (1 = background, 0 = ink), each image
    flattened row by row; y: (len(refs),) int64, the refs' labels. index: the zip's
    zip_index(), when the caller has it already (else it is built here).
    """
    with open_zip(zip_path) as archive:
        index = index if index is not None else index_drawings(archive, zip_path)
        entries = [entry_of(index, ref, zip_path) for ref in refs]
        x = np.empty((len(refs), IMAGE_SIDE * IMAGE_SIDE), dtype=np.uint8)
        for row, entry in enumerate(entries):
            x[row] = decode_png(archive, entry, zip_path).reshape(-1)
    return x, np.array([ref.label for ref in refs], dtype=np.int64)


def zip_index(zip_path):
    """{alphabet: {character number: {drawer: entry name}}} of the zip at `zip_path`."""
    with open_zip(zip_path) as archive:
        return index_drawings(archive, zip_path)


@contextlib.contextmanager
def open_zip(zip_path):
    """The open ZipFile; OmniglotZipError naming the file when it is missing, not a zip,
    or lists more than MAX_ENTRIES entries (refused before zipfile parses them)."""
    try:
        handle = open(zip_path, "rb")
    except FileNotFoundError:
        raise OmniglotZipError(f"{zip_path}: not found") from None
    except OSError as error:
        raise OmniglotZipError(f"{zip_path}: cannot be read ({error.strerror})") from None
    with handle:
        try:
            check_entry_count(handle, zip_path, MAX_ENTRIES, OmniglotZipError)
            archive = zipfile.ZipFile(handle)
        except OmniglotZipError:
            raise
        except ZIP_DAMAGE as error:
            raise OmniglotZipError(f"{zip_path}: not a readable zip "
                                   f"({type(error).__name__}: {error})") from None
        with archive:
            yield archive


def entry_of(index, ref, zip_path):
    """The zip entry of one ImageRef; an error naming the image when the zip lacks it."""
    entry = index.get(ref.alphabet, {}).get(ref.character, {}).get(ref.drawer)
    if entry is None:
        raise OmniglotZipError(f"{zip_path}: no image for {ref.name} "
                               f"({what_is_missing(index, ref)})")
    return entry


def what_is_missing(index, ref):
    """The folder or drawing the zip lacks for `ref`; a file pattern, since the file's
    IIII part (the image's number) is known only from the zip itself."""
    folder = f"{ref.alphabet}/character{ref.character:02d}/"
    if ref.alphabet not in index:
        return f"the zip has no folder {ref.alphabet}/"
    if ref.character not in index[ref.alphabet]:
        return f"the zip has no folder {folder}"
    return f"{folder} holds no *_{ref.drawer:02d}.png"


def index_drawings(archive, zip_path):
    """{alphabet: {character number: {drawer: entry name}}} over the zip's PNG entries."""
    index = defaultdict(lambda: defaultdict(dict))
    roots = set()
    for entry in archive.infolist():
        parts = PurePosixPath(entry.filename).parts
        if not parts:  # a damaged directory; is_dir() and is_junk() need a name
            raise OmniglotZipError(f"{zip_path}: an entry with an empty name; expected "
                                   f"<root>/<Alphabet>/characterNN/IIII_DD.png")
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


def decode_png(archive, entry, zip_path):
    """(105, 105) uint8 of one 1-bit PNG entry: 1 = background, 0 = ink."""
    info = archive.getinfo(entry)
    if info.file_size > MAX_PNG_BYTES:
        raise OmniglotZipError(f"{zip_path}: {entry}: {info.file_size} bytes; "
                               f"expected a small 1-bit PNG")
    if info.flag_bits & 0x1:
        raise OmniglotZipError(f"{zip_path}: {entry}: encrypted; expected a plain PNG")
    try:
        data = archive.read(entry)
    except ZIP_DAMAGE as error:
        raise OmniglotZipError(f"{zip_path}: {entry}: not readable from the zip "
                               f"({type(error).__name__}: {error})") from None
    return release_png_pixels(io.BytesIO(data), f"{zip_path}: {entry}", OmniglotZipError)


def release_png_pixels(source, where, error):
    """(105, 105) uint8 of a 1-bit 105x105 PNG (a path or a file object) as the release
    stores it: 1 = background, 0 = ink. Anything else raises error(f"{where}: ...")."""
    try:
        with Image.open(source) as image:
            found = (image.format, image.mode, image.size)
            # Decode only what has the expected header: never a huge declared size.
            pixels = np.asarray(image, dtype=np.uint8) if found == EXPECTED_PNG else None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as failure:
        raise error(f"{where}: not a readable PNG ({failure})") from None
    if pixels is None:
        raise error(f"{where}: expected a 1-bit {IMAGE_SIDE}x{IMAGE_SIDE} PNG as in the "
                    f"Omniglot release, found {found[0]} mode {found[1]!r} size {found[2]}")
    return pixels
