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
import signal
import socket
import subprocess
import sys
import threading

import matplotlib.pyplot as plt
import numpy as np
import pytest
from ruamel.yaml import YAML

import pipeline.stage_runner
import stages.fetch
import stages.prepare

from pipeline.data.course_file import read_course_file
from pipeline.data.dataset_checks import DatasetError
from pipeline.data.download import DownloadError, download
from pipeline.data.npz_files import NpzError, write_npz
from pipeline.params import ParamsError, load_params, parse, section
from pipeline.data.prepared import Dataset
from stages.examples import MAX_ROWS, ExamplesParams, examples_figure, render_examples
from stages.fetch import CHECKSUMS, FetchError, FetchParams, FetchPaths, expected_checksums, fetch
from stages.prepare import PrepareParams
from tests.conftest import FALL2024_FETCH, ROOT, SYNTHETIC_ALPHABETS, place_zip
from tests.data_helpers import (RunsACommand, fetch_params, omniglot_zip, tiny_data,
                                write_course_tar)


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
    assert f"could not download {url} to {target}" in str(error.value)
    assert not target.exists()


def test_a_download_cut_short_mid_chunk_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = socket.create_server(("127.0.0.1", 0))

    def serve():  # one chunk of 16 bytes, then a chunk announced as 256 that never comes
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"10\r\n0123456789abcdef\r\n100\r\nshort")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    target = tmp_path / "data" / "images.zip"
    with server, pytest.raises(DownloadError, match=f"could not download .* to {target} "
                                                    f"\\(IncompleteRead"):
        download(f"http://127.0.0.1:{server.getsockname()[1]}/x.zip", target, 1000, "0" * 32)
    thread.join(5)
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize("content, expected", [
    (b"[" * 100_000, "not readable JSON"),
    (b" " * ((1 << 20) + 1), "larger than 1048576 bytes"),
    (b'{"arrays": {"trainX": {}}}', "missing 'sha256'; expected the course's checksums file"),
])
def test_a_broken_checksums_file_is_a_one_line_error(tmp_path, content, expected):
    (tmp_path / CHECKSUMS).write_bytes(content)
    with pytest.raises(FetchError, match=f"{tmp_path / CHECKSUMS}: {expected}"):
        expected_checksums(tmp_path)


