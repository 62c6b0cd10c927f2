"""Class 7 of issue 11: a run whose training loss ends above its first epoch's is flagged.

Such a run (e.g. lr: 1000) stays finite, so its status is "completed"; the
flag training_loss_rose in metrics.json and the report's status tell it apart.
"""
import pytest

from pipeline.atomic import json_text
from pipeline.training.curves import EpochLog
from pipeline.training.experiments import parse_experiment
from pipeline.results.report_markdown import run_table
from pipeline.training.runs import run_metrics
from stages.train import run_experiment
from tests.test_training import blobs, params_with, result_of


def metrics_of(train_losses, status="completed"):
    curve = [EpochLog(epoch, loss, 0.5, loss, 0.5)
             for epoch, loss in enumerate(train_losses, start=1)]
    result = result_of(curve, status, len(curve) + 1 if status == "diverged" else None)
    return run_metrics(result, 10)


@pytest.mark.parametrize("losses, rose", [
    ([2.0, 1.0, 0.5], False), ([2.0, 3.0, 1.9], False), ([2.0, 1.0, 2.5], True),
    ([2.0], False), ([], False), ([2.0, 2.0], False),
])
def test_the_flag_compares_the_last_training_loss_with_the_first(losses, rose):
    assert metrics_of(losses)["training_loss_rose"] is rose


def test_a_diverged_run_is_flagged_by_its_finished_epochs():
    assert metrics_of([1.0, 4.0], status="diverged")["training_loss_rose"] is True


def test_a_huge_learning_rate_is_flagged_and_deterministic():
    experiment = parse_experiment(params_with({"lr": 1000.0, "epochs": 3}), "tiny")
    texts = {json_text(run_metrics(run_experiment(experiment, blobs())[0], 3))
             for _ in range(2)}
    assert len(texts) == 1
    assert '"status": "completed"' in texts.pop()
    assert run_metrics(run_experiment(experiment, blobs())[0], 3)["training_loss_rose"]


def test_the_report_shows_the_flag_in_the_status_column():
    row = {"group": "2.1", "name": "x", "hidden": [60], "momentum": 0.0, "dropout": 0.0,
           "lr": 1000.0, "init": "xavier_uniform", "final_train_accuracy": 0.1,
           "final_test_accuracy": 0.1, "best_test_accuracy": 0.1, "best_epoch": 1,
           "epochs_run": 3, "wall_seconds": 1.0, "status": "completed",
           "test_accuracy_jitter": None}
    assert run_table([{**row, "training_loss_rose": True}]).endswith(
        "| completed, training loss rose |")
    assert run_table([{**row, "training_loss_rose": False}]).endswith("| completed |")
