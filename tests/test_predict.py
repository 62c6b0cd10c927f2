"""Using a trained run: the best epoch's weights, `python -m stages.predict`, the docs' snippet."""
import io
import json
import re
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

import mlpcore as mlp
from pipeline.training.runs import best_model_path
from pipeline.training.loop import evaluate, to_split
from stages import predict
from tests.conftest import ROOT
from tests.test_training import blobs, params_with, run_into

SIDE = 105


def test_the_best_model_holds_the_weights_of_the_best_epoch(tmp_path):
    # A small network at a large step on hard blobs: test accuracy peaks before the end.
    data = blobs(classes=6, train=60, test=120)
    paths, result = run_into(tmp_path, params_with({"epochs": 12, "lr": 0.5, "hidden": [4]}),
                             dataset=data)
    metrics = json.loads((paths.run_dir / "metrics.json").read_text())
    test = to_split(data.test_x, data.test_y, data.num_classes, np.float64)

    def test_accuracy(path):
        model = mlp.MLP(data.test_x.shape[1], data.num_classes, [4])
        model.loadparams(*mlp.load_params(path))
        return evaluate(model, test)[1]

    assert best_model_path(paths.model) == tmp_path / "model.best.npz"
    assert test_accuracy(best_model_path(paths.model)) == metrics["best_test_accuracy"]
    assert test_accuracy(paths.model) == metrics["final_test_accuracy"]
    assert result.best.log.epoch == metrics["best_epoch"] < metrics["epochs_run"]
    assert metrics["best_test_accuracy"] > metrics["final_test_accuracy"]


# --- the command, on a hand-made run: refusals -------------------------------------------

@pytest.fixture
def made_run(tmp_path, monkeypatch):
    """A project root with a random 1x8 network `r` and a data report; cwd is it."""
    alphabets = [f"A{i}" for i in range(12)]
    model = mlp.MLP(SIDE * SIDE, 12, [8], rng=np.random.default_rng(1), dtype=np.float32)
    (tmp_path / "models").mkdir()
    mlp.save_params(tmp_path / "models/r.npz", model)
    (tmp_path / "metrics/runs/r").mkdir(parents=True)
    (tmp_path / "metrics/runs/r/config.json").write_text(
        json.dumps({"hidden": [8], "dropout": 0.0, "dtype": "float32"}))
    (tmp_path / "metrics/data.json").write_text(json.dumps(
        {"class_names": alphabets, "pixels": {"encoding": "stored", "order": "C"}}))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")  # what marks the project's root
    monkeypatch.chdir(tmp_path)
    return tmp_path


def png(path, mode="1", size=(SIDE, SIDE), fmt="PNG"):
    Image.new(mode, size, 1 if mode == "1" else 255).save(path, fmt)
    return path


def refusal(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        predict.main(argv)
    message = str(exited.value.code)
    assert exited.value.code not in (0, None) and "\n" not in message
    assert "Traceback" not in capsys.readouterr().err
    return message


def test_a_blank_1bit_png_gets_an_alphabet_and_a_probability(made_run, capsys):
    predict.main(["r", str(png(made_run / "blank.png"))])
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r".*blank\.png: A\d+ (0|1)\.\d{3}", line), line


def test_a_dropout_run_is_predicted_with_its_inference_scale(made_run):
    """The course's ReLU scales by (1 - p) at inference, as evaluation did in training."""
    config = made_run / "metrics/runs/r/config.json"
    config.write_text(json.dumps({"hidden": [8], "dropout": 0.5, "dtype": "float32"}))
    images = (np.random.default_rng(2).random((4, SIDE, SIDE)) < 0.5).astype(np.uint8)
    shown = predict.probabilities(predict.load_classifier("r"), images)
    trained = mlp.MLP(SIDE * SIDE, 12, [8], dropout_probability=0.5, dtype=np.float32)
    trained.loadparams(*mlp.load_params(made_run / "models/r.npz"))
    logits = trained.forward(images.reshape(4, -1).T.astype(np.float32),
                             train=False).astype(np.float64)
    expected = np.exp(logits - logits.max(axis=0))
    expected /= expected.sum(axis=0)
    np.testing.assert_allclose(shown, expected, rtol=1e-6)
    config.write_text(json.dumps({"hidden": [8], "dropout": 0.0, "dtype": "float32"}))
    assert not np.allclose(predict.probabilities(predict.load_classifier("r"), images), shown)


