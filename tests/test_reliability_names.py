"""Class 6 of issue 11: experiment and group names become file names and command-line words.

Allowed: letters, digits, '_', '-' and '.' (groups only: DVC splits an experiment's
param path at dots), not starting with '.' or '-'. Any other name is refused by
name, before anything runs, in every stage that reads the experiments or groups
(train, figures, report).
"""
import json

import pytest

import stages.figures
import stages.report
import stages.train
from pipeline.training.experiments import parse_experiment
from pipeline.params import ParamsError, check_name, experiment_names, group_titles, load_params
from tests.test_training import params_with

BAD_NAMES = ["one/60", "../up", "a b", "-x", "--help", ".hidden", "", "semi;colon",
             "$(touch x)", "back\\slash", "tab\t", "x" * 101, "ünïcode", "train@x"]
GOOD_NAMES = ["one_60", "two_150_lr1e-2", "x", "A-b_9", "x" * 100]
GOOD_GROUP_NAMES = ["2.1", "A.b-c_9"]
DOTTED_EXPERIMENT_NAMES = ["two_lr0.01", "2.1", "a.best"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_experiment_names_are_refused_when_experiments_are_read(name):
    params = params_with()
    params["experiments"] = {name: {"group": "2.1"}}
    for read in (lambda: experiment_names(params), lambda: parse_experiment(params, name)):
        with pytest.raises(ParamsError) as error:
            read()
        assert f"experiments: name {name!r} is not allowed; expected" in str(error.value)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_group_names_are_refused_in_groups_and_experiments(name):
    params = params_with()
    params["groups"] = {name: "title"}
    with pytest.raises(ParamsError, match="params.yaml:groups: name .* is not allowed"):
        group_titles(params)
    with pytest.raises(ParamsError, match="experiments.tiny.group: name .* is not allowed"):
        parse_experiment(params_with({"group": name}), "tiny")


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_pass(name):
    assert check_name(name, "x") == name
    params = params_with()
    params["experiments"] = {name: {"group": name}}
    assert parse_experiment(params, name).group == name


@pytest.mark.parametrize("name", GOOD_GROUP_NAMES)
def test_group_names_may_hold_dots(name):
    params = params_with({"group": name})
    params["groups"] = {name: "title"}
    assert parse_experiment(params, "tiny").group == name
    assert group_titles(params) == {name: "title"}


@pytest.mark.parametrize("name", DOTTED_EXPERIMENT_NAMES)
def test_experiment_names_with_dots_are_refused_saying_why(name):
    """dvc.yaml's `experiments.${key}` would name a param DVC cannot find."""
    params = params_with()
    params["experiments"] = {name: {"group": "2.1"}}
    for read in (lambda: experiment_names(params), lambda: parse_experiment(params, name)):
        with pytest.raises(ParamsError, match=r"is not allowed; .*no '\.': DVC splits param"):
            read()


def test_whole_number_groups_mean_their_digits_and_decimal_ones_must_be_quoted(tmp_path):
    (tmp_path / "params.yaml").write_text("groups:\n  3: Three\n  2.10: Ten\nexperiments:\n"
                                          "  whole: {group: 3}\n  decimal: {group: 2.10}\n")
    params = {**params_with(), **load_params(tmp_path / "params.yaml")}
    assert parse_experiment(params, "whole").group == "3"
    with pytest.raises(ParamsError, match=r"experiments.decimal.group: group 2.1 was read as "
                                          r"a number; quote it in YAML"):
        parse_experiment(params, "decimal")
    with pytest.raises(ParamsError, match=r"params.yaml:groups: group 2.1 was read as a number"):
        group_titles(params)


def test_a_numeric_experiment_key_is_named_as_such():
    params = params_with()
    params["experiments"] = {1: {"group": "2.1"}}
    with pytest.raises(ParamsError, match=r"experiments: name 1 is a int; expected text "
                                          r"\(quote it in YAML\)"):
        parse_experiment(params, "1")


@pytest.mark.parametrize("name", ["one/60", "-x", "a b"])
def test_every_stage_refuses_a_bad_name_before_doing_anything(tmp_path, monkeypatch, name):
    params = params_with()
    params["experiments"][name] = {"group": "2.1"}
    params["groups"], params["figures"] = {"2.1": "One"}, {"dpi": 50}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    monkeypatch.chdir(tmp_path)
    paths = ["--runs", "r", "--curves", "c", "--data-report", "d.json"]
    for stage, run in (
            ("train", lambda: stages.train.main([name, "p.npz", "m.npz", "r", "c"])),
            ("figures", lambda: stages.figures.main(
                [*paths, "--png", "p", "--svg", "s", "--tables", "t"])),
            ("report", lambda: stages.report.main(
                [*paths, "--figures", "p", "--examples", "e.png", "--summary", "s.json",
                 "--grid", "g.json", "--report", "r.md"]))):
        with pytest.raises(SystemExit) as exit_:
            run()
        prefix, message = exit_.value.code.split(": ", 1)
        assert prefix.startswith(stage)
        assert message == (f"params.yaml:experiments: name {name!r} is not "
                           f"allowed; expected 1-100 letters, digits, '_' or '-', not "
                           f"starting with '-' (no '.': DVC splits param names at dots)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["params.yaml"]
