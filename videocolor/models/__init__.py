"""Colorization models, one file per architecture (like torchvision.models).

- ``exemplar``: training-free dense matching on the embedded EfficientNet-Lite0 backbone (no download).
- ``devc``: the paper's network (Zhang et al. 2019), official checkpoints via ``videocolor weights``.
"""

from __future__ import annotations

import logging

import torch

from ..config import Settings
from ..errors import DeviceError
from .base import Colorizer

log = logging.getLogger("videocolor")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is an error, not a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} asked for, but no CUDA GPU is available; use --device cpu or auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} does not exist: {torch.cuda.device_count()} GPU(s) present")
        return device
    raise DeviceError(f"unknown device {name!r}: choose auto, cpu, cuda or cuda:N")


def resolve_model_name(name: str) -> str:
    """``auto`` -> ``devc`` when its official weights are installed, else ``exemplar``."""
    if name != "auto":
        return name
    from ..weights import is_installed

    return "devc" if is_installed("devc") else "exemplar"


def build_colorizer(settings: Settings, device: torch.device) -> Colorizer:
    """The colorizer ``settings.model`` names (``auto``, ``exemplar`` or ``devc``) on ``device``, ready for inference."""
    model = settings.model
    name = resolve_model_name(model)
    if model == "auto":
        log.info("model: %s (auto)", name)
    if name == "devc":
        from .devc import DEVCColorizer

        return DEVCColorizer.from_installed(device)
    from .exemplar import ExemplarColorizer

    return ExemplarColorizer(
        device,
        work_size=settings.work_size,
        temperature=settings.temperature,
        grid_stride=settings.match_stride,
        reference_stride=settings.reference_stride,
    )


__all__ = ["Colorizer", "build_colorizer", "resolve_device", "resolve_model_name"]
