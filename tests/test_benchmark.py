"""The benchmark's smoke mode runs end to end, and its rules refuse what noise could fake."""
import json
import subprocess
import sys
from types import SimpleNamespace

from benchmarks import sampling
from tests.conftest import ROOT


def times(minimum, median):
    return {"min": minimum, "median": median}


QUIET = {"other_cores": 0.0}


def test_a_clean_ratio_is_given_from_the_minima():
    result = sampling.verdict(times(1.2, 1.25), times(1.0, 1.02), QUIET)
    assert result["refused"] is None and result["ratio"] == 1.2


def test_busy_unstable_and_below_the_floor_are_refused_with_the_reason():
    busy = sampling.verdict(times(1.2, 1.2), times(1.0, 1.0), {"other_cores": 0.9})
    assert busy["refused"].startswith("busy: other processes used 0.90 cores")
    unstable = sampling.verdict(times(1.2, 2.0), times(1.0, 1.0), QUIET)
    assert unstable["refused"].startswith("unstable: min gives 1.20, median 2.00")
    below = sampling.verdict(times(0.5, 0.5), times(1.0, 1.0), QUIET)
    assert below["refused"] == "measurement error: 0.50 is below the floor"
    # Min and median agree within the margin, yet the median is under the floor.
    below_median = sampling.verdict(times(1.04, 0.96), times(1.0, 1.0), QUIET)
    assert below_median["refused"] == "measurement error: 0.96 is below the floor"
    # Between two epochs (portable against native) below 1.0 is a legitimate answer.
    assert sampling.verdict(times(0.5, 0.5), times(1.0, 1.0), QUIET,
                            floor_ratio=False)["refused"] is None


def test_too_few_clean_samples_is_refused_even_when_the_samples_agree():
    late = sampling.verdict(times(1.5, 1.5), times(1.0, 1.0),
                            {**QUIET, "handoff": 1.33, "rounds": 15, "clean_samples": 2})
    assert late["refused"] == ("late second core: only 2 of 15 samples had multi-thread GEMMs "
                               "no slower than 1-thread ones on both sides (worst 1.33x); "
                               "3 needed")
    assert sampling.verdict(times(1.2, 1.2), times(1.0, 1.0),
                            {**QUIET, "handoff": 1.4, "rounds": 6, "clean_samples": 3}
                            )["refused"] is None


def test_a_sample_counts_only_between_two_quiet_probes(monkeypatch):
    monkeypatch.setattr(sampling, "settle", lambda: None)
    # probes: first, then after a0 b0 | a1 b1 | a2 b2 | a3 b3
    probes = iter([0.7, 0.7, 1.3, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7])
    values = iter(range(100))
    clean, every, seen = sampling.bracketed_samples(
        [("a", lambda: next(values)), ("b", lambda: next(values))], lambda: next(probes), 3)
    assert every == {"a": [0, 2, 4, 6], "b": [1, 3, 5, 7]}
    assert clean == {"a": [0, 4, 6], "b": [3, 5, 7]}  # b0 and a1 touch the late probe
    assert len(seen) == 1 + 8


def test_rounds_stop_after_the_cap_when_the_core_stays_late(monkeypatch):
    monkeypatch.setattr(sampling, "settle", lambda: None)
    clean, every, seen = sampling.bracketed_samples([("a", lambda: 1.0)], lambda: 1.5, 2)
    assert clean == {"a": []} and len(every["a"]) == 2 * sampling.MAX_ROUNDS_PER_PAIR
    assert len(seen) == len(every["a"]) + 1


def test_too_few_pairs_for_a_ratio_is_refused_up_front():
    shown = subprocess.run([sys.executable, "-m", "benchmarks.epoch", "--quick", "--pairs", "2"],
                           cwd=ROOT, capture_output=True, text=True)
    assert shown.returncode == 2 and "--pairs 2: expected at least 3" in shown.stderr


def test_samples_alternate():
    order = []
    samples = sampling.interleaved([("a", lambda: order.append("a") or 1.0),
                                    ("b", lambda: order.append("b") or 2.0)], 3)
    assert order == ["a", "b"] * 3 and samples == {"a": [1.0] * 3, "b": [2.0] * 3}


