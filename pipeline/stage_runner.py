"""How every stage's main() ends: a message naming the bad param or file, or the result.

A stage's body raises the project's own errors (ParamsError, InputFileError,
PreparedError, ...), whose messages already name the key or file and what was
expected; run_stage turns them into `<stage>: <message>` on stderr and exit
status 1, without a traceback. The message is one line unless it carries
advice of its own; each further line starts with the stage's name too (fetch's
advice when it cannot download). SIGTERM unwinds like Ctrl-C (pipeline/atomic.py
raises SystemExit(143) from its handler), so atomic writes remove their temp
files; either ends with one line on stderr and the shell's status (143, 130).
"""
import signal
import sys

from pipeline.atomic import handle_sigterm
from pipeline.params import ParamsError


def run_stage(stage, body, errors=()):
    """body()'s result; on ParamsError or one of `errors`, exit 1 with `<stage>: <message>`."""
    handle_sigterm()
    try:
        return body()
    except (ParamsError, *errors) as error:
        sys.exit(f"{stage}: {error}")
    except KeyboardInterrupt:
        print(f"{stage}: interrupted; no output was half-written", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None
    except SystemExit as stop:
        if stop.code == 128 + signal.SIGTERM:  # from atomic.exit_on_signal
            print(f"{stage}: terminated; no output was half-written", file=sys.stderr)
        raise