def test_probabilities_are_each_images_own_softmax_even_for_huge_logits(made_run):
    classifier = predict.load_classifier("r")
    for linear in classifier.model.linears:
        linear.W *= 1e4  # logits of order 1e5: exp() would overflow without a shift
    images = (np.random.default_rng(3).random((3, SIDE, SIDE)) < 0.5).astype(np.uint8)
    probabilities = predict.probabilities(classifier, images)
    assert probabilities.shape == (12, 3) and np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0)
    for index in range(3):
        np.testing.assert_allclose(probabilities[:, index],
                                   predict.probabilities(classifier, images[index:index + 1])[:, 0])


@pytest.mark.parametrize("pixels, order", [("stored", "C"), ("ink", "C"), ("ink", "F")])
def test_images_are_encoded_as_training_encoded_them(pixels, order):
    images = (np.random.default_rng(4).random((2, SIDE, SIDE)) < 0.5).astype(np.uint8)
    x = predict.encode(images, predict.Encoding([], pixels, order), np.float32)
    flat = np.stack([image.reshape(-1, order=order) for image in images], axis=1)
    assert x.shape == (SIDE * SIDE, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, 1 - flat if pixels == "ink" else flat)


@pytest.mark.parametrize("make, expected", [
    (lambda d: png(d / "rgb.png", mode="RGB"), "expected a 1-bit 105x105 PNG"),
    (lambda d: png(d / "gray.png", mode="L"), "found PNG mode 'L'"),
    (lambda d: png(d / "small.png", size=(28, 28)), "size (28, 28)"),
    (lambda d: png(d / "one.gif", fmt="GIF"), "found GIF"),
    (lambda d: (d / "text.png").write_text("not an image") and d / "text.png",
     "not a readable PNG"),
    (lambda d: d / "missing.png", "missing.png: not readable (No such file or directory)"),
])
def test_anything_but_a_105x105_1bit_png_is_refused_in_one_line(made_run, capsys, make,
                                                                  expected):
    path = make(made_run)
    message = refusal(capsys, ["r", str(path)])
    assert str(path) in message and expected in message, message


def test_a_huge_file_is_refused_before_decoding(made_run, capsys):
    path = made_run / "huge.png"
    with path.open("wb") as handle:
        handle.truncate(predict.MAX_PNG_BYTES + 1)
    assert "bytes; expected a 1-bit" in refusal(capsys, ["r", str(path)])


def test_a_missing_run_or_broken_files_are_refused_in_one_line(made_run, capsys):
    image = str(png(made_run / "blank.png"))
    assert "metrics/runs/nope/config.json: missing; expected a run's config; is 'nope' a run" \
        in refusal(capsys, ["nope", image])
    assert "r.best.npz: not found" in refusal(capsys, ["r", "--best", image])
    (made_run / "models/r.npz").write_text("junk")
    assert "models/r.npz: not a model" in refusal(capsys, ["r", image])
    (made_run / "metrics/data.json").write_text(json.dumps({"source": "course"}))
    assert "data report with 'class_names' and 'pixels'" in refusal(capsys, ["r", image])


def test_run_outside_the_project_root_says_to_run_it_from_the_root(made_run, monkeypatch,
                                                                    capsys):
    image = str(png(made_run / "blank.png"))
    (made_run / "elsewhere").mkdir()
    monkeypatch.chdir(made_run / "elsewhere")
    assert refusal(capsys, ["r", image]) == (
        f"predict: metrics/runs/r/config.json: missing, and {made_run / 'elsewhere'} is not "
        f"the project's root (it has no dvc.yaml); run `python -m stages.predict` from the "
        f"project's root")


