"""Stage prepare: the course archive -> data/prepared/omniglot_12.npz and metrics/data.json.

    python -m stages.prepare

The archive is unpacked in memory only (members checked first, one expected
pickle, an unpickler that rebuilds only numpy arrays), validated, and written
as a Dataset. Nothing is written unless every check passed.
"""
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.atomic import write_json
from pipeline.checksums import file_digests
from pipeline.course_archive import MIB, ArchiveError, read_course_archive
from pipeline.dataset_checks import DatasetError, to_dataset
from pipeline.params import ParamsError, check_values, load_params, parse, section
from pipeline.prepared import save_prepared
from pipeline.safe_pickle import UnsafePickleError

ARCHIVE = Path("data/omniglot_12.pkl.tar")
PROVENANCE = Path("data/omniglot_12.source.json")
PREPARED = Path("data/prepared/omniglot_12.npz")
METRICS = Path("metrics/data.json")


class ProvenanceError(ValueError):
    """A provenance file that is missing, unreadable or describes another archive."""


@dataclass(frozen=True)
class PrepareParams:
    num_classes: int
    max_member_mb: int

    def validate(self, where):
        check_values(self, where, [("num_classes", self.num_classes >= 2, ">= 2"),
                                   ("max_member_mb", self.max_member_mb >= 1, ">= 1")])


def prepare(params, archive=ARCHIVE, provenance=PROVENANCE, prepared=PREPARED,
            metrics=METRICS):
    """Validate `archive` and write `prepared` and `metrics`; returns the metrics dict."""
    archive, record = Path(archive), read_provenance(provenance)
    if not archive.is_file():
        raise ArchiveError(f"{archive}: not found or not a regular file; run `dvc repro fetch`")
    digests = file_digests(archive)
    if digests["sha256"] != record["archive"]["sha256"]:
        raise ProvenanceError(f"{provenance} describes an archive with sha256 "
                              f"{record['archive']['sha256']}, but {archive} has "
                              f"{digests['sha256']}; run `dvc repro fetch`")
    raw = read_course_archive(archive, params.max_member_mb * MIB)
    dataset = to_dataset(raw, params.num_classes, archive)
    report = data_metrics(dataset, record, digests)
    save_prepared(prepared, dataset)
    write_json(metrics, report)
    return report


def read_provenance(path):
    """The fetch stage's record: a dict with 'source' and 'archive' {'sha256', ...}."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvenanceError(f"{path}: not found; run `dvc repro fetch`") from None
    except (OSError, ValueError) as error:
        raise ProvenanceError(f"{path}: not readable JSON ({error})") from None
    if not (isinstance(record, dict) and "source" in record
            and isinstance(record.get("archive"), dict) and "sha256" in record["archive"]):
        raise ProvenanceError(f"{path}: expected the fetch stage's record with 'source' "
                              f"and 'archive.sha256'; run `dvc repro fetch`")
    return record


def data_metrics(dataset, record, digests):
    """Flat, numeric-first facts about the prepared data, for `dvc metrics show`."""
    x = (dataset.train_x, dataset.test_x)
    pixels = {"dtype": str(dataset.train_x.dtype),
              "min": float(min(a.min() for a in x)),
              "max": float(max(a.max() for a in x)),
              "binary": dataset.train_x.dtype == np.uint8,
              "mean": pixel_mean(*x)}
    # The fetch stage's pixels setting tells which value is ink: stored 0, ink 1.
    # A course archive does not say, so it gets the mean only.
    if record.get("pixels") == "stored":
        pixels["ink_fraction"] = round(1 - pixels["mean"], 6)
    elif record.get("pixels") == "ink":
        pixels["ink_fraction"] = pixels["mean"]
    report = {"source": record["source"],
              "archive": {"sha256": digests["sha256"], "bytes": digests["bytes"]},
              "num_classes": dataset.num_classes,
              "train": split_metrics(dataset.train_x, dataset.train_y, dataset.num_classes),
              "test": split_metrics(dataset.test_x, dataset.test_y, dataset.num_classes),
              "pixels": pixels}
    if "zip" in record:
        report["zip"] = {key: record["zip"][key] for key in ("md5", "sha256", "bytes",
                                                             "official")}
    return report


def split_metrics(x, y, num_classes):
    counts = np.bincount(y, minlength=num_classes)
    return {"images": len(y),
            "class_counts": {str(label): int(n) for label, n in enumerate(counts)},
            "pixel_mean": pixel_mean(x)}


def pixel_mean(*arrays):
    """Mean over every pixel of the arrays (N, 11025), summed exactly for integer pixels."""
    total = sum(float(a.sum(dtype=np.float64)) for a in arrays)
    return round(total / sum(a.size for a in arrays), 6)


def main():
    try:
        params = parse(PrepareParams, section(load_params(), "prepare"), "params.yaml:prepare")
        report = prepare(params)
    except (ParamsError, ProvenanceError, ArchiveError, UnsafePickleError,
            DatasetError) as error:
        sys.exit(f"prepare: {error}")
    print(f"prepare: {PREPARED}: {report['train']['images']} train / "
          f"{report['test']['images']} test images, {report['num_classes']} classes, "
          f"{report['pixels']['dtype']} pixels")


if __name__ == "__main__":
    main()