def test_quick_mode_measures_both_kernels_and_the_grid_floor(tmp_path):
    """--quick end to end, with --grid over fake run records of the repository's grid."""
    from pipeline.training.experiments import parse_grid
    from pipeline.params import load_params

    runs = tmp_path / "runs"
    for name, experiment in parse_grid(load_params(ROOT / "params.yaml")).items():
        (runs / name).mkdir(parents=True)
        (runs / name / "config.json").write_text(json.dumps(experiment.resolved()))
        (runs / name / "metrics.json").write_text(json.dumps({"epochs_run": 2}))
        (runs / name / "timing.json").write_text(json.dumps({
            "wall_seconds": 1.5, "cpu_seconds": 2.4, "epoch_seconds": [0.9, 0.6]}))
    out = tmp_path / "bench.json"
    shown = subprocess.run([sys.executable, "-m", "benchmarks.epoch", "--quick", "--pairs", "3",
                            "--json", str(out), "--grid", str(runs), "--repro-seconds", "100"],
                           cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert "portable:" in shown and "native:" in shown and "grid: floor" in shown
    results = json.loads(out.read_text())
    (case,) = results["cases"]
    assert set(case["times"]) == {f"{mode} {op}" for mode in ("portable", "native")
                                  for op in ("floor", "epoch")}
    rounds = len(case["all_rounds"]["portable floor"])
    assert 3 <= rounds <= 3 * 3 and all(len(r) == rounds for r in case["all_rounds"].values())
    assert len(case["probes"]) == 1 + 4 * rounds  # one first, then one after every sample
    if results["settings"]["threads"] > 1:
        assert min(case["probes"]) > 0 and case["watch"]["rounds"] == rounds
        for summary in case["times"].values():  # a step's clean samples, or all when none
            assert 1 <= len(summary["samples"]) <= rounds
    else:
        assert all(len(t["samples"]) == 3 for t in case["times"].values())
    assert case["watch"]["load_before"] and case["watch"]["load_after"]
    lines = {line.strip().split(":")[0]: line for line in shown.splitlines()
             if "epoch/floor" in line}
    for key, result in case["epoch_over_floor"].items():
        assert result["refused"] or result["ratio"] >= 1.0
        # A refused ratio is never printed as a figure, only with its reason.
        printed = lines[key].split("epoch/floor ")[1]
        if result["refused"]:
            assert printed == f"no ratio ({result['refused']})"
        else:
            assert printed.startswith(f"{result['ratio']:.2f} (median")
    grid = results["grid"]
    assert grid["training_seconds"] == 1.5 * len(grid["runs"])
    assert abs(grid["training_cores_used"] - 1.6) < 1e-9 and "1.60 of" in shown
    assert abs(grid["quiet_training_seconds"] - 1.2 * len(grid["runs"])) < 1e-9  # 2 x 0.6
    assert grid["floor_seconds"] == sum(row["floor_seconds"] for row in grid["runs"]) > 0
    assert grid["dvc_and_other_stages_seconds"] == 100 - grid["training_seconds"]
    # Floors of 640 images are no measure of runs that trained on the whole data.
    assert grid["verdict"]["refused"].startswith("--quick: floors of 640 training images")
    assert "training would take" in shown and "s: no ratio" in shown
    if results["settings"]["threads"] > 1:  # the floors too were sampled between probes
        assert grid["watch"]["handoff"] > 0 and "floors between hand-off probes" in shown
        assert 0 <= grid["watch"]["clean_samples"] <= 3 <= grid["watch"]["rounds"] <= 9
    assert SimpleNamespace(**results["workers"]["portable"]).kernels in ("portable", "native")


def grid_result(refused=None, training=1000.0, repro=1100.0, quiet=900.0):
    """A --grid result as grid_floor() builds it, floor 800 s."""
    grid = {"floor_seconds": 800.0, "training_seconds": training, "watch": QUIET,
            "verdict": {"ratio": training / 800, "ratio_median": training / 800,
                        "refused": refused},
            "quiet_training_seconds": quiet, "quiet_training_over_floor": quiet / 800,
            "repro_seconds": repro, "repro_over_floor": repro / 800,
            "dvc_and_other_stages_seconds": repro - training}
    if repro < training:  # what grid_floor adds
        grid["repro_refused"] = "not from that repro"
    return grid


def test_the_grid_prints_no_figure_under_a_refusal():
    from benchmarks.grid import grid_line
    text = grid_line(grid_result())
    assert "1000 s: 1.25x (median 1.25x) the floor" in text
    assert "would take 900 s: 1.12x the floor" in text
    assert "dvc repro 1100 s: 1.38x the floor" in text
    busy = grid_line(grid_result(refused="busy: other processes used 0.90 cores"))
    assert "x the floor" not in busy and busy.count("no ratio") == 3
    quick = grid_line(grid_result(quiet=700.0))
    assert "900" not in quick and "no ratio (measurement error: 0.88 is below the floor)" in quick
    stale = grid_line(grid_result(training=1200.0, repro=1100.0))
    assert "dvc repro 1100 s: no ratio (not from that repro)" in stale
