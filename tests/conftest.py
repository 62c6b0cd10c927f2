"""Shared fixtures: the Omniglot zips (from ../shared, or a synthetic one built here) and
isolated temporary DVC projects.

Resources outside the repo (the shared Omniglot zips, Debian's chromium) make a
test skip when absent, except under OMNIGLOT_REQUIRE_ALL=1 (set by .ci/run),
where their absence is a failure.
"""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.data_helpers import synthetic_omniglot_zip

ROOT = Path(__file__).resolve().parents[1]
SHARED_OMNIGLOT = Path(os.environ.get("OMNIGLOT_SHARED_DIR", ROOT.parent / "shared/data/omniglot"))
# The team's record of the course's file (manifest, checksums), beside the zips by default.
SHARED_COURSE = Path(os.environ.get("COURSE_SHARED_DIR", SHARED_OMNIGLOT.parent / "course"))
PROJECT_FILES = ["mlpcore", "pipeline", "stages", "dvc.yaml", "params.yaml", ".dvcignore",
                 ".gitignore", ".dvc/.gitignore", ".dvc/config", ".dvc/plots",
                 "third_party", "data/inbox/README.md", "data/course_fall2024"]


def live_ctrl_c():
    """Popen's preexec_fn: SIGINT back to its default in the child, as a terminal's Ctrl-C
    finds it. A shell's background job (`cmd &`) starts with SIGINT ignored, which Python
    and every child then keep, so a Ctrl-C test run from one would wait forever."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def require(available, what):
    """Skip (or, under OMNIGLOT_REQUIRE_ALL=1, fail) when a resource is missing."""
    if available:
        return
    if os.environ.get("OMNIGLOT_REQUIRE_ALL") == "1":
        pytest.fail(f"required test resource missing: {what}")
    pytest.skip(f"test resource missing: {what}")


@pytest.fixture(scope="session")
def shared_omniglot():
    """The directory holding images_background.zip and the two official small zips."""
    require((SHARED_OMNIGLOT / "images_background.zip").is_file(),
            f"{SHARED_OMNIGLOT}/images_background.zip (set OMNIGLOT_SHARED_DIR)")
    return SHARED_OMNIGLOT


# The synthetic zip's alphabets and their numbers of characters (20 drawings each).
SYNTHETIC_ALPHABETS = {"Alpha": 8, "Beta": 8, "Gamma": 8, "Delta": 8}


@pytest.fixture(scope="session")
def synthetic_omniglot(tmp_path_factory):
    """A small images_background.zip in the official layout, built here: SYNTHETIC_ALPHABETS."""
    folder = tmp_path_factory.mktemp("synthetic_omniglot")
    return synthetic_omniglot_zip(folder / "images_background.zip", SYNTHETIC_ALPHABETS)


def isolated_env(home):
    """Environment for git and DVC that touches nothing outside `home`."""
    env = dict(os.environ)
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / "dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / "dvc-system"),
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site-cache"),
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PYTHONPATH": "",
        "TQDM_DISABLE": "1",
    })
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


class DvcProject:
    """A throwaway git + DVC copy of this project, with its own HOME and DVC dirs."""

    def __init__(self, path, env):
        self.path, self.env = path, env

    def run(self, *args, check=True, timeout=900):
        result = subprocess.run(args, cwd=self.path, env=self.env, text=True,
                                capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def params(self):
        return YAML(typ="safe", pure=True).load((self.path / "params.yaml").read_text())

    def set_params(self, update):
        """Apply update(params) to params.yaml, keeping its comments and layout."""
        yaml = YAML()
        path = self.path / "params.yaml"
        data = yaml.load(path.read_text())
        update(data)
        with path.open("w") as handle:
            yaml.dump(data, handle)

    def commit(self, message):
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)


def copy_project(base, name="project"):
    """A committed git + DVC copy of the pipeline in base/<name>, with its own HOME."""
    path = base / name
    path.mkdir()
    for item in PROJECT_FILES:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, path / item,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            (path / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path / item)
    home = base / f"{name}-home"
    home.mkdir()
    project = DvcProject(path, isolated_env(home))
    project.run("git", "init", "-q", "-b", "main")
    project.commit("copy of the pipeline")
    return project


@pytest.fixture
def dvc_project(tmp_path):
    """Factory: dvc_project() -> DvcProject, a committed copy of the pipeline in tmp_path."""
    def make(name="project"):
        return copy_project(tmp_path, name)
    return make


TINY_EXPERIMENTS = {
    "small": {"group": "2.1", "hidden": [8], "lr": 0.001},
    "small_mom": {"group": "2.1", "hidden": [8], "momentum": 0.4},
    "deep": {"group": "2.2", "hidden": [8, 8], "dropout": 0.2},
}


def place_zip(project, zip_path):
    """Put a copy of the Omniglot zip in the project's inbox, as an offline user would."""
    shutil.copyfile(zip_path, project.path / "data/inbox/images_background.zip")


# fetch settings of the tiny projects: the synthetic zip's alphabets, or the default data.
SYNTHETIC_FETCH = {"source": "omniglot", "set": "custom", "alphabets": list(SYNTHETIC_ALPHABETS),
                   "split": "drawing", "test_drawings": 4}
FALL2024_FETCH = {"source": "omniglot", "set": "fall2024"}


def make_tiny(params, fetch=SYNTHETIC_FETCH):
    """The data `fetch` names (whatever params.yaml says) and a tiny grid: three small
    networks, two epochs."""
    params["fetch"].update(fetch)
    params["prepare"].update(pixels="stored", order="C")
    params["train"]["epochs"] = 2
    params["train"]["threads"] = 1
    params["experiments"].clear()
    params["experiments"].update(TINY_EXPERIMENTS)


def tiny_project(base, zip_path, fetch=SYNTHETIC_FETCH):
    """copy_project with zip_path in its inbox and the tiny grid (make_tiny) committed;
    fetch: SYNTHETIC_FETCH for the synthetic zip, FALL2024_FETCH for the real one."""
    project = copy_project(base)
    place_zip(project, zip_path)
    project.set_params(lambda params: make_tiny(params, fetch))
    project.commit("tiny grid")
    return project


@pytest.fixture
def tiny_pipeline(tmp_path, synthetic_omniglot):
    """A committed temp project on the synthetic zip whose `dvc repro` runs the whole
    pipeline in seconds."""
    return tiny_project(tmp_path, synthetic_omniglot)


@pytest.fixture
def tiny_pipeline_fall2024(tmp_path, shared_omniglot):
    """tiny_pipeline on the default data: the Fall 2024 set from the shared Omniglot zip."""
    return tiny_project(tmp_path, shared_omniglot / "images_background.zip", FALL2024_FETCH)


# Markers, so that `pytest -m "not dvc and not browser"` is the fast loop (about a minute):
# `dvc` for tests that start git + DVC projects, `browser` for those that render in chromium.
DVC_FIXTURES = {"dvc_project", "tiny_pipeline", "tiny_pipeline_fall2024", "team"}
DVC_MODULES = {"test_pipeline_dvc", "test_plots_dvc", "test_plots_offline", "test_sharing"}


def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & DVC_FIXTURES or item.module.__name__.rsplit(".", 1)[-1] in DVC_MODULES:
            item.add_marker(pytest.mark.dvc)
        if "pages" in fixtures:
            item.add_marker(pytest.mark.browser)
