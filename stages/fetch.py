"""Stage fetch: the course-format archive data/omniglot_12.pkl.tar and its provenance.

    python -m stages.fetch

fetch.source = omniglot: build the archive from the Omniglot zip at fetch.zip
(downloaded from fetch.url only when that file is missing).
fetch.source = course: the course's own archive, placed there by hand, is left
untouched and only described; the network is never used.
"""
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.atomic import write_json
from pipeline.checksums import file_digests
from pipeline.course_archive import write_course_archive
from pipeline.download import DownloadError, download
from pipeline.omniglot_zip import OmniglotZipError, build_dataset
from pipeline.params import ParamsError, check_values, load_params, parse, section

ARCHIVE = Path("data/omniglot_12.pkl.tar")
PROVENANCE = Path("data/omniglot_12.source.json")


class FetchError(RuntimeError):
    """The input the chosen source needs is not where params.yaml says."""


@dataclass(frozen=True)
class FetchParams:
    source: Literal["omniglot", "course"]
    zip: str
    url: str
    md5: str
    bytes: int
    alphabets: list[str]
    test_characters: int
    split_seed: int
    pixels: Literal["stored", "ink"]
    order: Literal["C", "F"]

    def validate(self, where):
        checks = [
            ("zip", self.zip != "", "a path"),
            ("md5", len(self.md5) == 32 and set(self.md5) <= set("0123456789abcdef"),
             "32 lowercase hex digits"),
            ("bytes", self.bytes >= 1, ">= 1"),
            ("alphabets", 0 < len(self.alphabets) == len(set(self.alphabets)),
             "a non-empty list without repeats"),
            ("test_characters", self.test_characters >= 1, ">= 1"),
            ("split_seed", self.split_seed >= 0, ">= 0"),
        ]
        check_values(self, where, checks)


def fetch(params, archive=ARCHIVE, provenance=PROVENANCE):
    """Make `archive` per params.source and write `provenance` (JSON); returns the record."""
    if params.source == "course":
        record = {"source": "course", "archive": describe_course_archive(archive)}
    else:
        record = build_from_omniglot(params, archive)
    write_json(provenance, record)
    return record


def describe_course_archive(archive):
    """Path, size and sha256 of the hand-placed course archive, which stays untouched."""
    if not archive.is_file():
        raise FetchError(f"fetch.source is 'course' but {archive} is missing or not a "
                         f"regular file: put the course's omniglot_12.pkl.tar at {archive}")
    return {"path": str(archive), **file_digests(archive)}


def build_from_omniglot(params, archive):
    """Build the archive from the zip at params.zip; the provenance record of the build."""
    zip_record = zip_provenance(params)
    data, info = build_dataset(Path(params.zip), params.alphabets, params.test_characters,
                               params.split_seed, params.pixels, params.order)
    write_course_archive(archive, data)
    return {
        "source": "omniglot",
        "zip": zip_record,
        "alphabets": params.alphabets,
        "split_seed": params.split_seed,
        "test_characters": params.test_characters,
        "pixels": params.pixels,
        "order": params.order,
        "counts": {"characters": info["characters"], "images": info["images"]},
        "test_character_names": info["test_character_names"],
        "archive": {"path": str(archive), **file_digests(archive)},
    }


def zip_provenance(params):
    """The zip's checksums, downloaded first if absent; warns when it is not the official file."""
    path = Path(params.zip)
    if not path.exists():
        print(f"fetch: {path} not found; downloading {params.url}", file=sys.stderr)
        download(params.url, path, params.bytes, params.md5)
    elif not path.is_file():
        raise FetchError(f"{path} (fetch.zip) is not a regular file")
    digests = file_digests(path, ("md5", "sha256"))
    official = digests["md5"] == params.md5 and digests["bytes"] == params.bytes
    if not official:
        print(f"fetch: warning: {path} is not byte-identical to the official release "
              f"(md5 {digests['md5']}, expected {params.md5}); its contents will be checked",
              file=sys.stderr)
    return {"path": str(path), **digests, "official": official}


def main():
    try:
        params = parse(FetchParams, section(load_params(), "fetch"), "params.yaml:fetch")
        record = fetch(params)
    except (ParamsError, FetchError, DownloadError, OmniglotZipError) as error:
        sys.exit(f"fetch: {error}")
    counts = record.get("counts", {}).get("images")
    print(f"fetch: {ARCHIVE} from {record['source']}"
          + (f": {counts['train']} train / {counts['test']} test images" if counts else ""))


if __name__ == "__main__":
    main()
