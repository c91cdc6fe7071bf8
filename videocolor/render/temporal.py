"""Temporal smoothing of predicted chroma: optical flow carries the previous output forward within a shot.

Per-frame colorization flickers. For each frame, the previous *output* ab is warped onto it with the
backward flow (current -> previous) and blended with the new prediction. Where the flow is not trusted
(forward-backward check of Lai et al. 2018, a lightness check, outside the frame) the new frame's colors
are taken as they are, so new content and occlusions never inherit stale color; elsewhere the blend
weight leans on whichever of the two is more confident. State is one frame, so memory is bounded and the
stage streams; the pipeline calls :meth:`TemporalSmoother.reset` at every cut.

With ``carry`` the model may skip frames: a frame whose flow from the previous one is trusted over
``CARRY_TRUST`` of its pixels is not colorized at all but carried along the flow from the previous output
(``plan`` says which), at most ``carry`` frames in a row, so the model still sees every ``carry + 1``-th frame
and any frame where the flow loses track (a missed cut, new content, fast motion).

Flow runs at the work resolution on the Lab lightness only (``ops.flow.FlowEstimator``): OpenCV DIS on the
CPU (default, no weights) or torchvision's RAFT on the colorizer's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..ops.flow import CARRY_WEIGHT, FlowEstimator, Motion, carry_weight, warp

# The share of a frame's pixels whose flow must be trusted for it to be carried, not predicted. Measured on
# ../shared/eval (scripts/evaluate.py --ablation, carry 2): 0.9, 0.75 and 0.6 all within 0.05 dB of the model on
# every frame; 13% of the real street film's frames pass at 0.9, about 80% at 0.6.
CARRY_TRUST = 0.6


class TemporalSmoother:
    """Streaming, batched ab smoothing along optical flow; state is carried across calls within a shot.

    Args:
        flow: the optical flow and its trust maps (``ops.flow.FlowEstimator``); DIS on the CPU when ``None``.
            The blend runs on its device; inputs may live on any device, outputs stay on theirs.
        max_weight: the most the carried-over color can weigh against the new prediction, in [0, 1).
        carry: the most frames in a row carried along the flow instead of colorized (0: the model colors all).
    """

    def __init__(self, flow: FlowEstimator | None = None, *, max_weight: float = CARRY_WEIGHT, carry: int = 0) -> None:
        if not 0 <= max_weight < 1:
            raise ValueError(f"max_weight must be in [0, 1), got {max_weight}")
        if carry < 0:
            raise ValueError(f"carry must be 0 or more, got {carry}")
        self.carry = carry
        self.flow = flow if flow is not None else FlowEstimator()
        self.device = self.flow.device
        self.max_weight = max_weight
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: call at every cut."""
        self._lightness: torch.Tensor | None = None
        self._ab: torch.Tensor | None = None
        self._confidence: torch.Tensor | None = None
        self._carried = 0  # frames carried since the last one the model colorized

    def plan(self, lightness: torch.Tensor, motion: Motion | None = None) -> tuple[list[bool], Motion]:
        """Which frames of the next batch the model must colorize (``True``) and which ``blend`` can carry along
        the flow, with the batch's motion (estimated here unless given). Takes ``lightness`` ``(B, 1, h, w)``."""
        motion = motion if motion is not None else self.flow.estimate(lightness, self._lightness)
        trust, carried_over = motion[0], int(self._lightness is not None)
        predicted, run = [], self._carried
        for i in range(len(lightness)):
            j = i - 1 + carried_over  # the pair (previous, this frame) in ``motion``; -1 at a shot's first frame
            carried = j >= 0 and run < self.carry and float(trust[j].mean()) >= CARRY_TRUST
            run = run + 1 if carried else 0
            predicted.append(not carried)
        return predicted, motion

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
        return self.blend(lightness, ab, confidence, motion)[0]

    def blend(
        self,
        lightness: torch.Tensor,
        ab: torch.Tensor,
        confidence: torch.Tensor,
        motion: Motion | None = None,
        predicted: Sequence[bool] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``smooth``, for a batch whose frames the model colorized only where ``predicted`` (``plan``) says:
        ``ab`` ``(P, 2, h, w)`` and ``confidence`` ``(P, 1, h, w)`` hold those ``P`` frames, in order; each other
        frame is the previous output carried along the flow. Returns ab ``(B, 2, h, w)`` and confidence ``(B, 1, h, w)``.
        """
        predicted = [True] * len(ab) if predicted is None else list(predicted)
        self._check(lightness, ab, confidence, len(predicted))
        if sum(predicted) != len(ab):
            raise ValueError(f"predicted marks {sum(predicted)} of {len(predicted)} frames to be colorized; got {len(ab)} predictions")
        out_device, out_dtype = ab.device, ab.dtype
        dtype = torch.promote_types(ab.dtype, torch.float32)  # half is blended in float32; float64 stays exact
        lightness, ab, confidence = (x.to(self.device, dtype) for x in (lightness, ab, confidence))
        # Flow for every (previous, current) pair up front: it depends on lightness only, and DIS/RAFT
        # batch better than the frame-by-frame blend below.
        carried_over = int(self._lightness is not None)
        trust, backward = motion if motion is not None else self.flow.estimate(lightness, self._lightness)
        outputs, confidences, k = [], [], 0
        for i, fresh in enumerate(predicted):
            if self._ab is None and not fresh:
                raise ValueError("the first frame of a shot must be predicted")
            if fresh:
                new_ab, new_conf = ab[k : k + 1], confidence[k : k + 1]
                k += 1
            if self._ab is None:
                out, conf = new_ab, new_conf
            else:
                j = i - 1 + carried_over
                flow = backward[j : j + 1]
                carried, carried_conf = warp(torch.cat((self._ab, self._confidence), 1), flow).split((2, 1), 1)
                if fresh:
                    alpha = carry_weight(trust[j : j + 1], carried_conf, new_conf, self.max_weight)
                    out = alpha * carried + (1 - alpha) * new_ab
                    conf = alpha * carried_conf + (1 - alpha) * new_conf
                else:
                    out, conf = carried, carried_conf
            self._carried = 0 if fresh else self._carried + 1
            self._ab, self._confidence = out, conf
            outputs.append(out)
            confidences.append(conf)
        self._lightness = lightness[-1:]
        return torch.cat(outputs).to(out_device, out_dtype), torch.cat(confidences).to(out_device, out_dtype)

    def _check(self, lightness: torch.Tensor, ab: torch.Tensor, confidence: torch.Tensor, b: int) -> None:
        """Shapes: ``lightness`` ``(b, 1, h, w)``; ``ab`` ``(P, 2, h, w)`` and ``confidence`` ``(P, 1, h, w)``."""
        if ab.dim() != 4 or ab.shape[1] != 2:
            raise ValueError(f"ab must have shape (B, 2, h, w), got {tuple(ab.shape)}")
        p, _, h, w = ab.shape
        for name, x, n in (("lightness", lightness, b), ("confidence", confidence, p)):
            if tuple(x.shape) != (n, 1, h, w):
                raise ValueError(f"{name} must have shape {(n, 1, h, w)} to match ab, got {tuple(x.shape)}")
        if self._lightness is not None and self._lightness.shape[-2:] != (h, w):
            raise ValueError(f"frame size changed within a shot from {tuple(self._lightness.shape[-2:])} to {(h, w)}: call reset()")


def make_smoother(mode: str, device: torch.device | str = "cpu", carry: int = 0) -> TemporalSmoother | None:
    """The smoother for a ``--temporal`` mode: ``off`` -> None, ``dis`` or ``raft`` -> a :class:`TemporalSmoother`
    that carries at most ``carry`` frames in a row along the flow."""
    if mode == "off":
        return None
    return TemporalSmoother(FlowEstimator(mode, device), carry=carry)
