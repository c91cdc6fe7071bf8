"""videocolor: exemplar-based colorization of grayscale film.

>>> import videocolor
>>> videocolor.colorize_video("film.mp4", ref_dir="refs/")  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import colorize_image, colorize_video  # noqa: E402
from .config import Settings, load_settings  # noqa: E402
from .errors import DeviceError, InputError, OutputError, VideocolorError, WeightsError  # noqa: E402

__all__ = [
    "__version__",
    "colorize_image",
    "colorize_video",
    "Settings",
    "load_settings",
    "VideocolorError",
    "InputError",
    "OutputError",
    "DeviceError",
    "WeightsError",
]
