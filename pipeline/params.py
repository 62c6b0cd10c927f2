"""params.yaml, read strictly: unknown keys, missing keys and wrong types are errors.

Each stage describes its section as a dataclass without defaults (params.yaml
is the only place values live) and an optional validate(where) method for
value checks. YAML is read with ruamel.yaml, as DVC reads it, so a value like
1e-3 means the same number to DVC and to the stage.
"""
import dataclasses
import typing
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

PARAMS_FILE = "params.yaml"


class ParamsError(ValueError):
    """A params.yaml value that is missing, unknown or invalid; the message names the key."""


def load_params(path=PARAMS_FILE):
    """The whole params file as plain dicts and lists."""
    path = Path(path)
    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the project's root)") from None
    except YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


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
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise ParamsError(f"{where}: unknown key(s) {unknown}; expected keys {names}")
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
            raise ParamsError(f"{where}.{key}: {getattr(obj, key)!r} is invalid; "
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
            raise ParamsError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        return [check_type(item, args[0], f"{where}[{i}]") for i, item in enumerate(value)]
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected an integer, got {value!r}")
        return value
    if not isinstance(value, hint):
        raise ParamsError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
