"""Error types of videocolor.

Every error carries a one-line message that names the file and the problem. Like PyAV's errors, each
inherits from the package base and from the matching builtin, so callers can catch either.
"""

from __future__ import annotations


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


def one_line(exc: BaseException) -> str:
    """An exception as one line: a videocolor error's own message, otherwise its type and first line."""
    if isinstance(exc, VideocolorError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
