"""The command line of a stage that takes only paths: `--<name> PATH`, each required."""
import argparse
from pathlib import Path


def parse_path_options(stage, description, path_help, argv):
    """argparse's namespace of `--<name> PATH` for each {name: help text} of path_help.

    usage reads `python -m stages.<stage>`, as dvc.yaml runs it.
    """
    parser = argparse.ArgumentParser(prog=f"python -m stages.{stage}", description=description)
    for name, text in path_help.items():
        parser.add_argument(f"--{name}", type=Path, required=True, help=text)
    return parser.parse_args(argv)
