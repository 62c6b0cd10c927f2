"""Stage fetch: the course's data file (Fall 2024 npz format) and its provenance.

    python -m stages.fetch --inbox data/inbox --course-set data/course_fall2024 \
        --downloads data/downloads --out data/omniglot_12.npz \
        --provenance data/omniglot_12.source.json

fetch.source = omniglot: build the file from images_background.zip (the copy placed
in the inbox, else the official file downloaded into --downloads and checked by md5):
fetch.set = fall2024 rebuilds the course's own file image for image and checks it
against the course's checksums; fetch.set = custom builds fetch.alphabets, split as
fetch.split says. fetch.source = course: the course's omniglot_12.npz or
omniglot_12.pkl.tar placed in the inbox, read without running any pickled code.
"""
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.atomic import write_json
from pipeline.data.checksums import file_digests
from pipeline.data.course_archive import ArchiveError
from pipeline.data.course_file import (ARRAYS, NPZ_NAME, TAR_NAME, array_checksums,
                                  read_course_file, write_course_npz)
from pipeline.data.dataset_checks import DatasetError, check_course_arrays
from pipeline.data.download import DownloadError, download
from pipeline.data.image_sets import ImageSetError, custom_set, read_labels, read_manifest
from pipeline.data.npz_files import NpzError
from pipeline.data.omniglot_zip import OmniglotZipError, read_images, zip_index
from pipeline.params import check_values, load_params, parse, section
from pipeline.small_files import read_small_json
from pipeline.stage_args import parse_path_options
from pipeline.stage_runner import run_stage
from pipeline.data.prepared import MAX_CLASSES
from pipeline.data.safe_pickle import UnsafePickleError
from pipeline.data.size_limit import MIB, SizeLimit

ZIP_NAME = "images_background.zip"
MANIFEST = "omniglot_12_fall2024.csv"
LABELS = "labels.txt"
CHECKSUMS = "omniglot_12_fall2024.checksums.json"
# The checksums file is about 1 KB (four arrays' shapes, dtypes and sha256).
MAX_CHECKSUMS_BYTES = 1 << 20


class FetchError(RuntimeError):
    """An input that is missing, misplaced, or does not give the data it should."""


@dataclass(frozen=True)
class FetchParams:
    source: Literal["omniglot", "course"]
    set: Literal["fall2024", "custom"]
    url: str
    md5: str
    bytes: int
    alphabets: list[str]
    split: Literal["drawing", "character"]
    test_drawings: int
    test_characters: int
    split_seed: int
    max_input_mb: int

    def validate(self, where):
        checks = [  # max_input_mb first: the bytes check depends on it
            ("max_input_mb", 1 <= self.max_input_mb <= 16384, "1..16384"),
            ("md5", len(self.md5) == 32 and set(self.md5) <= set("0123456789abcdef"),
             "32 lowercase hex digits"),
            ("bytes", 1 <= self.bytes <= self.max_input_mb * MIB,
             f"1..{self.max_input_mb * MIB} (fetch.max_input_mb MiB)"),
            ("alphabets", 0 < len(self.alphabets) == len(set(self.alphabets)),
             "a non-empty list without repeats"),
            ("test_drawings", 1 <= self.test_drawings <= 19, "1..19"),
            ("test_characters", self.test_characters >= 1, ">= 1"),
            ("split_seed", self.split_seed >= 0, ">= 0"),
        ]
        check_values(self, where, checks)


@dataclass(frozen=True)
class FetchPaths:
    inbox: Path         # files placed by hand: the zip, or the course's file
    course_set: Path    # the Fall 2024 manifest, labels and checksums
    downloads: Path     # where the official zip is downloaded when not placed
    out: Path           # the course-format npz this stage writes
    provenance: Path    # JSON record of what was read and built


def fetch(params, paths):
    """Write paths.out and paths.provenance per params.source; returns the provenance record."""
    if params.source == "course":
        arrays, record = from_course_file(params, paths)
    else:
        arrays, record = from_omniglot(params, paths)
    write_course_npz(paths.out, arrays)
    record["counts"] = {"train": len(arrays["trainY"]), "test": len(arrays["testY"])}
    record["output"] = {"path": str(paths.out), **file_digests(paths.out)}
    write_json(paths.provenance, record)
    return record


