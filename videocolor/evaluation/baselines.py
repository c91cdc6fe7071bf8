"""Reference-free and classic baselines that our models are measured against."""

from __future__ import annotations

import torch

from ..ops.color import rgb_to_lab


def luminance_transfer(lightness: torch.Tensor, reference_rgb: torch.Tensor, bins: int = 32) -> torch.Tensor:
    """Luminance-binned color transfer: each pixel takes the mean a/b of reference pixels of similar lightness.

    Args:
        lightness: ``(B, 1, H, W)`` Lab L in [0, 100].
        reference_rgb: ``(3, h, w)`` RGB in [0, 1].
        bins: number of lightness bins; empty bins borrow from the nearest filled one.

    Returns:
        ``(B, 2, H, W)`` Lab a/b.
    """
    lab = rgb_to_lab(reference_rgb[None].to(lightness))[0].flatten(1)
    index = (lab[0] / 100 * bins).long().clamp(0, bins - 1)
    counts = torch.zeros(bins, dtype=lab.dtype, device=lab.device).index_add_(0, index, torch.ones_like(lab[0]))
    sums = torch.zeros(bins, 2, dtype=lab.dtype, device=lab.device).index_add_(0, index, lab[1:].T)
    filled = torch.nonzero(counts > 0).flatten()
    nearest = filled[(torch.arange(bins, device=lab.device)[:, None] - filled[None]).abs().argmin(dim=1)]
    table = sums[nearest] / counts[nearest, None]
    target = (lightness[:, 0] / 100 * bins).long().clamp(0, bins - 1)
    return table[target].permute(0, 3, 1, 2)


def gray(lightness: torch.Tensor) -> torch.Tensor:
    """The trivial baseline: no chroma. ``(B, 1, H, W)`` -> ``(B, 2, H, W)`` zeros."""
    return torch.zeros(lightness.shape[0], 2, *lightness.shape[2:], dtype=lightness.dtype, device=lightness.device)
