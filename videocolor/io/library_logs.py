"""FFmpeg's and decord's own messages, kept off the terminal.

FFmpeg reports every damaged macroblock and demuxer resync; videocolor counts and reports the damage itself,
one line per film. PyAV's FFmpeg stays silent (its default): routing FFmpeg's messages into Python logging
makes FFmpeg's decoding threads take the GIL for each one, which deadlocked renders of damaged files here
(PyAV issues 751 and 2276). decord has its own copy of FFmpeg and prints its warnings ("frames corrupted",
with its build machine's path) straight to file descriptor 2: its FFmpeg is set quiet, and what decord
itself writes while it is called goes to the ``videocolor.decord`` logger at DEBUG.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

_DECORD = logging.getLogger("videocolor.decord")


@contextlib.contextmanager
def decord_messages() -> Iterator[None]:
    """Capture what native code writes to file descriptor 2 meanwhile (decord) and log it at DEBUG.

    Only the calling thread's native calls should run inside: everything written to fd 2 meanwhile is captured.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    _DECORD.debug("%s", line.strip())
