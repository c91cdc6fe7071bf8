"""videocolor's own folders: its home (installed weights) and the cache inside it (reference indexes)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def home_dir() -> Path:
    """``$VIDEOCOLOR_HOME`` when set, else the user cache folder (e.g. ``~/.cache/videocolor``)."""
    home = os.environ.get("VIDEOCOLOR_HOME")
    return Path(home).expanduser() if home else Path(platformdirs.user_cache_dir()) / "videocolor"


def cache_dir() -> Path:
    """Where derived data that can be rebuilt goes (reference indexes of read-only folders): ``home/cache``."""
    return home_dir() / "cache"
