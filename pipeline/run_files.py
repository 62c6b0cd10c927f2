"""What one training run leaves behind: curves, metrics, timing, resolved config, models.

Two models: the final epoch's weights at paths.model, and the best epoch's (by
test accuracy) next to them, at best_model_path(paths.model).

metrics.json holds only results that are a pure function of the params and
seed (byte-identical on a rerun); wall-clock figures live in timing.json.
"""
import io

import mlpcore as mlp

from pipeline.atomic import write_bytes, write_json, write_text
from pipeline.training.curves import CURVE_COLUMNS, curve_csv


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
    # A finite but useless run (lr: 1000) still completes; this tells it apart.
    metrics["training_loss_rose"] = bool(last and last.train_loss > result.curve[0].train_loss)
    return metrics


def best_model_path(model_path):
    """models/<run>.npz -> models/<run>.best.npz"""
    return model_path.with_name(f"{model_path.stem}.best.npz")


def model_bytes(model):
    """An npz of model.getWs() and model.getbs(), as mlpcore.save_params writes it."""
    buffer = io.BytesIO()
    mlp.save_params(buffer, model)
    return buffer.getvalue()


def write_run(paths, experiment, result, wall_seconds, confusion, execution=None):
    """Write every output of a run; metrics.json last, so its presence means 'complete'.

    When no epoch finished (divergence in the first), the best model is the final one.
    confusion: (num_classes, num_classes) test-set counts of the final model, row = true class.
    execution: what ran it (kernels, BLAS libraries, threads, numpy), kept in
    timing.json with the wall time since it varies by machine, not by params.
    """
    write_bytes(paths.model, model_bytes(result.model))
    write_bytes(best_model_path(paths.model), model_bytes(result.best or result.model))
    write_text(paths.curves, curve_csv(result.curve))
    write_json(paths.run_dir / "config.json", experiment.resolved())
    write_json(paths.run_dir / "confusion.json", {"test": confusion.tolist()})
    epochs = max(len(result.curve), 1)
    write_json(paths.run_dir / "timing.json",
               {"wall_seconds": round(wall_seconds, 3),
                "seconds_per_epoch": round(wall_seconds / epochs, 4),
                **({"execution": execution} if execution else {})})
    write_json(paths.run_dir / "metrics.json", run_metrics(result, experiment.config.epochs))
