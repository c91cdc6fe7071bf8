"""From settings to a ready colorizer: the device, the model ``auto`` stands for, and the registry's builder."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import torch

from ..errors import DeviceError
from . import registry
from .base import Colorizer
from .weights import is_installed, require_installed

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
    """``auto`` -> the registered model of highest ``auto_priority`` whose weights are present."""
    if name != "auto":
        return name
    return next(spec.name for spec in registry.by_auto_priority() if is_installed(spec.name))


class ModelChoice(Protocol):
    """What ``build_colorizer`` reads of the settings (``config.Settings`` is one): the model's name, ``auto``
    included, and each model's settings section. A protocol, so the models never import the settings above them."""

    model: str

    def section(self, name: str) -> Any: ...


def build_colorizer(settings: ModelChoice, device: torch.device) -> Colorizer:
    """The colorizer ``settings.model`` names, with its settings section, on ``device``, ready for inference."""
    name = resolve_model_name(settings.model)
    if settings.model == "auto":
        log.info("model: %s (auto)", name)
    spec = registry.get(name)
    return spec.build(settings.section(name), device, require_installed(name).files)
