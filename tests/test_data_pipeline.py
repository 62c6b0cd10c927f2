"""The data stages as a whole: download, fetch, params, dvc.yaml deps, and DVC end to end.

No test reaches the internet: downloads come from a local HTTP server on
127.0.0.1, and DVC runs with proxies pointing at a closed local port.
"""
import functools
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import matplotlib.pyplot as plt
import numpy as np
import pytest
from ruamel.yaml import YAML

from pipeline.download import DownloadError, download
from pipeline.params import ParamsError, load_params, parse, section
from pipeline.prepared import Dataset
from stages.examples import ExamplesParams, examples_figure, render_examples
from stages.fetch import FetchError, FetchParams, fetch
from stages.prepare import PrepareParams
from tests.conftest import ROOT
from tests.data_helpers import (SMALL_ALPHABETS, RunsACommand, omniglot_zip, tiny_data,
                                write_course_tar, write_provenance)



def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def http_folder(tmp_path, monkeypatch):
    """(folder, base URL): files put in folder are served on 127.0.0.1 while the test runs."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def served_file(folder, content=b"fake zip " * 1000):
    (folder / "images.zip").write_bytes(content)
    return content, hashlib.md5(content).hexdigest()


def test_download_verifies_and_renames(http_folder, tmp_path):
    folder, url = http_folder
    content, md5 = served_file(folder)
    target = tmp_path / "data" / "images.zip"
    download(f"{url}/images.zip", target, len(content), md5)
    assert target.read_bytes() == content
    assert [p.name for p in target.parent.iterdir()] == ["images.zip"]


@pytest.mark.parametrize("size_delta, md5, message", [
    (0, "0" * 32, "with md5 00000000000000000000000000000000"),
    (-1, None, "more than the expected"),
    (+1, None, "got 9000 bytes with md5"),
])
def test_download_mismatch_leaves_nothing(http_folder, tmp_path, size_delta, md5, message):
    folder, url = http_folder
    content, real_md5 = served_file(folder)
    target = tmp_path / "images.zip"
    with pytest.raises(DownloadError) as error:
        download(f"{url}/images.zip", target, len(content) + size_delta, md5 or real_md5)
    assert message in str(error.value) and f"nothing was saved at {target}" in str(error.value)
    assert list(tmp_path.iterdir()) == [folder]


@pytest.mark.parametrize("url", [f"http://127.0.0.1:{closed_port()}/images.zip",
                                 "file:///nonexistent/images.zip"])
def test_unreachable_url_says_where_to_put_the_file(tmp_path, url, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    target = tmp_path / "data" / "images_background.zip"
    with pytest.raises(DownloadError) as error:
        download(url, target, 10, "0" * 32)
    assert f"could not download {url}" in str(error.value)
    assert f"put the file at {target} (fetch.zip in params.yaml)" in str(error.value)
    assert not target.exists()


def fetch_params(**changes):
    values = section(load_params(ROOT / "params.yaml"), "fetch")
    return parse(FetchParams, {**values, **changes}, "params.yaml:fetch")


def test_fetch_downloads_a_missing_zip_and_builds(http_folder, tmp_path, shared_omniglot):
    folder, url = http_folder
    name = "images_background_small1.zip"
    shutil.copy(shared_omniglot / name, folder / "images.zip")
    content = (folder / "images.zip").read_bytes()
    params = fetch_params(zip=str(tmp_path / "data/images_background.zip"),
                          url=f"{url}/images.zip", md5=hashlib.md5(content).hexdigest(),
                          bytes=len(content), alphabets=SMALL_ALPHABETS[name],
                          test_characters=20)
    archive, provenance = tmp_path / "data/omniglot_12.pkl.tar", tmp_path / "data/source.json"
    record = fetch(params, archive, provenance)
    assert json.loads(provenance.read_text()) == record
    assert record["zip"]["official"] is True and record["zip"]["bytes"] == len(content)
    assert record["counts"]["images"] == {"train": 2320, "test": 400}
    assert len(record["test_character_names"]) == 20
    assert record["archive"]["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()


def test_fetch_warns_about_an_unofficial_zip(tmp_path, capsys):
    path = omniglot_zip(tmp_path / "mine.zip", {"A": 2, "B": 2})
    params = fetch_params(zip=str(path), alphabets=["A", "B"], test_characters=1,
                          url=f"http://127.0.0.1:{closed_port()}/never")
    record = fetch(params, tmp_path / "a.tar", tmp_path / "s.json")
    assert record["zip"]["official"] is False
    assert "is not byte-identical to the official release" in capsys.readouterr().err


def test_fetch_offline_without_zip_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    zip_path = tmp_path / "data/images_background.zip"
    url = f"http://127.0.0.1:{closed_port()}/images_background.zip"
    with pytest.raises(DownloadError, match=f"put the file at {zip_path}"):
        fetch(fetch_params(zip=str(zip_path), url=url), tmp_path / "a.tar", tmp_path / "s.json")
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


def test_fetch_course_describes_the_placed_file_without_touching_it(tmp_path):
    archive = write_course_tar(tmp_path / "omniglot_12.pkl.tar", tiny_data())
    before = archive.read_bytes(), archive.stat().st_mtime_ns
    record = fetch(fetch_params(source="course", zip=str(tmp_path / "absent.zip")), archive,
                   tmp_path / "s.json")
    assert (archive.read_bytes(), archive.stat().st_mtime_ns) == before
    assert record == {"source": "course", "archive": {
        "path": str(archive), "bytes": len(before[0]),
        "sha256": hashlib.sha256(before[0]).hexdigest()}}
    assert not (tmp_path / "absent.zip").exists()


def test_fetch_course_without_the_file_says_where_to_put_it(tmp_path):
    archive = tmp_path / "data/omniglot_12.pkl.tar"
    with pytest.raises(FetchError, match=f"put the course's omniglot_12.pkl.tar at {archive}"):
        fetch(fetch_params(source="course"), archive, tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("stage, message", [
    ("fetch", "fetch: fetch.source is 'course' but data/omniglot_12.pkl.tar is missing"),
    ("prepare", "prepare: data/omniglot_12.pkl.tar:omniglot_12.pkl: refusing to load global"),
])
def test_stage_failures_exit_with_one_line_and_write_nothing(tmp_path, stage, message):
    params = YAML(typ="safe").load((ROOT / "params.yaml").read_text())
    params["fetch"]["source"] = "course"
    with (tmp_path / "params.yaml").open("w") as handle:
        YAML().dump(params, handle)
    if stage == "prepare":
        (tmp_path / "data").mkdir()
        archive = write_course_tar(tmp_path / "data/omniglot_12.pkl.tar",
                                   RunsACommand("touch pwned"))
        write_provenance(tmp_path / "data/omniglot_12.source.json", archive)
    before = sorted(tmp_path.rglob("*"))
    result = subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_repository_params_parse():
    params = load_params(ROOT / "params.yaml")
    fetch_section = parse(FetchParams, section(params, "fetch"), "fetch")
    assert len(fetch_section.alphabets) == 12 and fetch_section.test_characters == 83
    parse(PrepareParams, section(params, "prepare"), "prepare")
    parse(ExamplesParams, section(params, "examples"), "examples")


@pytest.mark.parametrize("changes, message", [
    ({"md5": "ABC"}, "params.yaml:fetch.md5: 'ABC' is invalid; expected 32 lowercase hex"),
    ({"alphabets": ["Greek", "Greek"]}, "fetch.alphabets: ['Greek', 'Greek'] is invalid"),
    ({"source": "kaggle"}, "fetch.source: 'kaggle' is not one of ['omniglot', 'course']"),
    ({"order": "row"}, "fetch.order: 'row' is not one of ['C', 'F']"),
    ({"bytes": 0}, "fetch.bytes: 0 is invalid; expected >= 1"),
    ({"mirror": "x"}, "unknown key(s) ['mirror']"),
])
def test_bad_fetch_params_name_the_key(changes, message):
    with pytest.raises(ParamsError) as error:
        fetch_params(**changes)
    assert message in str(error.value)


def test_examples_figure_shows_both_orders_and_is_byte_stable(tmp_path):
    (x, y), (tx, ty) = tiny_data(classes=3, per_class=(2, 1))
    dataset = Dataset(x, y, tx, ty, 3)
    figure = examples_figure(dataset, per_class=3)  # more than a class has: blank cells
    titles = [panel.get_suptitle() for panel in figure.subfigs]
    plt.close(figure)
    assert titles == ["row-major (C) reshape", "column-major (F) reshape"]
    render_examples(dataset, 3, tmp_path / "a.png")
    render_examples(dataset, 3, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


# ---- DVC end to end -------------------------------------------------------------------

def offline(project):
    """Make any network use by the project's commands fail fast."""
    trap = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        project.env[name] = trap
    project.env.pop("no_proxy", None)
    project.env.pop("NO_PROXY", None)
    return project


