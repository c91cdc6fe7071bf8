"""Scene cuts and keyframes from the analysis frames, scored on luma only (the film is gray).

scenedetect's detectors are fed our frames (no second decode): ``AdaptiveDetector`` with luma-only weights
finds hard cuts, ``ThresholdDetector`` finds fades through black (the cut lands in the dark span). Our own
logic then rejects flashes (a brief spike whose content returns: some frame before the candidate matches
some frame shortly after it), enforces a minimum shot length and picks sharp keyframes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np
from scenedetect import FrameTimecode
from scenedetect.detectors import AdaptiveDetector, ContentDetector, ThresholdDetector

from ..records import Shot
from ..timecode import Timecode

LUMA_ONLY = ContentDetector.Components(delta_hue=0.0, delta_sat=0.0, delta_lum=1.0, delta_edges=0.0)
DARK = 12.0  # mean gray level (0-255) under which a frame counts as black (fades)
FLASH_RATIO = 0.5  # frames across a flash differ less than this fraction of the jump at its edge
_POOL = 32  # frames kept per shot as keyframe candidates


@dataclass
class ShotList:
    """Shots of a film with their keyframes.

    Attributes:
        shots: shots in order, covering every frame once.
        keyframes: shot index -> keyframe frame indices (ascending).
        images: shot index -> keyframes as uint8 gray ``(h, w)`` analysis frames, same order.
    """

    shots: list[Shot]
    keyframes: dict[int, list[int]] = field(default_factory=dict)
    images: dict[int, list[np.ndarray]] = field(default_factory=dict)


class ShotDetector:
    """Streaming cut detector: ``push`` frames in order, then ``finish`` returns the :class:`ShotList`.

    Args:
        frame_rate: the film's frame rate (for the time-based lengths below).
        time_base: the stream's time base (for the shots' exact timecodes).
        min_shot_seconds: cuts closer than this to the previous cut are dropped.
        flash_seconds: longest spike that counts as a flash rather than two cuts.
        keyframe_seconds: a shot gets one keyframe per this many seconds (at least one, at most 5).
        cuts: the first frame of each shot but the first, known beforehand (an editor's cut list): nothing is
            detected, and shots of any length are kept.
    """

    def __init__(
        self,
        frame_rate: Fraction,
        time_base: Fraction,
        *,
        min_shot_seconds: float = 0.4,
        flash_seconds: float = 0.25,
        keyframe_seconds: float = 10.0,
        cuts: Sequence[int] | None = None,
    ) -> None:
        self.frame_rate, self.time_base = Fraction(frame_rate), Fraction(time_base)
        self.min_len = max(1, round(min_shot_seconds * float(frame_rate)))
        self.flash_len = max(2, round(flash_seconds * float(frame_rate)))
        self.keyframe_len = max(1, round(keyframe_seconds * float(frame_rate)))
        self._adaptive = AdaptiveDetector(min_scene_len=1, weights=LUMA_ONLY, window_width=2)
        self._threshold = ThresholdDetector(threshold=DARK, min_scene_len=self.min_len)
        self._window: deque[tuple[int, np.ndarray, np.ndarray]] = deque()  # (index, frame, thumbnail)
        self._delay = 2 * self.flash_len + 2 + self._adaptive.window_width
        self._hard: set[int] = set()
        self._fades: set[int] = set()
        self._flashed: set[int] = set()  # frames inside a rejected flash: never keyframes
        self._given = cuts is not None
        self._cuts = [0, *sorted(set(cuts or ()) - {0})]
        self._pts: list[int] = []
        self._pool: list[tuple[int, np.ndarray]] = []
        self._stride = 1
        self._keyframes: list[tuple[list[int], list[np.ndarray]]] = []

    def push(self, pts: int, gray: np.ndarray) -> None:
        """Add the next frame: its exact ``pts`` and its uint8 gray ``(h, w)`` picture."""
        index = len(self._pts)
        self._pts.append(pts)
        timecode = FrameTimecode(index, fps=self.frame_rate)
        if not self._given:
            bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
            self._hard.update(tc.frame_num for tc in self._adaptive.process_frame(timecode, bgr))
            oldest = self._window[0][0] + 1 if self._window else 0
            self._fades.update(max(tc.frame_num, oldest) for tc in self._threshold.process_frame(timecode, bgr))
        thumb = cv2.resize(gray, (32, max(1, round(32 * gray.shape[0] / gray.shape[1]))), interpolation=cv2.INTER_AREA)
        self._window.append((index, gray, thumb.astype(np.float32)))
        self._resolve(index - self.flash_len)
        while len(self._window) > self._delay:
            self._retire(*self._window.popleft()[:2])

    def finish(self) -> ShotList:
        """Resolve the last candidates and return every shot with its keyframes."""
        if not self._pts:
            return ShotList([])
        self._resolve(len(self._pts))
        self._cuts = [c for c in self._cuts if c < len(self._pts)]  # given cuts past frames that could not be decoded
        while self._window:
            self._retire(*self._window.popleft()[:2])
        self._close_shot()
        bounds = [*self._cuts, len(self._pts)]
        duration = round(1 / (self.frame_rate * self.time_base))
        shots, keyframes, images = [], {}, {}
        for i, (start, stop) in enumerate(zip(bounds, bounds[1:])):
            end_pts = self._pts[stop] if stop < len(self._pts) else self._pts[-1] + duration
            tb = self.time_base
            shots.append(Shot(i, start, stop - 1, Timecode(self._pts[start], tb), Timecode(end_pts, tb)))
            keyframes[i], images[i] = self._keyframes[i]
        return ShotList(shots, keyframes, images)

    def _resolve(self, upto: int) -> None:
        """Accept or reject every candidate cut at or before frame ``upto``, in order."""
        for cut in sorted(c for c in self._hard | self._fades if c <= upto):
            is_fade = cut in self._fades
            self._hard.discard(cut)
            self._fades.discard(cut)
            if cut - self._cuts[-1] < self.min_len or (not is_fade and self._is_flash(cut)):
                continue
            self._cuts.append(cut)

    def _is_flash(self, cut: int) -> bool:
        """Whether some frame shortly before ``cut`` shows the same (non-black) content as one shortly after.

        "The same" is relative to the jump at the cut: across a flash, frames differ much less than at its edge.
        """
        thumbs = {i: t for i, _, t in self._window}
        if cut - 1 not in thumbs or cut not in thumbs:
            return False
        jump = np.abs(thumbs[cut - 1] - thumbs[cut]).mean()
        before = [(i, t) for i, _, t in self._window if cut - self.flash_len - 1 <= i < cut]
        after = [(i, t) for i, _, t in self._window if cut <= i <= cut + self.flash_len]
        for i, a in before:
            for j, b in after:
                close, lit = j - i <= self.flash_len + 1, max(a.mean(), b.mean()) > DARK
                if close and lit and np.abs(a - b).mean() < FLASH_RATIO * jump:
                    self._flashed.update(range(i + 1, j))
                    return True
        return False

    def _retire(self, index: int, gray: np.ndarray) -> None:
        """A frame whose shot is settled: keep it in the shot's keyframe pool (uniformly subsampled)."""
        if len(self._cuts) > len(self._keyframes) + 1 and index >= self._cuts[len(self._keyframes) + 1]:
            self._close_shot()
        start = self._cuts[len(self._keyframes)]
        flashed = index in self._flashed
        self._flashed.discard(index)
        if flashed or (index - start) % self._stride:
            return
        self._pool.append((index, gray))
        if len(self._pool) > _POOL:
            self._stride *= 2
            self._pool = [(i, g) for i, g in self._pool if (i - start) % self._stride == 0]

    def _close_shot(self) -> None:
        """Pick the current shot's keyframes from its pool: the sharpest frame near the middle of each part."""
        k = len(self._keyframes)
        start = self._cuts[k]
        stop = self._cuts[k + 1] if k + 1 < len(self._cuts) else len(self._pts)
        count = min(5, max(1, (stop - start) // self.keyframe_len))
        means = np.array([g.mean() for _, g in self._pool])
        typical = (means > DARK) & (np.abs(means - np.median(means)) < 2 * DARK)  # no black, no flash
        pool = [p for p, ok in zip(self._pool, typical) if ok] or self._pool
        chosen: list[tuple[int, np.ndarray]] = []
        for part in np.array_split(np.arange(len(pool)), count):
            if len(part):
                middle = part[len(part) // 4 : len(part) - len(part) // 4] if len(part) >= 4 else part
                chosen.append(pool[max(middle, key=lambda p: sharpness(pool[p][1]))])
        self._keyframes.append(([i for i, _ in chosen], [g for _, g in chosen]))
        self._pool, self._stride = [], 1


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a gray ``(h, w)`` picture: higher is sharper."""
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def detect_shots(
    frames: Iterable[tuple[int, int, np.ndarray]], frame_rate: Fraction, time_base: Fraction, cuts: Sequence[int] | None = None
) -> ShotList:
    """Shots of a film from its analysis frames ``(index, pts, gray uint8 (h, w))`` in order; ``cuts``: given, not detected."""
    detector = ShotDetector(frame_rate, time_base, cuts=cuts)
    for _, pts, gray in frames:
        detector.push(pts, gray)
    return detector.finish()
