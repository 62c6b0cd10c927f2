"""Stage check_params: the whole of params.yaml, checked before any other stage runs.

    python -m stages.check_params

Every stage checks its own sections when it runs, but DVC runs a stage only when
something it lists has changed, and the figures and report stages run after all the
training. So a section no stage lists (a typo such as `trian:` for `train:`) would
change nothing and leave `dvc repro` "up to date" with the intended edit ignored, and
a bad `figures` value or a run whose group has no title would be refused only after
the grid had trained. dvc.yaml lists the whole file for this stage, first: any edit
reruns it (half a second), and it parses every section as the stage that reads it does.
"""
import argparse

from pipeline.params import (PARAMS_FILE, check_titled, group_titles, load_params, parse,
                             section)
from pipeline.stage_runner import run_stage
from pipeline.training.experiments import parse_grid
from stages.examples import ExamplesParams
from stages.fetch import FetchParams
from stages.figures import FigureParams
from stages.prepare import PrepareParams

SECTION_PARAMS = {"fetch": FetchParams, "prepare": PrepareParams,
                  "examples": ExamplesParams, "figures": FigureParams}


def check_params(params):
    """Raise ParamsError for the first bad section, experiment or group; else one line
    naming the sections and their sizes. load_params has refused unknown sections."""
    for name, cls in SECTION_PARAMS.items():
        parse(cls, section(params, name), f"{PARAMS_FILE}:{name}")
    grid = parse_grid(params)  # the `train` defaults and every experiment
    section(params, "groups")
    check_titled({name: run.group for name, run in grid.items()}, group_titles(params))
    parts = [f"{name} ({len(value)})" if isinstance(value, dict) else name
             for name, value in params.items()]
    return f"{PARAMS_FILE}: {', '.join(parts)}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.check_params",
                                     description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(f"check_params: {run_stage('check_params', lambda: check_params(load_params()))}")


if __name__ == "__main__":
    main()
