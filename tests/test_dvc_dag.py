"""The pipeline's graph as the README shows it: one node per stage, in a terminal's width."""
from ruamel.yaml import YAML

from tests.conftest import ROOT

DAG_COMMAND = "dvc dag --collapse-foreach-matrix"


def test_the_readme_dag_command_fits_120_columns_and_shows_every_stage(dvc_project):
    assert DAG_COMMAND in (ROOT / "README.md").read_text()
    stages = YAML(typ="safe", pure=True).load((ROOT / "dvc.yaml").read_text())["stages"]
    shown = dvc_project().run(*DAG_COMMAND.split()).stdout
    assert max(len(line) for line in shown.splitlines()) <= 120
    assert {name for name in stages if f"| {name} |" in shown} == set(stages)
