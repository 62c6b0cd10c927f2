"""Sharing results between clones: a DVC remote, the run-cache, experiments (docs/sharing.md).

Every test builds a small team on this machine: a bare git repository as
`origin`, a local folder as the DVC remote, and clones of the tiny grid
(conftest.tiny_project: a synthetic Omniglot zip, three small networks, 2 epochs).
"""
import re

import pytest
from ruamel.yaml import YAML

from tests.conftest import (ROOT, TINY_EXPERIMENTS, DvcProject, isolated_env, place_zip,
                            tiny_project)

TRAIN_STAGES = {f"train@{name}" for name in TINY_EXPERIMENTS}


def ran(result):
    """Names of the stages a `dvc repro`/`dvc exp run` executed."""
    return set(re.findall(r"Running stage '([^']+)'", result.stdout))


def restored(result):
    """Names of the stages `dvc repro` restored from the run-cache instead of running."""
    return set(re.findall(r"Stage '([^']+)' is cached - skipping run", result.stdout))


def run_files(name):
    return [f"models/{name}.npz", f"models/{name}.best.npz", f"metrics/runs/{name}/config.json",
            f"metrics/runs/{name}/metrics.json", f"metrics/runs/{name}/timing.json",
            f"plots/curves/{name}.csv"]


def contents(project, paths):
    return {path: (project.path / path).read_bytes() for path in paths}


class Team:
    """A lead's project pushed to a bare git `origin` with a local default DVC remote."""

    def __init__(self, base, zip_path):
        self.base, self.zip = base, zip_path
        self.lead = tiny_project(base, zip_path)
        self.origin = base / "origin.git"
        self.lead.run("git", "init", "-q", "--bare", "-b", "main", str(self.origin))
        self.lead.run("git", "remote", "add", "origin", str(self.origin))
        self.lead.run("dvc", "remote", "add", "-d", "shared", str(base / "dvc-remote"))
        self.lead.commit("a shared DVC remote")
        self.lead.run("git", "push", "-q", "origin", "main")

    def publish_results(self):
        """The lead reproduces the grid, commits, and pushes to both remotes; returns the lead."""
        self.lead.run("dvc", "repro")
        self.lead.commit("results")
        self.lead.run("dvc", "push")
        self.lead.run("git", "push", "-q", "origin", "main")
        return self.lead

    def clone(self, name):
        """A fresh `git clone` of origin with its own HOME: nothing but what origin holds,
        and the Omniglot zip in its inbox, as the lead placed it (no machine here downloads)."""
        home = self.base / f"{name}-home"
        home.mkdir()
        self.lead.run("git", "clone", "-q", str(self.origin), str(self.base / name))
        project = DvcProject(self.base / name, isolated_env(home))
        place_zip(project, self.zip)
        return project


@pytest.fixture
def team(tmp_path, synthetic_omniglot):
    return Team(tmp_path, synthetic_omniglot)


def test_a_fresh_clone_pulls_every_result_and_reruns_nothing(team):
    lead = team.publish_results()
    outputs = ["data/prepared/omniglot_12.npz", "report.md", "metrics/summary.json",
               *(path for name in TINY_EXPERIMENTS for path in run_files(name))]

    clone = team.clone("clone")
    assert not (clone.path / "models/small.npz").exists()
    clone.run("dvc", "pull")
    assert contents(clone, outputs) == contents(lead, outputs)
    again = clone.run("dvc", "repro")
    assert ran(again) == set() and restored(again) == set()
    assert "up to date" in clone.run("dvc", "status").stdout

    in_one_step = team.clone("in-one-step")
    assert ran(in_one_step.run("dvc", "repro", "--pull")) == set()
    assert contents(in_one_step, outputs) == contents(lead, outputs)


def test_a_grid_split_over_two_clones_trains_each_run_once(team):
    """A and B each train part of the grid and push their runs; B then trains nothing."""
    a, b = team.clone("a"), team.clone("b")
    a_part, b_part = {"train@small", "train@small_mom"}, {"train@deep"}
    assert ran(a.run("dvc", "repro", "--glob", "train@small*")) & TRAIN_STAGES == a_part
    a.run("dvc", "push", "--run-cache")
    assert ran(b.run("dvc", "repro", *sorted(b_part))) & TRAIN_STAGES == b_part
    b.run("dvc", "push", "--run-cache")

    completed = b.run("dvc", "repro", "--pull")
    assert ran(completed) & TRAIN_STAGES == set(), completed.stdout
    assert restored(completed) == a_part
    assert {"figures", "report"} <= ran(completed)
    a_files = [path for name in ("small", "small_mom") for path in run_files(name)]
    assert contents(b, a_files) == contents(a, a_files)  # A's bytes, timing.json included
    summary = (b.path / "metrics/summary.json").read_text()
    assert all(f'"{name}"' in summary for name in TINY_EXPERIMENTS)


def test_an_experiment_pushed_to_origin_is_pulled_or_restored_elsewhere(team):
    lead = team.publish_results()
    lead.run("dvc", "exp", "run", "-n", "ink", "-S", "prepare.pixels=ink")
    ink_files = [path for name in TINY_EXPERIMENTS for path in run_files(name)]
    ink = contents(lead, ink_files)
    lead.run("dvc", "exp", "push", "--run-cache", "origin", "ink")

    clone = team.clone("clone")
    assert "ink" in clone.run("dvc", "exp", "list", "origin").stdout
    clone.run("dvc", "exp", "pull", "origin", "ink")
    clone.run("dvc", "exp", "apply", "ink")
    assert "pixels: ink" in (clone.path / "params.yaml").read_text()
    assert contents(clone, ink_files) == ink
    assert ran(clone.run("dvc", "repro")) == set()

    # The same configuration, run again as a new experiment elsewhere: restored, not trained.
    other = team.clone("other")
    again = other.run("dvc", "exp", "run", "--pull", "-n", "ink-again", "-S", "prepare.pixels=ink")
    assert ran(again) & TRAIN_STAGES == set() and restored(again) == TRAIN_STAGES
    assert contents(other, ink_files) == ink


def test_the_train_stage_caches_every_output():
    """DVC keeps no shareable run-cache entry for a stage with an uncached out."""
    train = YAML(typ="safe").load((ROOT / "dvc.yaml").read_text())["stages"]["train"]["do"]
    entries = [entry for kind in ("outs", "metrics", "plots") for entry in train.get(kind, [])]
    uncached = [entry for entry in entries if isinstance(entry, dict)
                and any((options or {}).get("cache") is False for options in entry.values())]
    assert entries and uncached == []
