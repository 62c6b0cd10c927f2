"""Stage prepare: the course's data file -> the training's npz and the data report.

    python -m stages.prepare --course-file data/omniglot_12.npz \
        --provenance data/omniglot_12.source.json \
        --out data/prepared/omniglot_12.npz --report metrics/data.json

The file is read without trusting its headers (pipeline/data/npz_files.py), checked
(shapes, dtypes, labels, pixel range), encoded as prepare.pixels and prepare.order
say, and written with its class names. Nothing is written unless every check passed.
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pipeline.atomic import write_json
from pipeline.data.checksums import file_digests
from pipeline.data.course_archive import ArchiveError
from pipeline.data.course_file import ARRAYS, read_course_file
from pipeline.data.dataset_checks import DatasetError, to_dataset
from pipeline.data.npz_files import NpzError
from pipeline.data.pixel_encoding import encode_images
from pipeline.data.safe_pickle import UnsafePickleError
from pipeline.data.size_limit import SizeLimit
from pipeline.params import load_params, parse, section
from pipeline.small_files import read_small_json
from pipeline.stage_args import parse_path_options
from pipeline.stage_runner import run_stage
from pipeline.data.prepared import (IMAGE_SIDE, MAX_CLASSES, MAX_MEMBER_BYTES, Dataset,
                               save_prepared)


# The fetch stage's record is a few hundred bytes (sources, checksums, 12 class names).
MAX_PROVENANCE_BYTES = 1 << 20


class ProvenanceError(ValueError):
    """A provenance file that is missing, unreadable or describes another file."""


@dataclass(frozen=True)
class PrepareParams:
    pixels: Literal["stored", "ink"]
    order: Literal["C", "F"]


def prepare(params, course_file, provenance, out, report_path):
    """Validate `course_file`, write `out` and `report_path`; returns the report dict."""
    record = read_provenance(provenance)
    try:
        digests = file_digests(course_file)
    except FileNotFoundError:
        raise ProvenanceError(f"{course_file}: not found; run `dvc repro fetch`") from None
    except OSError as error:  # e.g. a folder in its place
        raise ProvenanceError(f"{course_file}: cannot be read ({error.strerror or error}); "
                              f"run `dvc repro fetch`") from None
    if digests["sha256"] != record["output"]["sha256"]:
        raise ProvenanceError(f"{provenance} describes a file with sha256 "
                              f"{record['output']['sha256']}, but {course_file} has "
                              f"{digests['sha256']}; run `dvc repro fetch`")
    arrays = read_course_file(course_file, SizeLimit(
        MAX_MEMBER_BYTES, "prepare's bound: the whole Omniglot release as float32"))
    class_names = record.get("class_names") or generic_names(arrays, course_file)
    data = ((arrays["trainX"], arrays["trainY"]), (arrays["testX"], arrays["testY"]))
    dataset = encode(to_dataset(data, class_names, course_file), params.pixels, params.order)
    report = data_report(dataset, record, params)
    save_prepared(out, dataset)
    write_json(report_path, report)
    return report


def generic_names(arrays, source):
    """'class 0'.. for a file whose alphabets are unknown; as many as its largest label + 1."""
    labels = [arrays[name] for name in ARRAYS if name.endswith("Y")]
    if not all(np.issubdtype(y.dtype, np.integer) and y.ndim == 1 and y.size for y in labels):
        raise DatasetError(f"{source}: trainY, testY: expected non-empty integer label arrays")
    count = int(max(y.max() for y in labels)) + 1
    if not 2 <= count <= MAX_CLASSES:
        raise DatasetError(f"{source}: labels run up to {count - 1}; expected 2..{MAX_CLASSES} "
                           f"classes numbered from 0")
    return [f"class {label}" for label in range(count)]


def encode(dataset, pixels, order):
    """The dataset with ink as 1 (pixels='ink') and/or each image flattened column by column."""
    def convert(x):
        return encode_images(x, pixels, order, IMAGE_SIDE)
    return Dataset(convert(dataset.train_x), dataset.train_y, convert(dataset.test_x),
                   dataset.test_y, dataset.class_names)


def read_provenance(path):
    """The fetch stage's record: a dict with 'source' and 'output' {'sha256', ...}."""
    record = read_small_json(path, MAX_PROVENANCE_BYTES, ProvenanceError,
                             "the fetch stage's record; run `dvc repro fetch`")
    if not (isinstance(record, dict) and "source" in record and isinstance(record.get("set"), str)
            and isinstance(record.get("output"), dict) and "sha256" in record["output"]
            and known_class_names(record.get("class_names"))):
        raise ProvenanceError(f"{path}: expected the fetch stage's record with 'source', "
                              f"'set', 'output.sha256' and 'class_names' (null, or 1.."
                              f"{MAX_CLASSES} distinct names); run `dvc repro fetch`")
    return record


def known_class_names(names):
    """None (fetch read a file whose alphabets are unknown) or 1..MAX_CLASSES distinct strings."""
    return names is None or (isinstance(names, list) and 1 <= len(names) <= MAX_CLASSES
                             and all(isinstance(name, str) for name in names)
                             and len(set(names)) == len(names))


def data_report(dataset, record, params):
    """Facts about the prepared data, for `dvc metrics show` and the report."""
    x = (dataset.train_x, dataset.test_x)
    mean = pixel_mean(*x)
    ink_value = 0 if params.pixels == "stored" else 1
    return {"source": record["source"], "set": record["set"],
            "input_sha256": record["output"]["sha256"],
            "class_names": list(dataset.class_names),
            "num_classes": dataset.num_classes,
            "train": split_report(dataset.train_x, dataset.train_y, dataset.num_classes),
            "test": split_report(dataset.test_x, dataset.test_y, dataset.num_classes),
            "pixels": {"encoding": params.pixels, "order": params.order,
                       "dtype": str(dataset.train_x.dtype), "mean": mean,
                       "ink_fraction": round(1 - mean if ink_value == 0 else mean, 6)}}


def split_report(x, y, num_classes):
    counts = np.bincount(y, minlength=num_classes)
    return {"images": len(y), "class_counts": [int(n) for n in counts],
            "pixel_mean": pixel_mean(x)}


def pixel_mean(*arrays):
    """Mean over every pixel of the arrays (N, 11025), summed exactly for integer pixels."""
    total = sum(float(a.sum(dtype=np.float64)) for a in arrays)
    return round(total / sum(a.size for a in arrays), 6)


PATH_HELP = {
    "course-file": "the course-format npz fetch wrote",
    "provenance": "fetch's JSON record of that file",
    "out": "the training's npz to write",
    "report": "the data report (JSON) to write",
}


def main(argv=None):
    args = parse_path_options("prepare", __doc__.splitlines()[0], PATH_HELP, argv)

    def body():
        params = parse(PrepareParams, section(load_params(), "prepare"), "params.yaml:prepare")
        return prepare(params, args.course_file, args.provenance, args.out, args.report)
    report = run_stage("prepare", body, errors=(ProvenanceError, NpzError, DatasetError,
                                                ArchiveError, UnsafePickleError))
    print(f"prepare: {args.out}: {report['train']['images']} train / "
          f"{report['test']['images']} test images, {report['num_classes']} classes, "
          f"{report['pixels']['encoding']} pixels")


if __name__ == "__main__":
    main()
