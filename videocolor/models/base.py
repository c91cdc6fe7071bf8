"""The contract every colorization model fulfils, so the pipeline can drive any of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch


class Colorizer(Protocol):
    """A model that predicts Lab chroma for gray frames from a color reference.

    The pipeline calls, per shot: ``prepare_reference`` once, ``reset`` at the shot's first frame, then
    ``colorize`` on consecutive batches of that shot in order (models with recurrent state, like DEVC,
    carry it from one call to the next until ``reset``).
    """

    name: str
    device: torch.device
    recurrent: bool  # carries state from one ``colorize`` call to the next: takes one reference per shot, never fused

    def work_shape(self, height: int, width: int) -> tuple[int, int]:
        """The (h, w) at which this model wants frames of a ``height`` x ``width`` film."""
        ...

    def prepare_reference(self, rgb: torch.Tensor) -> Any:
        """Precompute what the model needs of a reference: ``rgb`` ``(3, H, W)`` in [0, 1], any size."""
        ...

    def reset(self) -> None:
        """Forget recurrent state: the next ``colorize`` call starts a new shot."""
        ...

    def colorize(self, lightness: torch.Tensor, reference: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict chroma.

        Args:
            lightness: ``(B, 1, h, w)`` Lab L in [0, 100] at ``work_shape``, on ``self.device``.
            reference: the object ``prepare_reference`` returned, or for a model that is not ``recurrent`` a
                ``FusedReference`` of several such objects (colored against each, fused per pixel).

        Returns:
            ``ab`` ``(B, 2, h, w)`` Lab a/b in about [-110, 110], and ``confidence`` ``(B, 1, h, w)`` in [0, 1].
        """
        ...


@dataclass(frozen=True)
class FusedReference:
    """The prepared references of one shot (what ``Colorizer.prepare_reference`` returned for each), best ranked first."""

    references: tuple[Any, ...]
