"""The ``videocolor`` console script: the command line, with Ctrl-C during start-up handled too.

The script pip generates imports this module first; ``videocolor._cli.main`` and what it loads (PyAV, the
settings) are imported inside the ``try`` here, so a Ctrl-C in those first moments gives the same one line
and exit status 130 as a Ctrl-C during a render, never a traceback.
"""

from __future__ import annotations

import signal
import sys

from .errors import INTERRUPTED, interrupts_held


def main() -> int:
    try:
        with interrupts_held():
            from ._cli.main import main as run
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    try:
        return run()
    finally:  # the command has finished: a Ctrl-C while the interpreter exits would be a death by signal (-2)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