def fetch_paths(tmp_path):
    """FetchPaths under tmp_path, with an empty inbox."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return FetchPaths(inbox, ROOT / "data/course_fall2024", tmp_path / "downloads",
                      tmp_path / "out/omniglot_12.npz", tmp_path / "out/source.json")


def course_arrays(classes=3):
    (train_x, train_y), (test_x, test_y) = tiny_data(classes=classes)
    return {"trainX": train_x.astype(bool), "trainY": train_y,
            "testX": test_x.astype(bool), "testY": test_y}


def test_fetch_downloads_a_missing_zip_and_builds(http_folder, tmp_path, synthetic_omniglot):
    folder, url = http_folder
    shutil.copy(synthetic_omniglot, folder / "images.zip")
    content = (folder / "images.zip").read_bytes()
    alphabets = list(SYNTHETIC_ALPHABETS)
    params = fetch_params(set="custom", url=f"{url}/images.zip",
                          md5=hashlib.md5(content).hexdigest(), bytes=len(content),
                          alphabets=alphabets, split="drawing", test_drawings=4)
    paths = fetch_paths(tmp_path)
    record = fetch(params, paths)
    characters = sum(SYNTHETIC_ALPHABETS.values())
    assert json.loads(paths.provenance.read_text()) == record
    assert (paths.downloads / "images_background.zip").read_bytes() == content
    assert record["zip"]["official"] is True and record["zip"]["bytes"] == len(content)
    assert record["counts"] == {"train": characters * 16, "test": characters * 4}
    assert record["class_names"] == alphabets
    assert record["output"]["sha256"] == hashlib.sha256(paths.out.read_bytes()).hexdigest()
    # A second run finds the checked download and does not fetch it again.
    (folder / "images.zip").unlink()
    assert fetch(params, paths)["output"] == record["output"]


def test_fetch_notes_an_unofficial_zip(tmp_path, capsys):
    paths = fetch_paths(tmp_path)
    omniglot_zip(paths.inbox / "images_background.zip", {"A": 2, "B": 2})
    params = fetch_params(set="custom", alphabets=["A", "B"],
                          url=f"http://127.0.0.1:{closed_port()}/never")
    record = fetch(params, paths)
    assert record["zip"]["official"] is False
    assert "is not byte-identical to the official release" in capsys.readouterr().err


@pytest.mark.parametrize("placed", [[], ["omniglot_12.npz"],
                                    ["omniglot_12.npz", "omniglot_12.pkl.tar"]])
def test_fetch_from_omniglot_notes_each_course_file_it_does_not_use(tmp_path, capsys, placed):
    paths = fetch_paths(tmp_path)
    omniglot_zip(paths.inbox / "images_background.zip", {"A": 2, "B": 2})
    for name in placed:
        (paths.inbox / name).write_bytes(b"x")
    fetch(fetch_params(set="custom", alphabets=["A", "B"]), paths)
    notes = [line for line in capsys.readouterr().err.splitlines() if "is not used" in line]
    assert notes == [f"fetch: note: {paths.inbox / name} is not used: fetch.source is "
                     f"'omniglot'; `fetch.source: course` in params.yaml would use it"
                     for name in placed]


def test_fetch_from_a_course_file_notes_a_zip_it_does_not_use(tmp_path, capsys):
    paths = fetch_paths(tmp_path)
    write_npz(paths.inbox / "omniglot_12.npz", course_arrays())
    omniglot_zip(paths.inbox / "images_background.zip", {"A": 2})
    fetch(fetch_params(source="course"), paths)
    notes = [line for line in capsys.readouterr().err.splitlines() if "is not used" in line]
    assert notes == [f"fetch: note: {paths.inbox / 'images_background.zip'} is not used: "
                     f"fetch.source is 'course'; `fetch.source: omniglot` in params.yaml "
                     f"would use it"]


def test_fetch_offline_without_zip_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    paths = fetch_paths(tmp_path)
    url = f"http://127.0.0.1:{closed_port()}/images_background.zip"
    with pytest.raises(FetchError) as error:
        fetch(fetch_params(url=url), paths)
    first, second = str(error.value).split("\n")
    assert first.endswith(f"put it at {paths.inbox}/images_background.zip")
    assert second == (f"fetch: in `dvc exp run --temp` or a queued experiment, a placed zip "
                      f"is used only when passed with --copy-paths "
                      f"{paths.inbox}/images_background.zip")
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


@pytest.mark.parametrize("placed, named", [
    (["images_background (1).zip", "README.md", "notes.txt"],
     "holds 'images_background (1).zip': if that is the zip, rename it)"),
    (["Images_Background.ZIP", "images_background.zip.crdownload", "omniglot_12.npz"],
     "holds 'Images_Background.ZIP', 'images_background.zip.crdownload': if one of them is "
     "the zip, rename it)"),
])
def test_fetch_offline_names_inbox_files_that_look_like_a_misnamed_zip(tmp_path, monkeypatch,
                                                                       placed, named):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    paths = fetch_paths(tmp_path)
    for name in placed:
        (paths.inbox / name).write_bytes(b"x")
    url = f"http://127.0.0.1:{closed_port()}/images_background.zip"
    with pytest.raises(FetchError) as error:
        fetch(fetch_params(url=url), paths)
    assert str(error.value).split("\n")[0].endswith(
        f"put it at {paths.inbox}/images_background.zip ({paths.inbox}/ {named}")


@pytest.mark.parametrize("name", ["omniglot_12.npz", "omniglot_12.pkl.tar"])
def test_fetch_course_reads_either_format_without_touching_it(tmp_path, name):
    paths = fetch_paths(tmp_path)
    arrays = course_arrays()
    placed = paths.inbox / name
    if name.endswith(".npz"):
        write_npz(placed, arrays)
    else:
        write_course_tar(placed, ((arrays["trainX"], arrays["trainY"]),
                                  (arrays["testX"], arrays["testY"])))
    before = placed.read_bytes(), placed.stat().st_mtime_ns
    record = fetch(fetch_params(source="course"), paths)
    assert (placed.read_bytes(), placed.stat().st_mtime_ns) == before
    assert record["source"] == "course" and record["set"] == "unknown"
    assert record["class_names"] is None and record["counts"] == {"train": 12, "test": 6}
    assert record["input"]["sha256"] == hashlib.sha256(before[0]).hexdigest()
    written = read_course_file(paths.out, 1 << 20)
    assert all(np.array_equal(written[key], arrays[key]) for key in arrays)
    assert not paths.downloads.exists()


@pytest.mark.parametrize("names, found", [((), "neither"),
                                          (("omniglot_12.npz", "omniglot_12.pkl.tar"), "both")])
def test_fetch_course_needs_exactly_one_placed_file(tmp_path, names, found):
    paths = fetch_paths(tmp_path)
    for name in names:
        (paths.inbox / name).write_bytes(b"x")
    with pytest.raises(FetchError, match=f"expected {paths.inbox}/omniglot_12.npz or "
                                         f".*found {found}"):
        fetch(fetch_params(source="course"), paths)
    assert not paths.out.parent.exists()


@pytest.mark.parametrize("name, source", [("images_background.zip", "omniglot"),
                                          ("omniglot_12.npz", "course")])
def test_a_symbolic_link_in_the_inbox_is_refused(tmp_path, name, source):
    paths = fetch_paths(tmp_path)
    (paths.inbox / name).symlink_to("/dev/zero")
    with pytest.raises(FetchError, match=f"{paths.inbox / name}: is a symbolic link"):
        fetch(fetch_params(source=source), paths)


@pytest.mark.parametrize("edit, message", [
    (lambda arrays: arrays.update(trainX=np.array([object()] * 3)),
     "trainX.npy: dtype object; expected bool, integer, float or text"),
    (lambda arrays: arrays.update(extra=np.zeros(2)), "expected arrays ['testX', 'testY', "
                                                      "'trainX', 'trainY'], found members"),
    (lambda arrays: arrays.pop("testY"), "expected arrays"),
])
def test_a_bad_course_npz_names_the_file_and_writes_nothing(tmp_path, edit, message):
    paths, error = fetch_edited_course_npz(tmp_path, edit, NpzError)
    assert error.startswith(str(paths.inbox / "omniglot_12.npz"))
    assert message in error
    assert not paths.out.parent.exists()


def fetch_edited_course_npz(tmp_path, edit, refusal):
    """(paths, message): fetch of a placed course npz whose arrays `edit` changed, which
    must raise `refusal`."""
    paths = fetch_paths(tmp_path)
    arrays = course_arrays()
    edit(arrays)
    np.savez(paths.inbox / "omniglot_12.npz", **arrays)
    with pytest.raises(refusal) as error:
        fetch(fetch_params(source="course"), paths)
    return paths, str(error.value)


@pytest.mark.parametrize("edit, message", [
    # astype(int64) used to turn 0.7 into 0 and parse text labels.
    (lambda arrays: arrays.update(trainY=arrays["trainY"] + 0.7),
     "trainY: expected integer labels, found dtype float64"),
    (lambda arrays: arrays.update(testY=arrays["testY"].astype("U3")),
     "testY: expected integer labels, found dtype <U3"),
    (lambda arrays: arrays.update(trainY=arrays["trainY"].astype(np.uint64) + np.uint64(2 ** 63)),
     "trainY: expected labels in 0..999 (1000 classes), found values in 9223372036854775808.."),
    (lambda arrays: arrays.update(trainX=arrays["trainX"] * 0.5),
     "trainX: expected pixels of exactly 0 or 1 (the course's format), found other values"),
])
def test_course_data_is_checked_before_anything_is_summed_or_written(tmp_path, edit,
                                                                      message):
    paths, error = fetch_edited_course_npz(tmp_path, edit, DatasetError)
    assert error.startswith(f"{paths.inbox / 'omniglot_12.npz'}: {message}")
    assert not paths.out.parent.exists()


def interrupted(*args):
    raise KeyboardInterrupt


@pytest.mark.parametrize("module, args", [
    (stages.fetch, ["--inbox", "i", "--course-set", "c", "--downloads", "d", "--out", "o",
                    "--provenance", "p"]),
    (stages.prepare, ["--course-file", "c", "--provenance", "p", "--out", "o", "--report", "r"]),
])
def test_ctrl_c_in_fetch_or_prepare_ends_with_one_line(monkeypatch, capsys, module, args):
    monkeypatch.chdir(ROOT)
    stage = module.__name__.split(".")[-1]
    monkeypatch.setattr(module, stage, interrupted)
    with pytest.raises(SystemExit) as stop:
        module.main(args)
    assert stop.value.code == 128 + signal.SIGINT
    assert capsys.readouterr().err == f"{stage}: interrupted; no output was half-written\n"


def test_sigterm_ends_a_stage_with_one_line(capsys):
    def terminated():
        raise SystemExit(128 + signal.SIGTERM)  # what atomic.exit_on_signal raises
    with pytest.raises(SystemExit) as stop:
        pipeline.stage_runner.run_stage("fetch", terminated)
    assert stop.value.code == 143
    assert capsys.readouterr().err == "fetch: terminated; no output was half-written\n"


def run_stage(cwd, stage, *args):
    return subprocess.run([sys.executable, "-m", f"stages.{stage}", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)


@pytest.mark.parametrize("stage, message", [
    ("fetch", "fetch: fetch.source is 'course': expected inbox/omniglot_12.npz or "),
    ("fetch-pickle", "fetch: inbox/omniglot_12.pkl.tar:omniglot_12.pkl: refusing to load "
                     "global"),
])
def test_stage_failures_exit_with_one_line_and_write_nothing(tmp_path, stage, message):
    params = YAML(typ="safe").load((ROOT / "params.yaml").read_text())
    params["fetch"]["source"] = "course"
    with (tmp_path / "params.yaml").open("w") as handle:
        YAML().dump(params, handle)
    (tmp_path / "inbox").mkdir()
    if stage == "fetch-pickle":
        write_course_tar(tmp_path / "inbox/omniglot_12.pkl.tar", RunsACommand("touch pwned"))
    before = sorted(tmp_path.rglob("*"))
    result = run_stage(tmp_path, "fetch", "--inbox", "inbox", "--course-set",
                       str(ROOT / "data/course_fall2024"), "--downloads", "downloads",
                       "--out", "out/omniglot_12.npz", "--provenance", "out/source.json")
    assert result.returncode == 1 and result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_repository_params_parse():
    params = load_params(ROOT / "params.yaml")
    parse(FetchParams, section(params, "fetch"), "fetch")
    parse(PrepareParams, section(params, "prepare"), "prepare")
    parse(ExamplesParams, section(params, "examples"), "examples")


@pytest.mark.parametrize("changes, message", [
    ({"md5": "ABC"}, "params.yaml:fetch.md5: 'ABC' is invalid; expected 32 lowercase hex"),
    ({"alphabets": ["Greek", "Greek"]}, "fetch.alphabets: ['Greek', 'Greek'] is invalid"),
    ({"source": "kaggle"}, "fetch.source: 'kaggle' is not one of ['omniglot', 'course']"),
    ({"set": "fall2023"}, "fetch.set: 'fall2023' is not one of ['fall2024', 'custom']"),
    ({"split": "writer"}, "fetch.split: 'writer' is not one of ['drawing', 'character']"),
    ({"test_drawings": 20}, "fetch.test_drawings: 20 is invalid; expected 1..19"),
    ({"bytes": 0}, "fetch.bytes: 0 is invalid; expected 1..2147483648 (fetch.max_input_mb MiB)"),
    ({"max_input_mb": 0}, "fetch.max_input_mb: 0 is invalid; expected 1..16384"),
    ({"mirror": "x"}, "unknown key(s) ['mirror']"),
])
def test_bad_fetch_params_name_the_key(changes, message):
    with pytest.raises(ParamsError) as error:
        fetch_params(**changes)
    assert message in str(error.value)


def test_examples_figure_shows_both_orders_and_is_byte_stable(tmp_path):
    (x, y), (tx, ty) = tiny_data(classes=3, per_class=(2, 1))
    dataset = Dataset(x, y, tx, ty, ("Alpha", "Beta", "Gamma"))
    figure = examples_figure(dataset, per_class=3)  # more than a class has: blank cells
    titles = [panel.get_suptitle() for panel in figure.subfigs]
    rows = [axes.get_ylabel() for axes in figure.subfigs[0].axes[::3]]
    plt.close(figure)
    assert titles == ["row-major (C) reshape", "column-major (F) reshape"]
    assert rows == ["0: Alpha", "1: Beta", "2: Gamma"]
    render_examples(dataset, 3, 60, tmp_path / "a.png")
    render_examples(dataset, 3, 60, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_examples_figure_of_many_classes_draws_the_first_max_rows():
    classes = MAX_ROWS + 5
    (x, y), (tx, ty) = tiny_data(classes=classes, per_class=(1, 1))
    dataset = Dataset(x, y, tx, ty, tuple(f"c{k}" for k in range(classes)))
    figure = examples_figure(dataset, per_class=1)
    rows = [axes.get_ylabel() for axes in figure.subfigs[0].axes]
    title = figure.get_suptitle()
    plt.close(figure)
    assert rows == [f"{k}: c{k}" for k in range(MAX_ROWS)]
    assert title.endswith(f"(classes 0-{MAX_ROWS - 1} of {classes})")


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


def test_dvc_pipeline_from_the_placed_zip(dvc_project, shared_omniglot):
    project = offline(dvc_project())
    project.set_params(lambda params: params["fetch"].update(FALL2024_FETCH))
    place_zip(project, shared_omniglot / "images_background.zip")
    project.run("dvc", "repro", "examples")
    metrics = json.loads((project.path / "metrics/data.json").read_text())
    assert metrics["train"]["images"] == 6080 and metrics["test"]["images"] == 1520
    assert metrics["set"] == "fall2024" and metrics["class_names"][0] == "Latin"
    assert (project.path / "plots/examples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    provenance = json.loads((project.path / "data/omniglot_12.source.json").read_text())
    assert provenance["output"]["sha256"] == metrics["input_sha256"]
    unchanged_rerun(project, "fetch", "prepare", "examples")
    # The placed zip is a dependency: replacing it reruns fetch, which checks it.
    (project.path / "data/inbox/images_background.zip").write_bytes(b"garbage")
    status = project.run("dvc", "status", "fetch").stdout
    assert "modified:" in status and "data/inbox" in status, status
    failed = project.run("dvc", "repro", "fetch", check=False)
    assert failed.returncode != 0 and "not a readable zip" in failed.stderr


def test_dvc_course_source_uses_the_placed_npz(dvc_project):
    project = offline(dvc_project())
    rng = np.random.default_rng(0)
    arrays = {"trainX": rng.random((24, 11025)) < 0.1, "trainY": np.arange(24) % 12,
              "testX": rng.random((12, 11025)) < 0.1, "testY": np.arange(12)}
    placed = project.path / "data/inbox/omniglot_12.npz"
    np.savez(placed, **arrays)
    content = placed.read_bytes()
    project.set_params(lambda params: params["fetch"].update(source="course"))
    result = project.run("dvc", "repro", "prepare")
    assert "downloading" not in result.stderr + result.stdout
    assert placed.read_bytes() == content
    metrics = json.loads((project.path / "metrics/data.json").read_text())
    assert metrics["source"] == "course" and metrics["train"]["images"] == 24
    assert metrics["class_names"] == [f"class {label}" for label in range(12)]
    unchanged_rerun(project, "prepare")
