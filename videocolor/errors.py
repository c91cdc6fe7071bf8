"""Error types of videocolor.

Every error carries a one-line message that names the file and the problem. Like PyAV's errors, each
inherits from the package base and from the matching builtin, so callers can catch either.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class VideocolorError(Exception):
    """Base of every error videocolor raises on purpose."""


class InputError(VideocolorError, ValueError):
    """An input file (film, reference, config, override file) is missing, unreadable or invalid."""


class OutputError(VideocolorError, OSError):
    """The output path cannot be written (exists, is the input, folder missing)."""


class DeviceError(VideocolorError, RuntimeError):
    """The requested compute device is unknown or not available."""


class WeightsError(VideocolorError, RuntimeError):
    """Model weights are missing, corrupt, or cannot be fetched."""


INTERRUPTED = "videocolor: interrupted; no output was written"  # what Ctrl-C prints, at any moment (exit 130)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C while heavy modules import (or a worker process is spawned); raise it as ``KeyboardInterrupt``
    once they are in.

    A ``KeyboardInterrupt`` raised in the middle of an import can leave a module half initialised (a
    library's fallback ``except`` swallowed it, and numpy was left without ``add``: a traceback later, or a
    render that ignored the Ctrl-C), or be raised inside code torch runs through ``PyRun_String``, after
    which CPython 3.11 ends the process by SIGINT at exit although the interrupt was handled. One raised while
    ``multiprocessing`` hands a spawned worker its start-up data leaves the worker to die on half of it, with a
    traceback on the terminal. Outside the
    main thread (where Python delivers no signals), or where Ctrl-C is ignored (``nohup``, a background job),
    it holds nothing.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def one_line(exc: BaseException) -> str:
    """An exception as one line: a videocolor error's own message, otherwise its type and first line."""
    if isinstance(exc, VideocolorError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
