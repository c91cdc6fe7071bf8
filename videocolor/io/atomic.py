"""Writing a file so that it is either wholly the old one or wholly the new one, never half-written."""

from __future__ import annotations

import os
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
    tmp = path.with_name(f".{path.name}.videocolor-tmp")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
