"""FFmpeg's and decord's own messages, routed through Python logging instead of leaking onto stderr.

FFmpeg reports every damaged macroblock and demuxer resync; decord (with its own copy of FFmpeg) prints its
warnings ("frames corrupted", with the path of its build machine) straight to file descriptor 2.
videocolor counts and reports the damage itself, one line per film, so these messages are details: they
go to the ``videocolor.ffmpeg`` and ``videocolor.decord`` loggers at DEBUG, shown only when ``videocolor``
logs at DEBUG. From PyAV only FFmpeg's errors are taken: its Python log callback takes the GIL for every
message it passes, which costs lock contention (and has deadlocked) under threaded decoding, and FFmpeg's
warnings are many.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

import av
import av.logging

_FFMPEG = logging.getLogger("videocolor.ffmpeg")
_DECORD = logging.getLogger("videocolor.decord")


class _ToDebug(logging.Handler):
    """Re-issue PyAV's ``libav.*`` records on ``videocolor.ffmpeg`` at DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        _FFMPEG.debug("[%s] %s", record.name.removeprefix("libav."), record.getMessage().strip())


def route_ffmpeg_logs() -> None:
    """Send FFmpeg's error messages to ``videocolor.ffmpeg`` at DEBUG (process-wide, idempotent)."""
    av.logging.set_level(av.logging.ERROR)  # PyAV's callback: FFmpeg -> Python loggers "libav.<component>"
    libav = logging.getLogger("libav")
    if not any(isinstance(h, _ToDebug) for h in libav.handlers):
        libav.addHandler(_ToDebug())
    libav.propagate = False


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
