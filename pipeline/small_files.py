"""Reading a small text or JSON file written by a stage or a person, without trusting it."""
import json
import math


def read_small_text(path, limit, error, what):
    """The UTF-8 text of `path`, of at most `limit` bytes; `error(message)` is raised otherwise.

    error: the caller's exception class. what: what the file should be, e.g. "a manifest
    CSV"; every message names the file and ends with "expected <what>".
    At most limit + 1 bytes are read, whatever the file's size says: a file that grows
    after a size check would still fill memory.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{path}: missing; expected {what}") from None
    except OSError as failure:
        raise error(f"{path}: not readable ({failure.strerror or failure}); "
                    f"expected {what}") from None
    if len(data) > limit:
        raise error(f"{path}: larger than {limit} bytes; expected {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; expected {what}") from None


def refuse_constant(name):
    """json.loads' parse_constant: NaN and Infinity are not JSON numbers."""
    raise ValueError(f"{name} is not a finite number")


def finite_float(text):
    """json.loads' parse_float: 1e999 is valid JSON, but would read as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def read_small_json(path, limit, error, what):
    """The JSON value in `path` (at most `limit` bytes); `error(message)` is raised otherwise.

    Finite numbers only: NaN and Infinity are refused, as is nesting too deep for
    the parser. Messages name the file and end with "expected <what>".
    """
    text = read_small_text(path, limit, error, what)
    try:
        return json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)
    except (ValueError, RecursionError) as failure:  # bad syntax, NaN, 1e999, [[[[...
        raise error(f"{path}: not readable JSON ({failure}); expected {what}") from None
