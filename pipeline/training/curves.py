"""The per-epoch curve of a run and its CSV file (plots/curves/<name>.csv)."""
import math
from pathlib import Path
from typing import NamedTuple

from pipeline.small_files import read_small_text

# About 100 bytes an epoch: room for far more epochs than train.epochs allows.
MAX_CURVE_BYTES = 64 << 20


class CurveError(ValueError):
    """A curves CSV that is missing or malformed; the message names the file and line."""


class EpochLog(NamedTuple):
    """Full-split figures after one epoch, in inference mode."""
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float


CURVE_COLUMNS = EpochLog._fields


def curve_csv(curve):
    """One row per finished epoch; floats in repr form, the shortest exact round trip."""
    lines = [",".join(CURVE_COLUMNS)]
    lines += [",".join(repr(value) for value in log) for log in curve]
    return "\n".join(lines) + "\n"


def read_curve(path):
    """Rows of a curves CSV as EpochLog: epochs 1, 2, ... with finite values."""
    path = Path(path)
    lines = read_small_text(path, MAX_CURVE_BYTES, CurveError,
                            "the curve CSV its training stage writes; rerun "
                            "that stage").splitlines()
    if not lines or tuple(lines[0].split(",")) != CURVE_COLUMNS:
        raise CurveError(f"{path}: expected the header {','.join(CURVE_COLUMNS)}")
    return [parse_row(path, number, line) for number, line in enumerate(lines[1:], start=2)]


def parse_row(path, number, line):
    """Line `number` of the file: epoch number-1 then four finite numbers."""
    values = line.split(",")
    try:
        log = EpochLog(int(values[0]), *map(float, values[1:]))
    except (ValueError, TypeError):
        log = None
    if (log is None or len(values) != len(CURVE_COLUMNS) or log.epoch != number - 1
            or not all(map(math.isfinite, log[1:]))):
        raise CurveError(f"{path}:{number}: expected epoch {number - 1} and "
                         f"{len(CURVE_COLUMNS) - 1} finite numbers, found {line[:80]!r}")
    return log
