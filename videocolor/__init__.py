"""videocolor: exemplar-based colorization of grayscale film.

>>> import videocolor
>>> videocolor.colorize_video("film.mp4", ref_dir="refs/")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import DeviceError, InputError, OutputError, VideocolorError, WeightsError

if TYPE_CHECKING:
    from .api import RenderReport, colorize_image, colorize_video
    from .config import Settings, load_settings

_API = ("RenderReport", "colorize_image", "colorize_video")
_CONFIG = ("Settings", "load_settings")


def __getattr__(name: str) -> Any:
    """The API and the settings on first use.

    The API imports torch (seconds) and the settings import PyAV: ``import videocolor`` stays instant, so the
    console script (``_console``) is in place to turn a Ctrl-C during start-up into one line.
    """
    if name in _API:
        from . import api

        return getattr(api, name)
    if name in _CONFIG:
        from . import config

        return getattr(config, name)
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