def from_course_file(params, paths):
    """The course's file from the inbox; class names known when it is the Fall 2024 file."""
    note_unused_inputs(paths.inbox, (ZIP_NAME,), "course")
    placed = [p for p in (placed_file(paths.inbox / NPZ_NAME),
                          placed_file(paths.inbox / TAR_NAME)) if p]
    if len(placed) != 1:
        found = "both" if placed else "neither"
        raise FetchError(f"fetch.source is 'course': expected {paths.inbox / NPZ_NAME} or "
                         f"{paths.inbox / TAR_NAME} (one of the two), found {found}")
    arrays = read_course_file(placed[0], SizeLimit(params.max_input_mb * MIB,
                                                   "fetch.max_input_mb"))
    # Before anything is summed or written: the output must hold exactly these values.
    check_course_arrays(arrays, placed[0], MAX_CLASSES)
    sums = array_checksums(arrays)
    fall2024 = sums == expected_checksums(paths.course_set)
    record = {"source": "course", "input": {"path": str(placed[0]), **file_digests(placed[0])},
              "set": "fall2024" if fall2024 else "unknown", "checksums": sums,
              "class_names": read_labels(paths.course_set / LABELS) if fall2024 else None}
    return arrays, record


def from_omniglot(params, paths):
    """Build the set params.set names from images_background.zip."""
    note_unused_inputs(paths.inbox, (NPZ_NAME, TAR_NAME), "omniglot")
    zip_path, zip_record = obtain_zip(params, paths)
    index = zip_index(zip_path)
    if params.set == "fall2024":
        class_names = read_labels(paths.course_set / LABELS)
        refs = read_manifest(paths.course_set / MANIFEST, class_names)
        check_alphabets(index, class_names, zip_path)
    else:
        class_names = params.alphabets
        refs = custom_set(index, params.alphabets, params.split,
                          params.test_drawings, params.test_characters, params.split_seed)
    x, y = read_images(zip_path, refs, index)
    is_test = [ref.split == "test" for ref in refs]
    train_rows = [i for i, test in enumerate(is_test) if not test]
    test_rows = [i for i, test in enumerate(is_test) if test]
    arrays = dict(zip(ARRAYS, (x[train_rows], y[train_rows], x[test_rows], y[test_rows])))
    sums = array_checksums(arrays)
    if params.set == "fall2024":
        check_course_checksums(sums, expected_checksums(paths.course_set), zip_path)
    record = {"source": "omniglot", "set": params.set, "zip": zip_record,
              "class_names": class_names, "checksums": sums}
    if params.set == "custom":
        record["split"] = {key: getattr(params, key) for key in
                           ("split", "test_drawings", "test_characters", "split_seed")}
    return arrays, record


def note_unused_inputs(inbox, names, source):
    """A note on stderr for each of `names` placed in the inbox: fetch.source `source`
    does not read it, and whoever placed it likely expected it to be used."""
    other = "course" if source == "omniglot" else "omniglot"
    for name in names:
        path = inbox / name
        if path.exists() or path.is_symlink():
            print(f"fetch: note: {path} is not used: fetch.source is '{source}'; "
                  f"`fetch.source: {other}` in params.yaml would use it", file=sys.stderr)


def obtain_zip(params, paths):
    """(path, provenance) of the zip: the inbox's copy, else the checked download."""
    placed = placed_file(paths.inbox / ZIP_NAME)
    path = placed or paths.downloads / ZIP_NAME
    if placed is None and not official(path, params):
        print(f"fetch: downloading {params.url} to {path}", file=sys.stderr)
        try:
            download(params.url, path, params.bytes, params.md5)
        except DownloadError as error:
            raise FetchError(f"{error}. {offline_advice(paths.inbox)}") from None
    size = path.stat().st_size
    if size > params.max_input_mb * MIB:
        raise FetchError(f"{path}: {size} bytes, more than fetch.max_input_mb "
                         f"({params.max_input_mb} MiB)")
    digests = file_digests(path, ("md5", "sha256"))
    is_official = digests["md5"] == params.md5 and digests["bytes"] == params.bytes
    if not is_official:
        print(f"fetch: note: {path} is not byte-identical to the official release "
              f"(md5 {digests['md5']}); its images are checked", file=sys.stderr)
    return path, {"path": str(path), **digests, "official": is_official}


