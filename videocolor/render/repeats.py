"""Work reused across the frames of a shot: a frame that repeats the last one the model saw is not recomputed.

Static shots (a title card, a locked-off camera on a still scene) hand the model the same picture again and
again; x264 makes such frames almost free, so a colorizer that recomputes them is at its slowest, relative
to the codec, exactly there. A frame whose work-resolution lightness is within a small mean difference of
the last frame the model colorized (its anchor) takes the anchor's chroma instead. Comparing with the anchor,
not the previous frame, keeps a slow drift from accumulating: at most one tolerance of change goes unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# Mean |L difference| (Lab L units, 0-100) at the work resolution under which a frame counts as a repeat.
# Measured between consecutive frames: 0.0 in a generated static shot, 0.35-0.5 in a slow zoom, 0.8 and
# more in real street footage; so only true repeats and near-identical frames fall under it.
REPEAT_TOLERANCE = 0.2
# Largest |ab difference| under which a held frame's chroma counts as the same: float rounding of the temporal
# blend, a thousandth of one 8-bit code step (about 0.5 ab units).
HELD_CHROMA_TOLERANCE = 5e-4


class RepeatSkipper:
    """Runs a colorizer only on the frames of a shot that differ from the last one it colorized.

    Args:
        tolerance: mean absolute lightness difference (L units) below which a frame is a repeat.
    """

    def __init__(self, tolerance: float = REPEAT_TOLERANCE) -> None:
        self.tolerance = tolerance
        self.reset()

    def reset(self) -> None:
        """Forget the anchor: call at every cut."""
        self._anchor: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # L (1, h, w), ab, confidence

    def fresh(self, small: torch.Tensor) -> list[int]:
        """Indices of the frames of ``small`` ``(B, 1, h, w)`` (L in [0, 100]) that the model must see."""
        anchor = None if self._anchor is None else self._anchor[0]
        keep = []
        for i in range(small.shape[0]):
            if anchor is None or (small[i] - anchor).abs().mean().item() >= self.tolerance:
                keep.append(i)
                anchor = small[i]
        return keep

    def colorize(
        self, predict: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], small: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``predict(small[fresh])`` for the fresh frames; every repeat copies its anchor's ab and confidence.

        Returns ``ab`` ``(B, 2, h, w)`` and ``confidence`` ``(B, 1, h, w)``, as ``predict`` would for all of ``small``.
        """
        keep = self.fresh(small)
        if len(keep) == small.shape[0]:
            ab, confidence = predict(small)
        else:
            # Pool: the anchor from before this batch (if any), then the fresh frames; each frame takes its
            # anchor's entry. The first frame of a shot is always fresh, so the pool is never empty.
            pool = [] if self._anchor is None else [self._anchor[1:]]
            if keep:
                pool.append(predict(small[keep]))
            pool_ab, pool_conf = (torch.cat(parts) for parts in zip(*pool))
            offset = 0 if self._anchor is None else 1
            source, last = [], 0
            for i in range(small.shape[0]):
                if i in keep:
                    last = offset + keep.index(i)
                source.append(last)
            index = torch.tensor(source, device=pool_ab.device)
            ab, confidence = pool_ab[index], pool_conf[index]
        if keep:
            self._anchor = (small[keep[-1]], ab[keep[-1] : keep[-1] + 1], confidence[keep[-1] : keep[-1] + 1])
        return ab, confidence


class HeldFrame:
    """The last composed frame, given again for a frame that repeats it exactly.

    A held frame (a static shot, a freeze frame, animation drawn on twos) has the same full-resolution
    lightness, bit for bit, and, through ``RepeatSkipper`` and the temporal stage, the same chroma to float
    rounding: its picture is the last one, so the guided upsampling and the color conversion are skipped. A picture
    is whatever the composition made (an RGB array, or chroma planes for a kept luma plane).
    """

    def __init__(self) -> None:
        self._last: tuple[torch.Tensor, torch.Tensor, Any] | None = None

    def repeat_of(self, lightness: torch.Tensor, ab: torch.Tensor) -> Any | None:
        """The last picture if ``lightness`` (``(1, 1, H, W)``, or any tensor the picture is made from besides its chroma)
        and work-resolution ``ab`` ``(1, 2, h, w)`` repeat its own."""
        if self._last is None:
            return None
        last_lightness, last_ab, rgb = self._last
        if last_ab.shape != ab.shape or not torch.equal(last_lightness, lightness):
            return None
        return rgb if (last_ab - ab).abs().max().item() <= HELD_CHROMA_TOLERANCE else None

    def remember(self, lightness: torch.Tensor, ab: torch.Tensor, rgb: Any) -> None:
        """Keep a composed frame: its lightness, its chroma and the picture made of them."""
        self._last = (lightness, ab, rgb)
