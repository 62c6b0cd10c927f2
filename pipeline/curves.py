"""The per-epoch curve of a run and its CSV file (plots/curves/<name>.csv)."""
from pathlib import Path
from typing import NamedTuple


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
    """Rows of a curves CSV as EpochLog; errors name the file and line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split(",")) != CURVE_COLUMNS:
        raise ValueError(f"{path}: expected the header {','.join(CURVE_COLUMNS)}")
    curve = []
    for number, line in enumerate(lines[1:], start=2):
        values = line.split(",")
        if len(values) != len(CURVE_COLUMNS):
            raise ValueError(f"{path}:{number}: expected {len(CURVE_COLUMNS)} values")
        curve.append(EpochLog(int(values[0]), *map(float, values[1:])))
    return curve
