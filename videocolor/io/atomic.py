"""Writing a file so that it is either wholly the old one or wholly the new one, never half-written."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError

NOT_A_FILE = "not a regular file (a device, FIFO or socket); outputs are written beside it and renamed over it, which would replace it"


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to a temporary file beside ``path``, then rename it over ``path``.

    Raises ``OutputError`` naming ``path`` when the folder is missing or not writable, or when ``path`` is not a
    regular file (``/dev/null``, a FIFO: the rename would replace the device itself); ``path`` is then untouched.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise OutputError(f"{path}: {NOT_A_FILE}")
    tmp = None
    try:  # a temporary name of its own: two processes writing the same path never write into one file
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".videocolor-tmp", dir=path.parent)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 -> what a plain open() would give
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path


def _read_umask() -> int:
    """The process's umask (read by setting it and back: at import, before any thread could create a file meanwhile)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextmanager
def exclusive(lock: Path, busy: str) -> Iterator[None]:
    """Hold the file ``lock`` (made if missing; its folder must exist) for this process while the block runs: another
    process asking for it meanwhile gets ``OutputError(busy)`` at once. An advisory ``flock``, released by the
    kernel even when the process is killed."""
    try:
        handle = open(lock, "a+b")  # noqa: SIM115 (held open for the lock's lifetime)
    except OSError as exc:
        raise OutputError(f"{lock}: cannot make the lock file ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise OutputError(busy) from None
    try:
        yield
    finally:
        handle.close()
