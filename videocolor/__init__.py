"""videocolor: exemplar-based colorization of grayscale film.

>>> import videocolor
>>> videocolor.colorize_video("film.mp4", ref_dir="refs/")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .config import Settings, load_settings
from .errors import DeviceError, InputError, OutputError, VideocolorError, WeightsError

if TYPE_CHECKING:
    from .api import RenderReport, colorize_image, colorize_video

_API = ("RenderReport", "colorize_image", "colorize_video")


def __getattr__(name: str) -> Any:
    """The API on first use: it imports torch (seconds), which ``videocolor --help`` and ``import videocolor`` skip."""
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "colorize_image",
    "colorize_video",
    "RenderReport",
    "Settings",
    "load_settings",
    "VideocolorError",
    "InputError",
    "OutputError",
    "DeviceError",
    "WeightsError",
]
