"""Several references per shot: the shot colored against each, the results fused per pixel.

With a reference folder, retrieval ranks its pictures per shot; on real footage the top-ranked one is often
another scene whose colors are confidently wrong for part of the frame. Colored against each of its top K
references, a pixel gets K chromas, and keeps their median (per channel; the mean of the two middle ones for
an even K): where most references agree their color stands, a single reference's odd color is outvoted, and
where all disagree the middle one is the least extreme. A model that is not recurrent takes a
``models.base.FusedReference`` wherever it takes a reference (``models.base.Colorizer``).

Weighting each reference per pixel by its matching confidence (a softmax over the K best cosine similarities)
lost on real footage at every temperature tried, to the plain mean and more to the median: the best
similarity does not tell which reference is right (README, "Quality on real footage").
"""

from __future__ import annotations

import torch


def fuse(ab: torch.Tensor, confidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fuse K colorizations of the same frames per pixel: their medians.

    Args:
        ab: ``(K, B, 2, h, w)`` chroma against each reference.
        confidence: ``(K, B, 1, h, w)`` in [0, 1], each reference's matching confidence.

    Returns:
        ``ab`` ``(B, 2, h, w)`` and ``confidence`` ``(B, 1, h, w)``: per pixel and channel, the median over K.
    """
    return _median(ab), _median(confidence)


def _median(values: torch.Tensor) -> torch.Tensor:
    # torch.median takes the lower middle value for an even count, and torch.quantile refuses inputs over 16M values.
    ordered = values.sort(dim=0).values
    k = len(values)
    return ordered[k // 2] if k % 2 else ordered[k // 2 - 1 : k // 2 + 1].mean(0)
