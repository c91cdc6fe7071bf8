"""A shot colored from its colored keyframe: exact at the keyframe, carried along optical flow both ways.

The keyframe *is* a frame of the shot. There the output is the keyframe's own chroma at full resolution.
From there the chroma is carried frame by frame along the flow (forward in time after the keyframe,
backward before it) with a *certainty* that starts at 1 and drops to 0 wherever the flow is not trusted
(forward-backward check, lightness check: occlusions, new content); it does not fade by itself (a fade
of 1% a frame cost 0.11 dB over a real film, 3% a frame 0.2 dB). As the certainty drops, the frame's own
matching against the keyframe (the colorizer with the keyframe as its reference) takes over, carried
along the flow the way the temporal stage does.

The render streams frames forward, so the frames before the keyframe are done first: when the shot starts,
its frames up to the keyframe are decoded again and reduced to the work resolution (the last
``BACKWARD_FRAMES`` of them, so memory stays bounded: earlier ones are matched and carried forward like
any shot's), colored backward from the keyframe and kept, at the work resolution, until the forward
stream reaches them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.keyframes import film_lightness, load_keyframe
from ..io.decode import VideoSource
from ..models.base import Colorizer
from ..ops.color import rgb_to_lab
from ..ops.flow import FlowEstimator, carry_weight, warp
from ..records import Chroma, FrameBatch

BACKWARD_FRAMES = 250  # frames before the keyframe colored backward from it (10 s at 25 fps; 43 MB at a 256x112 work size)
# DIS preset of the propagation's flow: "medium" gained 0.07 dB over "ultrafast" (the temporal stage's) on a
# real film, for 4 ms more per frame pair at the work resolution, in keyframe shots only.
FLOW_PRESET = "medium"


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


class Propagation:
    """One shot's chroma from its keyframe; create it at the shot's first batch, then call :meth:`colorize` per batch.

    Args:
        colorizer: the render's colorizer (matching against the keyframe).
        keys: the shot's keyframes, sorted by pts (at least one). The first is propagated; each is exact at its frame,
            and the carried state starts again from it there.
        film: the film (the frames before the first keyframe are read again from it).
        first: the shot's first batch (its first frame starts the shot; ``lightness`` and ``small`` filled in).
        flow: a temporal stage used for its optical flow only (``propagation_flow``; not shared with another thread).
        small_lightness: the render's conversion of a decoded RGB frame ``(H, W, 3)`` to work-resolution
            Lab L ``(1, 1, h, w)`` on the colorizer's device (the same as the forward stream's).
        batch_size: frames per matching call in the backward pass.
    """

    def __init__(
        self,
        colorizer: Colorizer,
        keys: Sequence[KeyframeReference],
        film: str | Path,
        first: FrameBatch,
        flow: FlowEstimator,
        small_lightness: Callable[[np.ndarray], torch.Tensor],
        batch_size: int = 8,
    ) -> None:
        self.colorizer, self.key, self.flow = colorizer, keys[0], flow
        self._exact: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # pts -> the keyframe's ab (1, 2, H, W), its seed
        for key in keys:
            rgb = load_keyframe(key.path, tuple(first.lightness.shape[-2:]), lambda key=key: self._key_lightness(film, key.pts))
            key_ab = rgb_to_lab(rgb.to(colorizer.device)[None])[:, 1:]
            small_ab = F.interpolate(key_ab, size=first.small.shape[-2:], mode="area")
            self._exact[key.pts] = key_ab, torch.cat((small_ab, torch.ones_like(small_ab[:, :2])), 1)  # ab, confidence, certainty
        self.key_ab, self._seed = self._exact[self.key.pts]
        self._state: torch.Tensor | None = None
        self._previous: torch.Tensor | None = None
        self._before: dict[int, torch.Tensor] = {}
        if first.pts[0] < key.pts:
            self._backward(film, first.pts[0], batch_size, small_lightness)

    @staticmethod
    def _key_lightness(film: str | Path, pts: int) -> torch.Tensor | None:
        """The film's frame at ``pts`` (a keyframe's), as Lab L ``(1, H, W)`` (``None`` when it cannot be decoded)."""
        with VideoSource(film) as source:
            return next((film_lightness(rgb) for _, rgb in source.frames(pts, pts + 1)), None)

    @torch.inference_mode()
    def _backward(self, film: str | Path, start: int, batch_size: int, small_lightness: Callable[[np.ndarray], torch.Tensor]) -> None:
        frames: deque[tuple[int, torch.Tensor]] = deque(maxlen=BACKWARD_FRAMES + 1)
        with VideoSource(film) as source:
            for pts, rgb in source.frames(start, self.key.pts + 1):
                frames.append((pts, small_lightness(rgb)))
        if not frames or frames[-1][0] != self.key.pts:
            return  # the keyframe's own frame cannot be decoded: the shot is matched and carried forward only
        ordered = list(reversed(frames))  # the keyframe first, then back in time
        small = torch.cat([s for _, s in ordered])
        trust, backward = self.flow.estimate(small)
        state = self._seed
        for chunk in range(1, len(ordered), batch_size):
            ab, confidence = self.colorizer.colorize(small[chunk : chunk + batch_size], self.key.prepared)
            for i in range(len(ab)):
                j = chunk + i - 1
                state = self._step(state, trust[j : j + 1], backward[j : j + 1], ab[i : i + 1], confidence[i : i + 1])
                self._before[ordered[chunk + i][0]] = state[:, :3].half()

    @torch.inference_mode()
    def colorize(self, batch: FrameBatch) -> Chroma:
        """Chroma of the next batch of the shot at the work resolution, as ``colorize.predict_chroma`` gives, and
        for each keyframe in the batch its exact full-resolution ab (``Chroma.exact``)."""
        trust, backward = self.flow.estimate(batch.small, self._previous)
        carried = int(self._previous is not None)
        self._previous = batch.small[-1:]
        todo = [i for i, pts in enumerate(batch.pts) if pts not in self._before and pts not in self._exact]
        matched = self.colorizer.colorize(batch.small[todo], self.key.prepared) if todo else None
        outputs, exact = [], {}
        for i, pts in enumerate(batch.pts):
            if pts in self._exact:
                exact[i], state = self._exact[pts]
            elif pts in self._before:
                kept = self._before.pop(pts).to(self._seed.dtype)
                state = torch.cat((kept, torch.zeros_like(kept[:, :1])), 1)
            else:
                k = todo.index(i)
                ab, confidence = matched[0][k : k + 1], matched[1][k : k + 1]
                j = i - 1 + carried
                if self._state is None or j < 0:
                    state = torch.cat((ab, confidence, torch.zeros_like(confidence)), 1)
                else:
                    state = self._step(self._state, trust[j : j + 1], backward[j : j + 1], ab, confidence)
            self._state = state
            outputs.append(state)
        out = torch.cat(outputs)
        return Chroma(out[:, :2], out[:, 2:3].clamp(0, 1), exact)

    def _step(self, state: torch.Tensor, trust: torch.Tensor, flow: torch.Tensor, ab: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
        """The next frame's state ``(1, 4, h, w)`` (ab, confidence, certainty) from the last one carried along ``flow``."""
        carried_ab, carried_conf, certainty = warp(state, flow).split((2, 1, 1), 1)
        certainty = certainty * trust
        alpha = torch.maximum(certainty, carry_weight(trust, carried_conf, confidence))  # the temporal stage's, once the keyframe has faded
        return torch.cat((alpha * carried_ab + (1 - alpha) * ab, alpha * carried_conf + (1 - alpha) * confidence, certainty), 1)


def propagation_flow(device: torch.device) -> FlowEstimator:
    """The optical flow of keyframe propagation."""
    return FlowEstimator("dis", device, dis_preset=FLOW_PRESET)