def unchanged_rerun(project, *targets):
    lock = (project.path / "dvc.lock").read_text()
    result = project.run("dvc", "repro", *targets)
    assert "didn't change" in result.stdout or "up to date" in result.stdout, result.stdout
    assert "Running stage" not in result.stdout
    assert (project.path / "dvc.lock").read_text() == lock


def test_dvc_pipeline_from_the_shared_zip(dvc_project, shared_omniglot):
    project = offline(dvc_project())

    def use_shared_zip(params):
        params["fetch"]["zip"] = str(shared_omniglot / "images_background.zip")
    project.set_params(use_shared_zip)
    project.run("dvc", "repro", "prepare")
    project.run("dvc", "repro", "examples")
    metrics = json.loads((project.path / "metrics/data.json").read_text())
    assert metrics["train"]["images"] == 6660 and metrics["test"]["images"] == 1660
    assert metrics["num_classes"] == 12 and metrics["zip"]["official"] is False
    assert (project.path / "plots/examples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    provenance = json.loads((project.path / "data/omniglot_12.source.json").read_text())
    assert provenance["archive"]["sha256"] == metrics["archive"]["sha256"]
    unchanged_rerun(project, "fetch", "prepare", "examples")
    status = project.run("dvc", "status", "fetch", "prepare", "examples")
    assert "up to date" in status.stdout or status.stdout.strip() == "", status.stdout


def test_dvc_course_source_uses_the_placed_archive(dvc_project):
    project = offline(dvc_project())
    archive = project.path / "data/omniglot_12.pkl.tar"
    archive.parent.mkdir()
    rng = np.random.default_rng(0)
    train_y, test_y = np.arange(24) % 12, np.arange(12)
    data = (((rng.random((24, 11025)) < 0.1).astype(np.uint8), train_y),
            ((rng.random((12, 11025)) < 0.1).astype(np.uint8), test_y))
    write_course_tar(archive, data)
    placed = archive.read_bytes()

    def use_course(params):
        params["fetch"]["source"] = "course"
        params["fetch"]["zip"] = "data/absent.zip"
    project.set_params(use_course)
    result = project.run("dvc", "repro", "prepare")
    assert "downloading" not in result.stderr + result.stdout
    assert not (project.path / "data/absent.zip").exists()
    assert archive.read_bytes() == placed
    metrics = json.loads((project.path / "metrics/data.json").read_text())
    assert metrics["source"] == "course" and metrics["train"]["images"] == 24
    unchanged_rerun(project, "prepare")
