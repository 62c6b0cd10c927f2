"""Save and load a model's parameters as .npz (never pickle)."""
import numpy as np


def save_params(file, model):
    """Write model.getWs() and model.getbs() to `file` (a path or binary file object)."""
    arrays = {}
    for i, (w, b) in enumerate(zip(model.getWs(), model.getbs())):
        arrays[f"W{i}"] = w
        arrays[f"b{i}"] = b
    np.savez(file, **arrays)


def load_params(file):
    """Read (Ws, bs) lists written by save_params, first layer first; ready for loadparams."""
    with np.load(file, allow_pickle=False) as saved:
        count = sum(1 for key in saved.files if key.startswith("W"))
        expected = {f"{kind}{i}" for i in range(count) for kind in "Wb"}
        if set(saved.files) != expected:
            raise ValueError(f"{file}: expected arrays {sorted(expected)}, found {sorted(saved.files)}")
        return [saved[f"W{i}"] for i in range(count)], [saved[f"b{i}"] for i in range(count)]
