"""params.yaml keeps its comments and layout when `dvc exp run -S` rewrites it.

-S goes through dvc.utils.hydra.apply_overrides, which replaces every list of the
file, and with it whatever comment or blank line follows the list; params.yaml is
laid out so that nothing is lost (lists in block style, each followed by a key).
"""
import difflib
import shutil

import pytest
from dvc.utils.hydra import apply_overrides

from pipeline.params import experiment_names, load_params
from tests.conftest import ROOT


def changed_lines(path):
    """The lines of `path` that differ from the repository's params.yaml, as +/- diff lines."""
    return [line for line in difflib.unified_diff(
        (ROOT / "params.yaml").read_text().splitlines(), path.read_text().splitlines(),
        lineterm="", n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.fixture
def params_copy(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    return path


def test_setting_a_value_changes_only_its_line(params_copy):
    params = load_params(params_copy)
    name = experiment_names(params)[0]
    had_lr = "lr" in params["experiments"][name]  # else the experiment inherits train.lr
    new_lr = 0.456 if params["experiments"][name].get("lr") == 0.123 else 0.123
    apply_overrides(params_copy, [f"{'' if had_lr else '+'}experiments.{name}.lr={new_lr}"])
    changed = changed_lines(params_copy)
    assert [line[0] for line in changed] == (["-", "+"] if had_lr else ["+"]), changed
    assert changed[-1][1:].strip() == f"lr: {new_lr}", changed


def test_setting_a_list_changes_only_its_items(params_copy):
    hidden = load_params(params_copy)["train"]["hidden"]
    apply_overrides(params_copy, [f"train.hidden=[{', '.join(map(str, hidden + [7]))}]"])
    assert changed_lines(params_copy) == ["+  - 7"]


def test_adding_an_experiment_adds_only_its_lines(params_copy):
    group = next(iter(load_params(params_copy)["groups"]))
    apply_overrides(params_copy, [f"+experiments.layout_probe={{group: '{group}', "
                                  f"hidden: [5]}}"])
    assert changed_lines(params_copy) == [
        "+  layout_probe:", f"+    group: '{group}'", "+    hidden:", "+    - 5"]
