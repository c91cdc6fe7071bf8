"""Every colorization model videocolor knows: adding one is a file like ``devc_card.py`` and a line below.

``config`` takes the model names and settings sections from here, ``weights`` the downloadable weights,
and ``models.build`` the builders and the order ``model = "auto"`` tries them in. Nothing here imports torch.
"""

from __future__ import annotations

from . import devc_card, exemplar_card
from .spec import ModelSpec

REGISTERED: tuple[ModelSpec, ...] = (
    exemplar_card.MODEL,
    devc_card.MODEL,
)
_BY_NAME = {spec.name: spec for spec in REGISTERED}


def names() -> tuple[str, ...]:
    """The registered model names, in registration order."""
    return tuple(_BY_NAME)


def get(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name`` (a registered name; ``KeyError`` otherwise)."""
    return _BY_NAME[name]


def downloadable() -> list[str]:
    """Names of the models whose weights ``videocolor weights`` can fetch."""
    return sorted(spec.name for spec in REGISTERED if spec.weights.downloadable)


def by_auto_priority() -> list[ModelSpec]:
    """The models in the order ``model = "auto"`` tries them: highest priority first."""
    return sorted(REGISTERED, key=lambda spec: -spec.auto_priority)
