"""Temporal smoothing of predicted chroma: optical flow carries the previous output forward within a shot.

Per-frame colorization flickers. For each frame, the previous *output* ab is warped onto it with the
backward flow (current -> previous) and blended with the new prediction. Where the flow is not trusted
(forward-backward check of Lai et al. 2018, a lightness check, outside the frame) the new frame's colors
are taken as they are, so new content and occlusions never inherit stale color; elsewhere the blend
weight leans on whichever of the two is more confident. State is one frame, so memory is bounded and the
stage streams; the pipeline calls :meth:`TemporalSmoother.reset` at every cut.

Flow runs at the work resolution on the Lab lightness only (``ops.flow.FlowEstimator``): OpenCV DIS on the
CPU (default, no weights) or torchvision's RAFT on the colorizer's device.
"""

from __future__ import annotations

import torch

from ..ops.flow import CARRY_WEIGHT, FlowEstimator, Motion, carry_weight, warp


class TemporalSmoother:
    """Streaming, batched ab smoothing along optical flow; state is carried across calls within a shot.

    Args:
        flow: the optical flow and its trust maps (``ops.flow.FlowEstimator``); DIS on the CPU when ``None``.
            The blend runs on its device; inputs may live on any device, outputs stay on theirs.
        max_weight: the most the carried-over color can weigh against the new prediction, in [0, 1).
    """

    def __init__(self, flow: FlowEstimator | None = None, *, max_weight: float = CARRY_WEIGHT) -> None:
        if not 0 <= max_weight < 1:
            raise ValueError(f"max_weight must be in [0, 1), got {max_weight}")
        self.flow = flow if flow is not None else FlowEstimator()
        self.device = self.flow.device
        self.max_weight = max_weight
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: call at every cut."""
        self._lightness: torch.Tensor | None = None
        self._ab: torch.Tensor | None = None
        self._confidence: torch.Tensor | None = None

    def smooth(
        self, lightness: torch.Tensor, ab: torch.Tensor, confidence: torch.Tensor, motion: Motion | None = None
    ) -> torch.Tensor:
        """Smooth a batch of consecutive frames of one shot, continuing from the previous call.

        Args:
            lightness: ``(B, 1, h, w)`` Lab L in [0, 100] at the work resolution.
            ab: ``(B, 2, h, w)`` predicted Lab a/b.
            confidence: ``(B, 1, h, w)`` the colorizer's confidence in [0, 1].
            motion: what ``flow.estimate(lightness, previous frame of the shot)`` returned, when computed ahead;
                estimated here otherwise.

        Returns:
            ``(B, 2, h, w)`` smoothed ab, on ``ab``'s device and dtype. The first frame after
            :meth:`reset` is returned unchanged.
        """
        self._check(lightness, ab, confidence)
        out_device, out_dtype = ab.device, ab.dtype
        dtype = torch.promote_types(ab.dtype, torch.float32)  # half is blended in float32; float64 stays exact
        lightness, ab, confidence = (x.to(self.device, dtype) for x in (lightness, ab, confidence))
        # Flow for every (previous, current) pair up front: it depends on lightness only, and DIS/RAFT
        # batch better than the frame-by-frame blend below.
        carried_over = int(self._lightness is not None)
        trust, backward = motion if motion is not None else self.flow.estimate(lightness, self._lightness)
        outputs = []
        for i in range(len(ab)):
            new_ab, new_conf = ab[i : i + 1], confidence[i : i + 1]
            if self._ab is None:
                out, conf = new_ab, new_conf
            else:
                j = i - 1 + carried_over
                flow = backward[j : j + 1]
                carried, carried_conf = warp(torch.cat((self._ab, self._confidence), 1), flow).split((2, 1), 1)
                alpha = carry_weight(trust[j : j + 1], carried_conf, new_conf, self.max_weight)
                out = alpha * carried + (1 - alpha) * new_ab
                conf = alpha * carried_conf + (1 - alpha) * new_conf
            self._ab, self._confidence = out, conf
            outputs.append(out)
        self._lightness = lightness[-1:]
        return torch.cat(outputs).to(out_device, out_dtype)

    def _check(self, lightness: torch.Tensor, ab: torch.Tensor, confidence: torch.Tensor) -> None:
        if ab.dim() != 4 or ab.shape[1] != 2:
            raise ValueError(f"ab must have shape (B, 2, h, w), got {tuple(ab.shape)}")
        b, _, h, w = ab.shape
        for name, x in (("lightness", lightness), ("confidence", confidence)):
            if tuple(x.shape) != (b, 1, h, w):
                raise ValueError(f"{name} must have shape {(b, 1, h, w)} to match ab, got {tuple(x.shape)}")
        if self._lightness is not None and self._lightness.shape[-2:] != (h, w):
            raise ValueError(f"frame size changed within a shot from {tuple(self._lightness.shape[-2:])} to {(h, w)}: call reset()")


def make_smoother(mode: str, device: torch.device | str = "cpu") -> TemporalSmoother | None:
    """The smoother for a ``--temporal`` mode: ``off`` -> None, ``dis`` or ``raft`` -> a :class:`TemporalSmoother`."""
    if mode == "off":
        return None
    return TemporalSmoother(FlowEstimator(mode, device))
