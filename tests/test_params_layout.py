"""params.yaml keeps its comments and layout when `dvc exp run -S` rewrites it."""
import difflib
import shutil

from dvc.utils.serialize import modify_yaml

from pipeline.params import experiment_names, load_params
from tests.conftest import ROOT


def test_dvcs_rewrite_changes_only_the_set_value(tmp_path):
    """DVC's own writer (what -S uses), changing one value of the first experiment."""
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    params = load_params(path)
    name = experiment_names(params)[0]
    had_lr = "lr" in params["experiments"][name]  # else the experiment inherits train.lr
    new_lr = 0.456 if params["experiments"][name].get("lr") == 0.123 else 0.123
    with modify_yaml(path) as params:
        params["experiments"][name]["lr"] = new_lr
    changed = [line for line in difflib.unified_diff(
        (ROOT / "params.yaml").read_text().splitlines(), path.read_text().splitlines(),
        lineterm="", n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert [line[0] for line in changed] == (["-", "+"] if had_lr else ["+"]), changed
    assert changed[-1][1:].strip() == f"lr: {new_lr}", changed
