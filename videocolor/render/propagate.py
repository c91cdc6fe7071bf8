"""A shot colored from its colored keyframes: exact at each keyframe, carried along optical flow both ways.

A keyframe *is* a frame of the shot. There the output is the keyframe's own chroma at full resolution. Between
keyframes each frame is reached from both sides: forward in time from the keyframe before it and backward from
the one after it (before the first keyframe backward only, after the last forward only). Each side carries
chroma with a *certainty* that starts at 1 and drops to 0 wherever the flow is not trusted (forward-backward
check, lightness check: occlusions, new content); it does not fade by itself (a fade of 1% a frame cost 0.11 dB
over a real film, 3% a frame 0.2 dB). Each side also looks at its keyframe *directly*: the optical flow from the
keyframe to the frame, where trusted, gives the keyframe's chroma there without the blur of many chained warps
(+0.17 dB over the street film, one keyframe per shot). The two sides are blended per pixel by certainty and by
nearness: at a third of the way from one keyframe to the next, the nearer one weighs two thirds. Where neither side
is certain, the frame's own matching against the keyframe (the colorizer with the keyframe as its reference) takes
over, carried along the flow the way the temporal stage does. All of it happens on a grid finer than the model's
work resolution (``fine_shape``: the frames' own lightness resolution, at most ``FINE_SIDE``), so the colors carried
keep the keyframe's detail; each frame leaves with its chroma at its full (or chroma planes') resolution.

The render streams frames forward, so the backward side of a stretch is done first: when the stream enters the
stretch before a keyframe (at the shot's start, then at each keyframe), its frames up to that keyframe are decoded
again, reduced to the propagation's grid (the last ``BACKWARD_FRAMES`` of them, so memory stays bounded: earlier ones
get the forward side only), colored backward from the keyframe and kept, on that grid, until the forward
stream reaches them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..analysis.keyframes import film_lightness, load_keyframe
from ..io.decode import VideoSource
from ..models.base import Colorizer
from ..ops.color import frames_to_lightness, rgb_to_lab
from ..ops.flow import FlowEstimator, carry_weight, warp
from ..ops.upsample import guided_upsample
from ..records import Chroma, FrameBatch
from .colorize import work_lightness

BACKWARD_FRAMES = 250  # frames before a keyframe colored backward from it (10 s at 25 fps; 295 MB on a 512x288 grid)
# DIS preset of the propagation's flow: "medium" gained 0.07 dB over "ultrafast" (the temporal stage's) on a
# real film, for 4 ms more per frame pair at the work resolution, in keyframe shots only.
FLOW_PRESET = "medium"
# Long side of the grid chroma is carried on (at most the frames' own; the chroma planes' with the plane composition).
# The model's work resolution (256) caps a shot the camera keeps in view: the true chroma of a real street shot
# brought down to it and back up along the edges scores 38.7 dB, at 512 41.6. Carried on the chroma planes' grid
# (320x136), one keyframe per shot: street film 37.34 -> 37.75 dB, garden 31.27 -> 31.47 (plain references: 36.50, 31.04).
FINE_SIDE = 512
_EPS = 1e-6


@dataclass(frozen=True)
class KeyframeReference:
    """A colorist's keyframe as a shot's reference.

    Attributes:
        prepared: what the colorizer's ``prepare_reference`` made of the keyframe (for matching).
        path: the keyframe picture.
        pts: the pts of the film frame it shows.
    """

    prepared: Any
    path: Path
    pts: int


@dataclass
class _Key:
    """A keyframe as the propagation uses it: ``exact`` ab ``(1, 2, H, W)`` at the frames' size, ``seed`` its state
    ``(1, 4, h, w)`` on the propagation's grid (``fine_shape``: ab, confidence 1, certainty 1), ``fine`` its frame's
    Lab L ``(1, 1, h, w)`` there once known (``None`` before)."""

    reference: KeyframeReference
    exact: torch.Tensor
    seed: torch.Tensor
    fine: torch.Tensor | None = None


class Propagation:
    """One shot's chroma from its keyframes; create it at the shot's first batch, then call :meth:`colorize` per batch.

    Args:
        colorizer: the render's colorizer (matching against the keyframes).
        keys: the shot's keyframes, at least one (sorted here by pts).
        film: the film (the frames before each keyframe are read again from it).
        first: the shot's first batch (its first frame starts the shot; ``lightness`` and ``small`` filled in).
        flow: a temporal stage used for its optical flow only (``propagation_flow``; not shared with another thread).
        batch_size: frames per matching call in the backward pass.
    """

    def __init__(
        self,
        colorizer: Colorizer,
        keys: Sequence[KeyframeReference],
        film: str | Path,
        first: FrameBatch,
        flow: FlowEstimator,
        batch_size: int = 8,
    ) -> None:
        self.colorizer, self.flow, self.film, self._batch_size = colorizer, flow, film, batch_size
        self._size = tuple(first.lightness.shape[-2:])
        self._fine = fine_shape(self._size)
        self.keys = [self._load(key, first) for key in sorted(keys, key=lambda k: k.pts)]
        self._next = 0  # the first keyframe the forward stream has not reached
        self._state: torch.Tensor | None = None  # the forward side at the last frame: ab, confidence, certainty
        self._previous: torch.Tensor | None = None
        self._before: dict[int, torch.Tensor] = {}  # pts -> the backward side there (ab, confidence, certainty), half
        self._backward(0, first.pts[0])

    def _load(self, key: KeyframeReference, first: FrameBatch) -> _Key:
        rgb = load_keyframe(key.path, self._size, lambda: self._decoded_lightness(key.pts)).to(self.colorizer.device)
        exact = rgb_to_lab(rgb[None])[:, 1:]  # (1, 2, H, W)
        fine_ab = F.interpolate(exact, size=self._fine, mode="area")
        return _Key(key, exact, torch.cat((fine_ab, torch.ones_like(fine_ab[:, :2])), 1))

    def _decoded_lightness(self, pts: int) -> torch.Tensor | None:
        """The film's frame ``pts`` as Lab L ``(1, H, W)`` (``None`` when it cannot be decoded)."""
        with VideoSource(self.film) as source:
            return next((film_lightness(rgb) for _, rgb in source.frames(pts, pts + 1)), None)

    @torch.inference_mode()
    def _backward(self, index: int, start: int) -> None:
        """The backward side of the frames from pts ``start`` up to keyframe ``index`` (if any), into ``_before``."""
        if index >= len(self.keys):
            return
        key = self.keys[index]
        frames: deque[tuple[int, torch.Tensor, torch.Tensor]] = deque(maxlen=BACKWARD_FRAMES + 1)
        with VideoSource(self.film) as source:
            for pts, rgb in source.frames(start, key.reference.pts + 1):
                lightness = frames_to_lightness([rgb], self.colorizer.device)
                frames.append((pts, F.interpolate(lightness, size=self._fine, mode="area"), work_lightness(self.colorizer, lightness)))
        if not frames or frames[-1][0] != key.reference.pts:
            return  # the keyframe's own frame cannot be decoded: no backward side before it
        ordered = list(reversed(frames))  # the keyframe first, then back in time
        fine, small = (torch.cat(column) for column in list(zip(*ordered))[1:])
        key.fine = fine[:1]
        trust, backward = self.flow.estimate(fine)
        state = key.seed
        for chunk in range(1, len(ordered), self._batch_size):
            part = slice(chunk, chunk + self._batch_size)
            ab, confidence = self._matched(small[part], fine[part], key)
            direct = self._direct(key, fine[part])
            for i in range(len(ab)):
                j = chunk + i - 1
                carried = self._carried(state, trust[j : j + 1], backward[j : j + 1], tuple(d[i : i + 1] for d in direct))
                state = _blend(carried, None, ab[i : i + 1], confidence[i : i + 1], trust[j : j + 1], 1.0)
                self._before[ordered[chunk + i][0]] = state.half()

    def _matched(self, small: torch.Tensor, fine: torch.Tensor, key: _Key) -> tuple[torch.Tensor, torch.Tensor]:
        """The colorizer's ab ``(B, 2, h, w)`` and confidence ``(B, 1, h, w)`` for frames of work-resolution lightness
        ``small`` against ``key``, brought to the propagation's grid (``fine``: the frames' lightness there)."""
        ab, confidence = self.colorizer.colorize(small, key.reference.prepared)
        if ab.shape[-2:] == fine.shape[-2:]:
            return ab, confidence
        return guided_upsample(ab, small, fine), F.interpolate(confidence, size=fine.shape[-2:], mode="bilinear", align_corners=False)

    def _direct(self, key: _Key, fine: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Where the flow from ``key``'s frame straight to each frame of lightness ``fine`` ``(B, 1, h, w)`` (the
        propagation's grid) is trusted ``(B, 1, h, w)``, and the keyframe's state carried there along it ``(B, 4, h, w)``."""
        trust, flow = self.flow.validity(key.fine.to(fine).expand(len(fine), -1, -1, -1), fine)
        return trust, warp(key.seed.expand(len(fine), -1, -1, -1), flow)

    def _carried(self, state: torch.Tensor, trust: torch.Tensor, flow: torch.Tensor, direct: tuple | None) -> torch.Tensor:
        """``state`` ``(1, 4, h, w)`` carried along ``flow`` to the next frame, its certainty cut where ``trust`` is not,
        and replaced by the keyframe's own state where its ``direct`` flow is trusted."""
        carried = warp(state, flow)
        carried[:, 3:] *= trust
        if direct is not None:
            seen, keyed = direct
            carried = seen * keyed + (1 - seen) * carried
        return carried

    @torch.inference_mode()
    def colorize(self, batch: FrameBatch) -> Chroma:
        """Chroma of the next batch of the shot: at the work resolution (``Chroma.ab``, ``confidence``), and for every
        frame at the batch's lightness resolution (``Chroma.exact``): each keyframe's own ab, the others' from the
        propagation's grid, upsampled along the frame's edges."""
        fine = F.interpolate(batch.lightness, size=self._fine, mode="area") if self._fine != self._size else batch.lightness
        trust, backward = self.flow.estimate(fine, self._previous)
        carried_before = int(self._previous is not None)
        self._previous = fine[-1:]
        key_pts = {key.reference.pts: n for n, key in enumerate(self.keys)}
        for pts in batch.pts:  # the backward side of the stretches this batch enters (it may hold keyframes)
            if pts in key_pts:
                self._backward(key_pts[pts] + 1, pts + 1)
        todo = [i for i, pts in enumerate(batch.pts) if pts not in key_pts and pts not in self._before]
        nearest = self.keys[max(0, min(self._next, len(self.keys)) - 1)]
        matched = self._matched(batch.small[todo], fine[todo], nearest) if todo else None
        outputs, exact = [], {}
        for i, pts in enumerate(batch.pts):
            j = i - 1 + carried_before
            pair = (trust[j : j + 1], backward[j : j + 1]) if self._state is not None and j >= 0 else None
            if pts in key_pts:
                key = self.keys[key_pts[pts]]
                key.fine = fine[i : i + 1]
                state, exact[i] = key.seed, key.exact
                self._next = key_pts[pts] + 1
            else:
                behind = self.keys[self._next - 1] if self._next > 0 and self.keys[self._next - 1].fine is not None else None
                direct = self._direct(behind, fine[i : i + 1]) if behind is not None and pair is not None else None
                carried = self._carried(self._state, *pair, direct) if pair is not None else None
                ahead = self._before.pop(pts, None)
                if ahead is not None:
                    ab, confidence = ahead[:, :2].float(), ahead[:, 2:3].float()
                    state = _blend(carried, ahead[:, 3:].float(), ab, confidence, pair[0] if pair else None, self._nearness(pts))
                else:
                    k = todo.index(i)
                    state = _blend(carried, None, matched[0][k : k + 1], matched[1][k : k + 1], pair[0] if pair else None, 1.0)
                exact[i] = state[:, :2] if self._fine == self._size else guided_upsample(state[:, :2], fine[i : i + 1], batch.lightness[i : i + 1])
            self._state = state
            outputs.append(state)
        out = F.interpolate(torch.cat(outputs), size=batch.small.shape[-2:], mode="area")
        return Chroma(out[:, :2], out[:, 2:3].clamp(0, 1), exact)

    def _nearness(self, pts: int) -> float:
        """How near frame ``pts`` is to the keyframe before it, in [0, 1]: 1 at it (or with no keyframe after), 0 at
        the keyframe after it (or with none before)."""
        before = [k.reference.pts for k in self.keys if k.reference.pts < pts]
        after = [k.reference.pts for k in self.keys if k.reference.pts > pts]
        if not before or not after:
            return float(bool(before))
        return (after[0] - pts) / (after[0] - before[-1])


def _blend(
    carried: torch.Tensor | None, ahead_certainty: torch.Tensor | None, ab: torch.Tensor, confidence: torch.Tensor, trust: torch.Tensor | None,
    nearness: float,
) -> torch.Tensor:
    """A frame's state ``(1, 4, h, w)``: the side ``carried`` along the flow (``None`` at a shot's start) blended with
    the other, ``ab`` and ``confidence`` (the side ahead, of certainty ``ahead_certainty``, or the frame's matching when
    ``None``), per pixel: by certainty and ``nearness`` (of the carried side's keyframe) where some keyframe is
    certain, else as the temporal stage carries colors (``carry_weight``). The matching's chroma is weighed by its
    confidence first: where no keyframe is certain, the content is new to the shot and a keyframe of the same shot
    has little to say about it (a passing white van took the orange of a sign; measured, one keyframe per shot:
    +0.26 dB over the street film, +0.14 over the garden one, the dips of 0.1 dB in the shots without new content)."""
    if ahead_certainty is None:  # the frame's matching: new content, whose colors a keyframe of the same shot does not show
        ab = ab * confidence
    if carried is None:
        certainty = torch.zeros_like(confidence) if ahead_certainty is None else ahead_certainty
        return torch.cat((ab, confidence, certainty), 1)
    carried_ab, carried_conf, behind = carried.split((2, 1, 1), 1)
    ahead = torch.zeros_like(behind) if ahead_certainty is None else ahead_certainty
    known = torch.maximum(behind, ahead)
    weight_behind, weight_ahead = behind * nearness, ahead * (1 - nearness)
    by_keys = torch.where(weight_behind + weight_ahead > _EPS, weight_behind / (weight_behind + weight_ahead + _EPS), behind)
    alpha = known * by_keys + (1 - known) * carry_weight(trust, carried_conf, confidence)
    return torch.cat((alpha * carried_ab + (1 - alpha) * ab, alpha * carried_conf + (1 - alpha) * confidence, known), 1)


def fine_shape(size: tuple[int, int]) -> tuple[int, int]:
    """``(h, w)`` of the grid the propagation carries chroma on, for frames whose lightness is ``size`` ``(H, W)``: the
    same, or at most ``FINE_SIDE`` on the long side (area-reduced)."""
    scale = min(1.0, FINE_SIDE / max(size))
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale))) if scale < 1 else tuple(size)


def propagation_flow(device: torch.device) -> FlowEstimator:
    """The optical flow of keyframe propagation."""
    return FlowEstimator("dis", device, dis_preset=FLOW_PRESET)