def offline_advice(inbox):
    """Where to put the zip when it cannot be downloaded (two lines): also the inbox files
    that look like a misnamed copy, and the one reason a placed zip may not be seen."""
    target = inbox / ZIP_NAME
    lookalikes = [repr(name) for name in misnamed_zips(inbox)]
    found = ""
    if lookalikes:
        which = "that is" if len(lookalikes) == 1 else "one of them is"
        found = f" ({inbox}/ holds {few(lookalikes)}: if {which} the zip, rename it)"
    # DVC copies only git-tracked files into an experiment's temp folder; the inbox is
    # git-ignored, so a zip placed there is absent unless it is named with --copy-paths.
    return (f"Without internet, download the file elsewhere and put it at {target}{found}\n"
            f"fetch: in `dvc exp run --temp` or a queued experiment, a placed zip is used "
            f"only when passed with --copy-paths {target}")


def misnamed_zips(inbox):
    """Names of inbox files that may be images_background.zip saved under another name,
    e.g. 'images_background (1).zip' from a browser: any other zip, or that name in any form."""
    try:
        names = sorted(path.name for path in inbox.iterdir())
    except OSError:  # no inbox at all: nothing was placed
        return []
    return [name for name in names if name != ZIP_NAME
            and (name.lower().endswith(".zip") or "images_background" in name.lower())]


def check_alphabets(index, needed, zip_path):
    """FetchError when the zip lacks whole alphabets the Fall 2024 set needs: a wrong
    Omniglot zip (evaluation, small1) saved under the right name, named as such rather
    than by its first missing image."""
    missing = [name for name in needed if name not in index]
    if missing:
        raise FetchError(f"{zip_path}: lacks {len(missing)} of the {len(needed)} alphabets "
                         f"fetch.set fall2024 needs ({few(missing)}); it holds {len(index)} "
                         f"alphabet(s): {few(sorted(index))}; expected Omniglot's "
                         f"images_background.zip, which holds the 30 background alphabets")


def few(names, shown=5):
    """Up to `shown` names, comma-separated; '...' when there are more, 'none' when none."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "") or "none"


def official(path, params):
    """True when `path` is a regular file with the official size and md5."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size != params.bytes:
        return False
    return file_digests(path, ("md5",))["md5"] == params.md5


def placed_file(path):
    """`path` when a regular file is there, None when nothing is; refuses links and folders."""
    if path.is_symlink():
        raise FetchError(f"{path}: is a symbolic link; place the file itself there")
    if not path.exists():
        return None
    if not path.is_file():
        raise FetchError(f"{path}: not a regular file")
    return path


def expected_checksums(course_set):
    """{array name: sha256} from the course set's checksums file."""
    path = course_set / CHECKSUMS
    expected = f"the course's checksums file with arrays.<name>.sha256 for {list(ARRAYS)}"
    record = read_small_json(path, MAX_CHECKSUMS_BYTES, FetchError, expected)
    try:
        return {name: str(record["arrays"][name]["sha256"]) for name in ARRAYS}
    except (KeyError, TypeError) as error:
        raise FetchError(f"{path}: missing {error}; expected {expected}") from None


def check_course_checksums(found, expected, zip_path):
    wrong = [name for name in ARRAYS if found[name] != expected[name]]
    if wrong:
        raise FetchError(f"{zip_path}: the rebuilt {', '.join(wrong)} differ from the "
                         f"course's Fall 2024 file (sha256 {found[wrong[0]][:12]}..., "
                         f"expected {expected[wrong[0]][:12]}...): this zip's images are not "
                         f"the official release's")


PATH_HELP = {
    "inbox": "folder of files placed by hand: images_background.zip or the course's file",
    "course-set": "folder of the Fall 2024 manifest, labels and checksums",
    "downloads": "folder the official zip is downloaded into when none is placed",
    "out": "the course-format npz to write",
    "provenance": "the JSON record of what was read and built, to write",
}


def parse_paths(argv):
    args = parse_path_options("fetch", __doc__.splitlines()[0], PATH_HELP, argv)
    return FetchPaths(args.inbox, args.course_set, args.downloads, args.out, args.provenance)


def main(argv=None):
    paths = parse_paths(argv)

    def body():
        params = parse(FetchParams, section(load_params(), "fetch"), "params.yaml:fetch")
        return fetch(params, paths)
    record = run_stage("fetch", body, errors=(FetchError, OmniglotZipError, ImageSetError,
                                              NpzError, ArchiveError, UnsafePickleError,
                                              DatasetError))
    counts = record["counts"]
    print(f"fetch: {paths.out}: {record['source']} ({record['set']}), "
          f"{counts['train']} train / {counts['test']} test images")


if __name__ == "__main__":
    main()
