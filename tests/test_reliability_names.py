"""Class 6 of issue 11: experiment and group names become file names and command-line words.

Allowed: letters, digits, '_', '-' and '.', not starting with '.' or '-'. Any
other name is refused by name in every stage, before anything runs.
"""
import json

import pytest

import stages.examples
import stages.train
from pipeline.grid import parse_experiment
from pipeline.params import ParamsError, check_name, load_params
from tests.test_training import params_with

BAD_NAMES = ["one/60", "../up", "a b", "-x", "--help", ".hidden", "", "semi;colon",
             "$(touch x)", "back\\slash", "tab\t", "x" * 101, "ünïcode", "train@x"]
GOOD_NAMES = ["one_60", "two_150_lr1e-2", "2.1", "x", "A.b-c_9", "x" * 100]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_experiment_names_are_refused_when_params_are_read(tmp_path, name):
    params = params_with()
    params["experiments"] = {name: {"group": "2.1"}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    with pytest.raises(ParamsError) as error:
        load_params(tmp_path / "params.yaml")
    assert f"params.yaml:experiments: name {name!r} is not allowed; expected" in str(error.value)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_group_names_are_refused_in_groups_and_experiments(tmp_path, name):
    params = params_with()
    params["groups"] = {name: "title"}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    with pytest.raises(ParamsError, match="params.yaml:groups: name .* is not allowed"):
        load_params(tmp_path / "params.yaml")
    with pytest.raises(ParamsError, match="experiments.tiny.group: name .* is not allowed"):
        parse_experiment(params_with({"group": name}), "tiny")


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_pass(name):
    assert check_name(name, "x") == name
    params = params_with()
    params["experiments"] = {name: {"group": name}}
    assert parse_experiment(params, name).group == name


def test_numeric_group_names_mean_their_text(tmp_path):
    (tmp_path / "params.yaml").write_text("groups:\n  2.1: One\nexperiments:\n"
                                          "  tiny: {group: 2.1}\n")
    params = load_params(tmp_path / "params.yaml")
    merged = {**params_with(), "experiments": params["experiments"]}
    assert parse_experiment(merged, "tiny").group == "2.1"


@pytest.mark.parametrize("name", ["one/60", "-x", "a b"])
def test_every_stage_refuses_a_bad_name_before_doing_anything(tmp_path, monkeypatch, name):
    params = params_with()
    params["experiments"][name] = {"group": "2.1"}
    params["examples"] = {"per_class": 1}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    monkeypatch.chdir(tmp_path)
    for stage, run in (("examples", lambda: stages.examples.main()),
                       ("train", lambda: stages.train.main([name, "p.npz", "m.npz", "r", "c"]))):
        with pytest.raises(SystemExit) as exit_:
            run()
        assert exit_.value.code == (f"{stage}: params.yaml:experiments: name {name!r} is not "
                                    f"allowed; expected 1-100 letters, digits, '_', '-' or '.', "
                                    f"not starting with '.' or '-'")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["params.yaml"]
