"""Stage check_params: params.yaml holds no section that no stage reads.

    python -m stages.check_params

Every stage refuses unknown sections when it runs, but DVC runs a stage only when
something it lists has changed, so a section no stage lists (a typo such as `trian:`
for `train:`) would change nothing and leave `dvc repro` "up to date" with the
intended edit ignored. dvc.yaml lists the whole file for this stage: any edit reruns
it (a second) and such a section fails the repro, naming it.
"""
import argparse

from pipeline.params import PARAMS_FILE, load_params
from pipeline.stage_runner import run_stage


def describe_sections(params):
    """One line naming params' sections and their sizes (load_params refused unknown ones)."""
    parts = [f"{name} ({len(value)})" if isinstance(value, dict) else name
             for name, value in params.items()]
    return f"{PARAMS_FILE}: {', '.join(parts)}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.check_params",
                                     description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(f"check_params: {run_stage('check_params', lambda: describe_sections(load_params()))}")


if __name__ == "__main__":
    main()
