"""Class 6 of issue 11: experiment and group names become file names and command-line words.

Allowed: letters, digits, '_', '-' and '.', not starting with '.' or '-'. Any
other name is refused by name, before anything runs, in every stage that reads
the experiments or groups (train, figures, report).
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
GOOD_NAMES = ["one_60", "two_150_lr1e-2", "2.1", "x", "A.b-c_9", "x" * 100]


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
                                    f"allowed; expected 1-100 letters, digits, '_', '-' or '.', "
                                    f"not starting with '.' or '-'")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["params.yaml"]