def test_files_cannot_choose_how_much_memory_predict_spends(made_run, capsys):
    """A config asking for a huge network, an npz header declaring a huge array and a
    deeply nested data report are refused before anything of their size is allocated."""
    image = str(png(made_run / "blank.png"))
    config = made_run / "metrics/runs/r/config.json"
    config.write_text(json.dumps({"hidden": [10 ** 9], "dropout": 0.0, "dtype": "float32"}))
    assert "config.json: expected a run's config with 'hidden'" in refusal(capsys, ["r", image])
    config.write_text(json.dumps({"hidden": [8], "dropout": 1.0, "dtype": "float32"}))
    assert "'dropout' (0 <= p < 1)" in refusal(capsys, ["r", image])
    config.write_text(json.dumps({"hidden": [8], "dropout": 0.0, "dtype": "float32"}))
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10 ** 6, 10 ** 6)})
    with zipfile.ZipFile(made_run / "models/r.npz", "w") as archive:
        for name in ("W0", "b0", "W1", "b1"):
            archive.writestr(f"{name}.npy", buffer.getvalue())
    assert "models/r.npz: not a model" in refusal(capsys, ["r", image])
    (made_run / "metrics/data.json").write_text("[" * 100_000)
    assert "data.json: not readable JSON" in refusal(capsys, ["r", image])


# --- on a real trained run: what predict says is what the network says on the npz --------

def first_test_image(project, out):
    """The PNG behind row 0 of the prepared test set, from the zip in the project's inbox:
    an image of row 0's alphabet whose pixels are those fetch wrote for it."""
    with np.load(project.path / "data/omniglot_12.npz") as fetched:
        pixels, label = fetched["testX"][0], int(fetched["testY"][0])
    alphabet = json.loads((project.path / "metrics/data.json").read_text())["class_names"][label]
    with zipfile.ZipFile(project.path / "data/inbox/images_background.zip") as archive:
        for entry in archive.namelist():
            if f"/{alphabet}/" in entry and entry.endswith(".png"):
                with Image.open(io.BytesIO(archive.read(entry))) as image:
                    if np.array_equal(np.asarray(image, dtype=bool).reshape(-1), pixels):
                        out.write_bytes(archive.read(entry))
                        return out
    raise AssertionError(f"no image of {alphabet} in the zip is row 0 of the test set")


def network_on_prepared_row(project, run, model_file):
    """Probabilities models/<model_file> gives row 0 of the prepared test set: (classes,)."""
    with np.load(project.path / "data/prepared/omniglot_12.npz") as prepared:
        x = prepared["test_x"][:1].T
    classes = len(json.loads((project.path / "metrics/data.json").read_text())["class_names"])
    config = json.loads((project.path / f"metrics/runs/{run}/config.json").read_text())
    model = mlp.MLP(SIDE * SIDE, classes, config["hidden"],
                    dropout_probability=config["dropout"], dtype=np.dtype(config["dtype"]))
    model.loadparams(*mlp.load_params(project.path / "models" / model_file))
    logits = model.forward(x.astype(config["dtype"]), train=False)[:, 0].astype(np.float64)
    return np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()


def snippet(image):
    """The Python block of docs/using-a-model.md, for run `small` and `image`."""
    text = (ROOT / "docs/using-a-model.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    return code.replace('"two_60_mom_drop", "path/to/0110_01.png"', f'"small", "{image}"')


# The synthetic zip with both pixel encodings, and the real zip's default data. Marked by
# hand: conftest marks by fixture name, and these come from request.getfixturevalue.
@pytest.mark.dvc
@pytest.mark.parametrize("data, pixels, order", [("tiny_pipeline", "stored", "C"),
                                                 ("tiny_pipeline", "ink", "F"),
                                                 ("tiny_pipeline_fall2024", "stored", "C")])
def test_predict_on_an_omniglot_png_matches_the_network_on_the_prepared_data(
        request, tmp_path, data, pixels, order):
    project = request.getfixturevalue(data)
    project.set_params(lambda params: params["prepare"].update(pixels=pixels, order=order))
    project.run("dvc", "repro", "train@small")
    image = first_test_image(project, tmp_path / "0001_01.png")
    alphabets = json.loads((project.path / "metrics/data.json").read_text())["class_names"]
    for model_file, options in (("small.npz", []), ("small.best.npz", ["--best"])):
        expected = network_on_prepared_row(project, "small", model_file)
        label = int(expected.argmax())
        shown = project.run("python", "-m", "stages.predict", "small", *options,
                            str(image)).stdout
        assert shown == f"{image}: {alphabets[label]} {expected[label]:.3f}\n"
    expected = network_on_prepared_row(project, "small", "small.npz")
    documented = project.run(sys.executable, "-c", snippet(image)).stdout.split()
    assert documented[0] == alphabets[int(expected.argmax())]
    assert float(documented[1]) == pytest.approx(expected.max(), rel=1e-5)
