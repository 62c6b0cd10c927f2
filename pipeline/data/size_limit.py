"""A byte limit that names the setting behind it, so a refusal says what to change."""

MIB = 1 << 20


class SizeLimit(int):
    """An int of bytes with `setting`: what sets it (a param, or the bound's reason)."""

    def __new__(cls, max_bytes, setting):
        limit = super().__new__(cls, max_bytes)
        limit.setting = setting
        return limit


def limit_text(max_bytes):
    """'2048 MiB (fetch.max_input_mb)' for a SizeLimit; '2048 MiB' for a plain int."""
    setting = getattr(max_bytes, "setting", None)
    return f"{max_bytes / MIB:g} MiB" + (f" ({setting})" if setting else "")
