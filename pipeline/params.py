"""params.yaml, read strictly: unknown keys and sections, missing keys and wrong types are errors.

Each stage describes its section as a dataclass without defaults (params.yaml
is the only place values live) and an optional validate(where) method for
value checks. YAML is read with ruamel.yaml, as DVC reads it, so a value like
1e-3 means the same number to DVC and to the stage.
"""
import dataclasses
import math
import re
import reprlib
import typing
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from pipeline.small_files import read_small_text

PARAMS_FILE = "params.yaml"
MAX_PARAMS_BYTES = 1 << 20  # the committed file is about 5 KB
# Every top-level section any stage reads; a section not listed here is a typo
# (e.g. `trian:`) and an error in every stage. A new stage adds its section here.
SECTIONS = ("fetch", "prepare", "examples", "train", "experiments", "groups", "figures")
# Experiment and group names become file names (models/<name>.npz,
# plots/figures/<group>_loss.png) and words of DVC's command lines: no separators,
# spaces or shell characters, and no leading '.' (hidden files) or '-' (options).
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
NAME_RULE = "1-100 letters, digits, '_', '-' or '.', not starting with '.' or '-'"
# Experiment names also take no '.': dvc.yaml lists each run's param as
# `experiments.${key}`, a path DVC splits at dots, so `two_lr0.01` would be a
# param DVC cannot find (and `-S experiments.two_lr0.01.lr=...` would be ambiguous).
EXPERIMENT_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}")
EXPERIMENT_NAME_RULE = ("1-100 letters, digits, '_' or '-', not starting with '-' "
                        "(no '.': DVC splits param names at dots)")


class ParamsError(ValueError):
    """A params.yaml value that is missing, unknown or invalid; the message names the key."""


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 3, 120, 120  # a whole valid name
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 8
MAX_SHOWN = 240


def shown(value):
    """repr(value) for an error message, at most MAX_SHOWN characters.

    YAML aliases share one object, so a 1 KB params.yaml can hold a list whose full
    repr runs to gigabytes; reprlib stops at a few levels and items before the text
    is built, and the text is then cut.
    """
    text = _SHOWN.repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def yaml_problem(error):
    """ruamel's error in one line: what it was doing, the problem and where (1-based)."""
    problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
    context = getattr(error, "context", None)
    mark = getattr(error, "problem_mark", None)
    place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{context + ': ' if context else ''}{problem}{place}"


