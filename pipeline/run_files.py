"""What one training run leaves behind: curves, metrics, timing, resolved config, model.

metrics.json holds only results that are a pure function of the params and
seed (byte-identical on a rerun); wall-clock figures live in timing.json.
"""
import io

import mlpcore as mlp

from .atomic import write_bytes, write_json, write_text
from .curves import CURVE_COLUMNS, curve_csv


def run_metrics(result, epochs_planned):
    """Final and best figures of a run; None where no epoch finished."""
    last = result.curve[-1] if result.curve else None
    best = max(result.curve, key=lambda log: log.test_accuracy, default=None)
    metrics = {
        "status": result.status,
        "epochs_run": len(result.curve),
        "epochs_planned": epochs_planned,
        "best_test_accuracy": best.test_accuracy if best else None,
        "best_epoch": best.epoch if best else None,
    }
    for name in CURVE_COLUMNS[1:]:
        metrics[f"final_{name}"] = getattr(last, name) if last else None
    if result.diverged_at_epoch is not None:
        metrics["diverged_at_epoch"] = result.diverged_at_epoch
    return metrics


def write_run(paths, experiment, result, wall_seconds, execution=None):
    """Write every output of a run; metrics.json last, so its presence means 'complete'.

    execution: what ran it (kernels, BLAS libraries, threads, numpy), kept in
    timing.json with the wall time since it varies by machine, not by params.
    """
    buffer = io.BytesIO()
    mlp.save_params(buffer, result.model)
    write_bytes(paths.model, buffer.getvalue())
    write_text(paths.curves, curve_csv(result.curve))
    write_json(paths.run_dir / "config.json", experiment.resolved())
    epochs = max(len(result.curve), 1)
    write_json(paths.run_dir / "timing.json",
               {"wall_seconds": round(wall_seconds, 3),
                "seconds_per_epoch": round(wall_seconds / epochs, 4),
                **({"execution": execution} if execution else {})})
    write_json(paths.run_dir / "metrics.json", run_metrics(result, experiment.config.epochs))
