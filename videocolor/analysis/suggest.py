"""Which frames a colorist should color: the analysis' keyframe of each shot, then frames where propagation loses track.

A render from colored keyframes carries each keyframe's chroma along the optical flow through its shot, with a
certainty that drops to 0 wherever the flow is not trusted (``render.propagate``). This module simulates that
cheaply: the film is decoded once at ``SUGGEST_WIDTH`` px, and per shot the trusted flow
(``FlowEstimator.validity_both_ways``) carries a certainty of 1 from each chosen keyframe forward and backward,
frame by frame, exactly as the propagation does. A frame's *coverage* is the fraction of it still certain from some
keyframe. The next keyframe of a shot is the candidate (the peaks of the shot's poor coverage, summed over about a
second around each frame) that adds the most coverage over the shot; its ``gain`` is that added coverage in frames'
worth of picture (0.5 over 40 frames gains 20). Shots are independent, so the best choices over the film are the
per-shot greedy choices merged by gain.

The premise, measured (``scripts/evaluate_keyframes.py FILM --coverage``): rendered from one true-color keyframe per
shot, a frame's simulated coverage ranks its PSNR with a Spearman correlation of 0.64 on street_bikes (frames under
0.25 coverage: 33.1 dB on average, over 0.75: 38.9 dB) and 0.72 on garden_tree (29.0 and 32.1 dB). Against evenly
spaced keyframes (``--curve``), the suggested ones gained 0.01-0.08 dB at 1.5-3 per shot on street_bikes; on
garden_tree (one shot) 0.30 dB with a second keyframe, -0.03 to -0.07 with a third to fifth.

>>> found = analyse("film.mp4")                                        # doctest: +SKIP
>>> suggest_keyframes("film.mp4", found.shots, found.keyframes, count=8)  # doctest: +SKIP
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io.analysis_reader import AnalysisReader
from ..io.sequence import FrameSequence
from ..ops.color import lightness_u8
from ..ops.flow import FlowEstimator, warp
from ..records import Shot
from ..timecode import Timecode
from .shots import DARK

# px: a keyframe's coverage at 128 px followed that at the render's 256 px within 0.01-0.08 over 120 frames of
# street_bikes, for about half the flow's time
SUGGEST_WIDTH = 128
# DIS preset of the simulated flow: the propagation's own (render.propagate.FLOW_PRESET; a test holds them equal)
FLOW_PRESET = "medium"
# Least gain (frames' worth of picture newly covered) of a suggestion beyond a shot's first, when no count is given:
# 0.2 s at 25 fps. Measured: a static shot's next frame gains 0, a slow pan's (0.2 widths in 40 frames) 2; a pan of
# two widths in 60 frames gains 15 and 10 with its next two frames, then under 3; street_bikes' frames showing 66-90%
# unseen picture gain 8-9, its next ones 2-5 (garden_tree's best: 3).
MIN_GAIN = 5.0
CAMERA_TRAVEL = 0.25  # the view moved this fraction of the frame width between keyframe and frame: "camera moved"
MAX_PER_SHOT = 8  # suggestions a shot can get beyond its first (the search stops there)
# frames: no suggestion this close to a keyframe (street_bikes' shot 2 got frame 89 after 88 otherwise: a second
# frame to color for 0.8 frames' worth)
MIN_APART = 8
_WINDOW = 25  # frames around a candidate whose uncovered fractions add to its score (about a second)
_PEAK = 9  # a peak of that score is the highest within this many frames
_CANDIDATES = 3  # peaks of poor coverage tried per step; the one adding most coverage is chosen


@dataclass(frozen=True)
class Suggestion:
    """A frame to color.

    Attributes:
        shot: the shot's index.
        frame: the film frame (0-based, as in ``keyframes.json``).
        reason: why, in a colorist's words.
        gain: frames' worth of picture this keyframe newly covers with trusted propagation (its whole coverage
            for a shot's first).
        time: the frame's exact presentation time.
    """

    shot: int
    frame: int
    reason: str
    gain: float
    time: Timecode


def first_keyframes(keyframes: Mapping[int, Sequence[int]]) -> dict[int, int]:
    """Shot index -> its first keyframe: the middle one of the analysis' keyframes (sharp, typical)."""
    return {shot: frames[len(frames) // 2] for shot, frames in keyframes.items()}


def extra_frames(suggestions: Iterable[Suggestion]) -> dict[int, list[int]]:
    """Shot index -> its suggested frames beyond its first, in rank order (``export_keyframes``' ``extra``)."""
    extra: dict[int, list[int]] = {}
    seen = set()
    for s in suggestions:
        if s.shot in seen:
            extra.setdefault(s.shot, []).append(s.frame)
        seen.add(s.shot)
    return extra


def suggest_keyframes(
    film: str | Path | FrameSequence,
    shots: Sequence[Shot],
    keyframes: Mapping[int, Sequence[int]],
    *,
    count: int | None = None,
    min_gain: float | None = None,
    flow: FlowEstimator | None = None,
    quiet: bool = True,
) -> list[Suggestion]:
    """The frames to color, ranked: every shot's first keyframe (shot order), then further frames by gain.

    Args:
        film: the film the analysis read (``analysis.analyse``); decoded once here at ``SUGGEST_WIDTH`` px.
        shots: the analysis' shots.
        keyframes: the analysis' keyframes (shot index -> frame numbers); each shot's first suggestion is
            ``first_keyframes``' pick, the frame ``colorist.keyframes.export_keyframes`` exports for it.
        count: the most suggestions in all (at least one per shot); ``None``: every one above ``min_gain``.
        min_gain: least gain of a suggestion beyond a shot's first; default ``MIN_GAIN`` without ``count``,
            with it 0 (the best ``count``, fewer only where no frame adds anything).
        flow: the optical flow to simulate with (default DIS with the propagation's preset, on the CPU).
        quiet: no progress bar.

    Raises:
        ValueError: ``count`` below the number of shots.
    """
    if count is not None and count < len(shots):
        raise ValueError(f"{count} keyframes cannot cover {len(shots)} shots: ask for at least {len(shots)}")
    floor = min_gain if min_gain is not None else (MIN_GAIN if count is None else 0.0)
    flow = flow or FlowEstimator("dis", dis_preset=FLOW_PRESET)
    firsts = first_keyframes(keyframes)
    reader = AnalysisReader(film, SUGGEST_WIDTH, quiet=quiet)
    chosen: list[Suggestion] = []
    extras: list[list[Suggestion]] = []
    for shot, frames in _shot_frames(reader, shots):
        numbers = [i for i, _, _ in frames]
        times = [Timecode(pts, reader.time_base) for _, pts, _ in frames]
        coverage = ShotCoverage(np.stack([g for _, _, g in frames]), flow, numbers)
        first = firsts.get(shot.index, shot.start_frame)
        key = min(range(len(numbers)), key=lambda i: abs(numbers[i] - first))  # the frame itself, unless it was not decoded
        gain = coverage.add(key)
        chosen.append(Suggestion(shot.index, numbers[key], "first keyframe of the shot", gain, times[key]))
        more = []
        while len(more) < MAX_PER_SHOT and (step := coverage.next_keyframe()) is not None and step[1] > 0:
            key, gain, reason = step
            more.append(Suggestion(shot.index, numbers[key], reason, gain, times[key]))
        extras.append(more)
    budget = count - len(chosen) if count is not None else sum(map(len, extras))
    heads = [(-more[0].gain, s, 0) for s, more in enumerate(extras) if more]
    heapq.heapify(heads)
    while heads and budget > 0:
        gain, s, i = heapq.heappop(heads)
        if -gain < floor:
            break
        chosen.append(extras[s][i])
        budget -= 1
        if i + 1 < len(extras[s]):
            heapq.heappush(heads, (-extras[s][i + 1].gain, s, i + 1))
    return chosen


def keyframe_coverage(
    film: str | Path | FrameSequence, shots: Sequence[Shot], keyframes: Mapping[int, Sequence[int]], *, flow: FlowEstimator | None = None
) -> np.ndarray:
    """Each frame's coverage ``(num_frames,)`` in [0, 1] from the given keyframes (shot index -> every keyframe of
    the shot, film frame numbers): the fraction of it the propagation carries from some keyframe with certainty.
    Frames that could not be decoded and shots without keyframes get 0."""
    flow = flow or FlowEstimator("dis", dis_preset=FLOW_PRESET)
    out = np.zeros(shots[-1].end_frame + 1 if shots else 0)
    for shot, frames in _shot_frames(AnalysisReader(film, SUGGEST_WIDTH, quiet=True), shots):
        numbers = [i for i, _, _ in frames]
        coverage = ShotCoverage(np.stack([g for _, _, g in frames]), flow, numbers)
        for key in keyframes.get(shot.index, ()):
            coverage.add(numbers.index(key))
        out[numbers] = coverage.coverage
    return out


class ShotCoverage:
    """One shot's frames and how much of each the trusted flow from its keyframes covers.

    Args:
        gray: the shot's frames, uint8 gray ``(n, h, w)``.
        flow: the optical flow (``FlowEstimator``).
        numbers: their film frame numbers (for the reasons).

    Attributes:
        keys: the keyframes added so far (shot-relative frame numbers).
        coverage: ``(n,)`` in [0, 1]: each frame's fraction certain from some keyframe.
    """

    def __init__(self, gray: np.ndarray, flow: FlowEstimator, numbers: Sequence[int]) -> None:
        self.numbers = list(numbers)
        lightness = torch.from_numpy(np.stack([lightness_u8(np.repeat(g[..., None], 3, axis=2)) for g in gray]))[:, None]
        self.n = len(gray)
        self._lit = gray.reshape(self.n, -1).mean(1) > DARK
        if self.n > 1:
            # (trust on frame i + 1, flow i + 1 -> i) and (trust on frame i, flow i -> i + 1) of each pair i; kept as
            # bool and half floats: a shot's maps are about 0.1 MB a frame
            both = flow.validity_both_ways(lightness[:-1], lightness[1:])
            flows = both[0][1]
            # the view's travel between frames, in frame widths: the median displacement of each pair
            self._travel = torch.hypot(flows[:, 0], flows[:, 1]).flatten(1).median(1).values.numpy() / gray.shape[2]
            self._forward, self._backward = [(trust.bool(), motion.half()) for trust, motion in both]
        self._certain = torch.zeros_like(lightness)
        self.coverage = np.zeros(self.n)
        self.keys: list[int] = []

    def carried(self, key: int) -> torch.Tensor:
        """Certainty ``(n, 1, h, w)`` in [0, 1] of a keyframe at ``key`` carried both ways, as the propagation does."""
        out = torch.zeros_like(self._certain)
        out[key] = 1
        for t in range(key + 1, self.n):
            trust, flow = self._forward[0][t - 1 : t], self._forward[1][t - 1 : t]
            out[t] = (warp(out[t - 1 : t], flow.float()) * trust)[0]
            if not out[t].any():
                break
        for t in range(key - 1, -1, -1):
            trust, flow = self._backward[0][t : t + 1], self._backward[1][t : t + 1]
            out[t] = (warp(out[t + 1 : t + 2], flow.float()) * trust)[0]
            if not out[t].any():
                break
        return out

    def add(self, key: int, carried: torch.Tensor | None = None) -> float:
        """Add a keyframe at ``key`` (``carried``: its ``carried(key)`` when known); returns its gain (frames' worth of
        picture newly covered)."""
        self._certain = torch.maximum(self._certain, self.carried(key) if carried is None else carried)
        before = self.coverage.sum()
        self.coverage = self._certain.flatten(1).mean(1).double().numpy()
        self.keys.append(key)
        return float(self.coverage.sum() - before)

    def candidates(self) -> list[int]:
        """Frames (shot-relative) where more keyframes would help most: the peaks of the shot's poor coverage, each
        frame's uncovered fraction summed over about a second around it, lit frames ``MIN_APART`` from any keyframe, best first."""
        deficit = np.convolve(1 - self.coverage, np.ones(min(self.n, _WINDOW)), mode="same") * self._lit
        for key in self.keys:
            deficit[max(0, key - MIN_APART + 1) : key + MIN_APART] = 0
        highest = np.lib.stride_tricks.sliding_window_view(np.pad(deficit, _PEAK // 2), _PEAK).max(1)
        peaks = np.flatnonzero((deficit == highest) & (deficit > 0))
        return [int(p) for p in peaks[np.argsort(-deficit[peaks], kind="stable")]][:_CANDIDATES]

    def next_keyframe(self) -> tuple[int, float, str] | None:
        """Add the candidate that covers most; returns its frame, gain and reason, ``None`` when no candidate is left."""
        options = self.candidates()
        if not options:
            return None
        best, most, kept = options[0], -1.0, None
        for key in options:
            carried = self.carried(key)
            covered = float(torch.maximum(self._certain, carried).flatten(1).mean(1).sum())
            if covered > most:
                best, most, kept = key, covered, carried
        uncovered = 1 - self.coverage[best]
        near = min(self.keys, key=lambda k: abs(k - best))
        travel = float(self._travel[min(near, best) : max(near, best)].sum())
        return best, self.add(best, kept), self.reason(uncovered, near, travel)

    def reason(self, uncovered: float, near: int, travel: float) -> str:
        """Why a frame was suggested: ``uncovered`` its fraction not covered, ``near`` the closest keyframe (shot-relative),
        ``travel`` the view's motion between them in frame widths."""
        seen = f"{uncovered:.0%} of the frame not seen in frame {self.numbers[near]}"
        if travel >= CAMERA_TRAVEL:
            return f"camera moved {travel:.1f} frame widths: " + seen
        return "new content: " + seen


def _shot_frames(
    frames: Iterable[tuple[int, int, np.ndarray]], shots: Sequence[Shot]
) -> Iterable[tuple[Shot, list[tuple[int, int, np.ndarray]]]]:
    """Each shot with its frames ``(index, pts, gray)``, as soon as its last frame is read (one shot's frames at a time)."""
    shots = iter(shots)
    shot = next(shots, None)
    kept: list[tuple[int, int, np.ndarray]] = []
    for index, pts, gray in frames:
        while shot is not None and index > shot.end_frame:
            if kept:
                yield shot, kept
            shot, kept = next(shots, None), []
        if shot is not None and index >= shot.start_frame:
            kept.append((index, pts, gray))
    if shot is not None and kept:
        yield shot, kept
