"""Reading a small text file written by a stage or a person, without trusting its size."""


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
