"""Checks of input paths that the readers themselves make (``io.decode``) as well as ``checks``."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def require_file(path: str | Path, kind: str) -> Path:
    """``path`` as a ``Path`` if it is an existing file, else an ``InputError`` naming it (``kind``: "a video")."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not {kind}")
    return path