def load_params(path=PARAMS_FILE):
    """The whole params file as plain dicts and lists."""
    path = Path(path)
    text = read_small_text(path, MAX_PARAMS_BYTES, ParamsError,
                           "the project's params.yaml (run from the project's root)")
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {yaml_problem(error)}") from None
    except RecursionError:
        raise ParamsError(f"{path}: not valid params: nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise ParamsError(f"{path}: not valid params: {error}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    check_sections(data, path)
    return data


def check_sections(params, path=PARAMS_FILE):
    """Refuse unknown top-level sections (only their names are read).

    Run by load_params, so every stage refuses them before doing anything. Names of
    experiments and groups are checked by the stages that use them, which dvc.yaml
    lists as reading those sections.
    """
    unknown = [str(name) for name in params if name not in SECTIONS]
    if unknown:
        raise ParamsError(f"{path}: unknown section(s) {shown(unknown)}; expected sections "
                          f"among {list(SECTIONS)}")


def check_name(name, where, pattern=NAME_PATTERN, rule=NAME_RULE):
    """`name` if it may serve as a file name and a command-line word (NAME_RULE)."""
    if not isinstance(name, str):
        raise ParamsError(f"{where}: name {shown(name)} is a {type(name).__name__}; "
                          f"expected text (quote it in YAML) of {rule}")
    if not pattern.fullmatch(name):
        raise ParamsError(f"{where}: name {shown(name)} is not allowed; expected {rule}")
    return name


def check_experiment_name(name, where):
    """`name` if it may also serve as a DVC param path component (EXPERIMENT_NAME_RULE)."""
    return check_name(name, where, EXPERIMENT_NAME_PATTERN, EXPERIMENT_NAME_RULE)


def experiment_names(params, path=PARAMS_FILE):
    """The experiments' names in params order, each checked; [] when there is no section."""
    experiments = params.get("experiments", {})
    if not isinstance(experiments, dict):
        raise ParamsError(f"{path}:experiments: expected a mapping of experiment names to "
                          f"settings, got {type(experiments).__name__}")
    return [check_experiment_name(name, f"{path}:experiments") for name in experiments]


def group_titles(params, path=PARAMS_FILE):
    """{group: title} from the `groups` section, names checked; {} when there is no section.

    A group name is text ("2.1"); a whole number (3) means its digits ("3").
    """
    groups = params.get("groups", {})
    if not isinstance(groups, dict):
        raise ParamsError(f"{path}:groups: expected a mapping of group names to titles, "
                          f"got {type(groups).__name__}")
    titles = {}
    for name, title in groups.items():
        key = check_name(group_name(name, f"{path}:groups"), f"{path}:groups")
        if not isinstance(title, str):
            raise ParamsError(f"{path}:groups.{key}: expected a title (text), "
                              f"got {shown(title)}")
        titles[key] = title
    return titles


def check_titled(run_groups, titles, path=PARAMS_FILE):
    """Refuse a run whose group has no title under `groups`.

    run_groups: {run: group}; titles: {group: title}. A typo in a run's group, or a
    group renamed under `groups`, would otherwise give an untitled chart and report
    section, with the run missing from the group it was meant for.
    """
    for run, group in run_groups.items():
        if group not in titles:
            raise ParamsError(f"{path}:experiments.{run}.group: {shown(group)} has no title "
                              f"under `groups` (titled: {list(titles)}); add it there with a "
                              f"title, or correct the run's group")


def group_name(value, where):
    """A group as text: a whole number (YAML's 3) means "3"; 2.1 must be quoted.

    YAML reads an unquoted 2.10 as the number 2.1, so the user's spelling is lost:
    such a group is refused rather than silently merged into another.
    """
    if isinstance(value, float):
        raise ParamsError(f"{where}: group {shown(value)} was read as a number; quote it in "
                          f"YAML (\"2.10\" stays 2.10, unquoted it reads as 2.1)")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ParamsError(f"{where}: group {shown(value)} is not allowed; expected {NAME_RULE}")
    return str(value)


def section(params, name, path=PARAMS_FILE):
    """params[name], with an error naming the file when the section is absent."""
    if name not in params:
        raise ParamsError(f"{path}: missing section '{name}'")
    return params[name]


def parse(cls, mapping, where):
    """Build dataclass `cls` from `mapping`, checking keys and types; `where` prefixes errors."""
    names = [field.name for field in dataclasses.fields(cls)]
    if not isinstance(mapping, dict):
        raise ParamsError(f"{where}: expected a mapping with keys {names}, "
                          f"got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - set(names), key=str)  # YAML keys may be numbers
    if unknown:
        raise ParamsError(f"{where}: unknown key(s) {shown(unknown)}; "
                          f"expected keys {names}")
    missing = [name for name in names if name not in mapping]
    if missing:
        raise ParamsError(f"{where}: missing key(s) {missing}")
    hints = typing.get_type_hints(cls)
    values = {name: check_type(mapping[name], hints[name], f"{where}.{name}") for name in names}
    obj = cls(**values)
    if hasattr(obj, "validate"):
        obj.validate(where)
    return obj


def check_values(obj, where, checks):
    """Raise ParamsError for the first failed check: (key, condition, what was expected)."""
    for key, ok, expected in checks:
        if not ok:
            raise ParamsError(f"{where}.{key}: {shown(getattr(obj, key))} is invalid; "
                              f"expected {expected}")


def check_type(value, hint, where):
    """`value` converted to `hint` (str, int, float, bool, list[...], Optional, Literal)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        return check_type(value, inner[0], where)
    if origin is typing.Literal:
        if value not in args:
            raise ParamsError(f"{where}: {shown(value)} is not one of {list(args)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{where}: expected a list, got {shown(value)}")
        return [check_type(item, args[0], f"{where}[{i}]") for i, item in enumerate(value)]
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: expected a number, got {shown(value)}")
        number = float(value) if isinstance(value, float) or abs(value) < 2 ** 1000 else math.inf
        if not math.isfinite(number):  # .inf and .nan would reach the weights and the JSON
            raise ParamsError(f"{where}: expected a finite number, got {shown(value)}")
        return number
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected an integer, got {shown(value)}")
        return value
    if not isinstance(value, hint):
        raise ParamsError(f"{where}: expected {hint.__name__}, got {shown(value)}")
    return value
