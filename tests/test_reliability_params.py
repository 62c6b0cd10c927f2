"""Class 3 of issue 11: params that passed validation and then crashed or were ignored."""
import json
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from pipeline.training.experiments import (MAX_BATCH_SIZE, MAX_EPOCHS, MAX_HIDDEN_LAYERS, MAX_HIDDEN_SIZE,
                           MAX_THREADS, parse_experiment)
from pipeline.params import SECTIONS, ParamsError, load_params
from tests.test_training import params_with

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("key, value", [
    ("lr", float("inf")), ("lr", float("nan")), ("momentum", float("nan")),
    ("dropout", float("-inf")), ("lr", 10 ** 400),
])
def test_numbers_must_be_finite(key, value):
    with pytest.raises(ParamsError, match=rf"experiments.tiny.{key}: expected a finite number"):
        parse_experiment(params_with({key: value}), "tiny")


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", ".NaN", "1e999"])
def test_yaml_inf_and_nan_are_refused_by_name(tmp_path, text):
    params = params_with()
    params["train"]["lr"] = "LR"
    (tmp_path / "params.yaml").write_text(json.dumps(params).replace('"LR"', text))
    with pytest.raises(ParamsError, match="params.yaml:train.lr: expected a finite number"):
        parse_experiment(load_params(tmp_path / "params.yaml"), "tiny")


@pytest.mark.parametrize("key, value", [
    ("hidden", [MAX_HIDDEN_SIZE + 1]),
    ("hidden", [100_000_000]),
    ("hidden", [16] * (MAX_HIDDEN_LAYERS + 1)),
    ("batch_size", MAX_BATCH_SIZE + 1),
    ("epochs", MAX_EPOCHS + 1),
    ("threads", MAX_THREADS + 1),
    ("seed", 2 ** 64),
])
def test_sizes_have_an_upper_bound_that_names_the_key(key, value):
    with pytest.raises(ParamsError) as error:
        parse_experiment(params_with({key: value}), "tiny")
    assert f"experiments.tiny.{key}: " in str(error.value)
    assert "is invalid; expected" in str(error.value)


def test_the_largest_allowed_sizes_pass():
    config = parse_experiment(params_with({
        "hidden": [MAX_HIDDEN_SIZE] * MAX_HIDDEN_LAYERS, "batch_size": MAX_BATCH_SIZE,
        "epochs": MAX_EPOCHS, "threads": MAX_THREADS}), "tiny").config
    assert config.hidden == [MAX_HIDDEN_SIZE] * MAX_HIDDEN_LAYERS


def test_an_unknown_top_level_section_is_an_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("figures:\n  dpi: 150\ntrian:\n  lr: 0.5\n")
    with pytest.raises(ParamsError, match=r"unknown section\(s\) \['trian'\]"):
        load_params(path)


def test_missing_sections_are_left_to_the_stages_that_read_them(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(json.dumps({"figures": {"dpi": 150}}))
    assert load_params(path) == {"figures": {"dpi": 150}}


def test_every_section_dvc_yaml_lists_is_known():
    dvc = YAML(typ="safe").load((ROOT / "dvc.yaml").read_text())
    listed = set()
    for stage in dvc["stages"].values():
        stage = stage.get("do", stage)
        listed |= {entry.split(".")[0] for entry in stage.get("params", [])
                   if not isinstance(entry, dict)}  # {params.yaml: None}: the whole file
    assert listed <= set(SECTIONS)
    assert set(load_params(ROOT / "params.yaml")) <= set(SECTIONS)


@pytest.mark.parametrize("make, problem", [
    (lambda p: p.write_bytes(b"train: {lr: \xff}"), "not UTF-8 text"),
    (lambda p: p.mkdir(), "not readable"),
    (lambda p: p.write_bytes(b"#" * ((1 << 20) + 1)), "larger than 1048576 bytes"),
])
def test_an_unreadable_params_file_is_a_params_error(tmp_path, make, problem):
    make(tmp_path / "params.yaml")
    with pytest.raises(ParamsError, match=f"params.yaml: {problem}"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("text, problem", [
    ("figures:\n  dpi: 1\n  dpi: 2\n", "params.yaml: not valid YAML: while constructing a "
     "mapping: found duplicate key \"dpi\" with value \"2\" (original value: \"1\") at line 3, "
     "column 3"),
    pytest.param("figures:\n  dpi: " + "1" * 5000 + "\n",
                 "params.yaml: not valid params: Exceeds the limit",
                 marks=pytest.mark.skipif(not hasattr(sys, "get_int_max_str_digits"),
                                          reason="Python before 3.10.7 reads any integer")),
    ("figures: " + "[" * 5000 + "]" * 5000 + "\n", "params.yaml: not valid params: nested too "
     "deeply"),
])
def test_a_params_file_that_yaml_cannot_load_is_one_line(tmp_path, text, problem):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError) as error:
        load_params(tmp_path / "params.yaml")
    assert str(error.value).startswith(f"{tmp_path / problem}")
    assert "\n" not in str(error.value)


def test_a_value_built_of_yaml_aliases_is_shown_in_a_few_characters(tmp_path):
    # Ten levels of ten aliases each: 1 KB of YAML whose full repr has 10**10 items.
    anchors = ["  a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    anchors += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    params = params_with()
    params["train"]["lr"] = "LR"
    sections = [f"{name}: {json.dumps(value)}" for name, value in params.items()]
    text = "\n".join(["figures:", *anchors, *sections]).replace('"LR"', "*a9")
    (tmp_path / "params.yaml").write_text(text + "\n")
    with pytest.raises(ParamsError) as error:
        parse_experiment(load_params(tmp_path / "params.yaml"), "tiny")
    assert str(error.value).startswith("params.yaml:train.lr: expected a number, got [[[")
    assert len(str(error.value)) < 300


@pytest.mark.parametrize("change, expected", [
    (lambda p: p["train"].__setitem__(1, 2), r"train: unknown key\(s\) \[1\]"),
    (lambda p: p["experiments"]["tiny"].__setitem__(7, 0), r"tiny: unknown key\(s\) \[7\]"),
])
def test_numeric_yaml_keys_are_named_like_any_unknown_key(change, expected):
    params = params_with()
    change(params)
    with pytest.raises(ParamsError, match=expected):
        parse_experiment(params, "tiny")


def test_an_unknown_experiment_is_named_beside_numeric_names():
    params = params_with()
    params["experiments"][3] = {"group": "x"}
    with pytest.raises(ParamsError, match="no experiment named 'nope'; known: \\[3, 'tiny'\\]"):
        parse_experiment(params, "nope")
