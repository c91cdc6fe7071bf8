"""Candidate previews: a shot's keyframe colorized with each of its top references, in seconds.

>>> previews = Previewer("film.mp4", analyse("film.mp4", ref_dir="refs/"))     # doctest: +SKIP
>>> rgb = previews.colorize(3, Path("refs/street.jpg"))                           # doctest: +SKIP
>>> write_preview_sheet("sheet.png", previews, shots=[3, 7], candidates=3)        # doctest: +SKIP

The keyframe is the frame ``videocolor shots --export-keyframes`` exports; colorizing it is the render's
own path for one frame (``render.colorize.colorize_lightness``), so a preview shows what the render will do.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.film import Analysis, analyse
from ..analysis.keyframes import frame_of_shot, load_keyframe
from ..checks import check_film, check_output, check_picture_output
from ..config import Settings
from ..errors import InputError, OutputError
from ..io.atomic import write_atomic
from ..io.decode import VideoSource
from ..io.images import load_reference
from ..io.sequence import FrameSequence
from ..models.build import build_colorizer
from ..ops.color import frames_to_lightness
from ..render.colorize import colorize_lightness
from ..render.devices import use_device
from .keyframes import choose_keyframes

TILE_HEIGHT = 180  # pixels of each picture of a sheet


@dataclass(frozen=True)
class Candidate:
    """A reference worth previewing for a shot: its picture, its retrieval score (``None``: not ranked), and why."""

    path: Path
    score: float | None
    source: str


class Previewer:
    """Keyframes of a film and their colorized previews; thread-safe, the model loaded once.

    Args:
        film: the film analysed: a video file, or a ``FrameSequence`` (a film scan).
        analysis: its ``analysis.analyse`` result (with ``ref_dir`` for ranked candidates, ``keyframes`` for
            colored keyframes).
        settings: the model, device and work size of the previews (the render's).
        long_side: previews are made at most this many pixels on their long side.
    """

    def __init__(self, film: str | Path | FrameSequence, analysis: Analysis, settings: Settings | None = None, long_side: int = 640) -> None:
        settings = settings or Settings()
        self.film, self.analysis = check_film(film), analysis
        self.colorizer = build_colorizer(settings, use_device(settings))
        self.long_side = long_side
        self._lightness: dict[int, torch.Tensor] = {}
        self._references: dict[Path, Any] = {}
        self._lock = threading.Lock()

    def candidates(self, shot: int, count: int) -> list[Candidate]:
        """The shot's colored keyframes (if any, by frame) and then its ``count`` best-ranked references."""
        choice = self.analysis.choices[self._check(shot)]
        found = [Candidate(path, None, "keyframe") for path, _ in choice.keyframes]
        return found + [Candidate(p, s, "retrieval") for p, s in choice.candidates[:count]]

    def keyframe(self, shot: int) -> torch.Tensor:
        """The shot's keyframe as Lab L ``(1, 1, h, w)`` in [0, 100], at most ``long_side`` pixels (decoded once)."""
        with self._lock:
            if shot not in self._lightness:
                frame = choose_keyframes({shot: self.analysis.keyframes[self._check(shot)]})[shot]
                with VideoSource(self.film) as source:
                    _, rgb = frame_of_shot(source, self.analysis.shots[shot], frame)
                lightness = frames_to_lightness([rgb], self.colorizer.device)
                scale = min(1.0, self.long_side / max(lightness.shape[-2:]))
                if scale < 1:
                    size = [round(d * scale) for d in lightness.shape[-2:]]
                    lightness = F.interpolate(lightness, size=size, mode="area")
                self._lightness[shot] = lightness
            return self._lightness[shot]

    def gray(self, shot: int) -> np.ndarray:
        """The shot's keyframe as RGB ``(h, w, 3)`` uint8 (neutral gray)."""
        return self._compose(self.keyframe(shot), None)

    def colorize(self, shot: int, reference: Path) -> np.ndarray:
        """The shot's keyframe colorized with ``reference``, RGB ``(h, w, 3)`` uint8. Raises ``InputError``."""
        lightness = self.keyframe(shot)
        with self._lock:
            if reference not in self._references:
                choice = self.analysis.choices[shot]
                if reference in {path for path, _ in choice.keyframes}:
                    rgb = load_keyframe(reference, tuple(lightness.shape[-2:]), lambda: lightness[0])
                else:
                    rgb = load_reference(reference)
                self._references[reference] = self.colorizer.prepare_reference(rgb)
            prepared = self._references[reference]
        return self._compose(lightness, prepared)

    def _compose(self, lightness: torch.Tensor, prepared: Any) -> np.ndarray:
        with self._lock:  # the colorizer is not shared across threads
            self.colorizer.reset()
            return next(colorize_lightness(self.colorizer, lightness, prepared))

    def _check(self, shot: int) -> int:
        if not 0 <= shot < len(self.analysis.shots):
            raise InputError(f"{self.film}: no shot {shot}; the film has shots 0 to {len(self.analysis.shots) - 1}")
        return shot


def preview_sheet(
    film: str | Path | FrameSequence,
    output: str | Path,
    *,
    fps: str | float | Fraction | None = None,
    ref_dir: str | Path | None = None,
    keyframes: str | Path | None = None,
    cuts: str | Path | None = None,
    shots: Sequence[int | range] | None = None,
    candidates: int = 3,
    settings: Settings | None = None,
) -> Path:
    """Analyse ``film`` and write its preview sheet (see :func:`write_preview_sheet`); returns the picture's path.

    ``film``: a video file, or a film scan (a pattern such as ``scans/f_%06d.dpx``, or its folder) at ``fps``
    frames per second, or a ``FrameSequence`` (see ``checks.check_film``). ``output`` is replaced when it exists,
    but never an input file (nor a frame of the scan). ``cuts``: the film's cuts from a timeline or list (``analysis.cuts``).
    """
    film = check_film(film, fps)
    check_output(check_picture_output(output, "the preview sheet"), [film], overwrite=True)
    settings = settings or Settings()
    use_device(settings)
    analysis = analyse(film, ref_dir=ref_dir, keyframes=keyframes, cuts=cuts, quiet=settings.quiet)
    return write_preview_sheet(output, Previewer(film, analysis, settings), shots, candidates)


def parse_shots(text: str) -> list[range]:
    """``"3,7-9"`` -> ``[range(3, 4), range(7, 10)]`` (not expanded: ``0-99999999999`` costs nothing); ``InputError``
    on anything else. ``write_preview_sheet`` checks them against the film's shots."""
    shots: list[range] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*([0-9]{1,18})\s*(?:-\s*([0-9]{1,18})\s*)?", part)
        if match is None or int(match.group(2) or match.group(1)) < int(match.group(1)):
            raise InputError(f"--shots {text!r}: expected shot numbers and ranges like 3,7-9")
        shots.append(range(int(match.group(1)), int(match.group(2) or match.group(1)) + 1))
    return shots


def write_preview_sheet(
    path: str | Path, previewer: Previewer, shots: Sequence[int | range] | None = None, candidates: int = 3
) -> Path:
    """A PNG/JPEG with one row per shot: the gray keyframe, then the keyframe colorized with each candidate.

    Each picture is labelled with the reference's name and score. ``shots``: shot numbers, or ranges of them
    (``parse_shots``), default all; a shot past the film's last is an ``InputError``, before any work.
    """
    path = Path(path)
    count = len(previewer.analysis.shots)
    shots = [range(count)] if shots is None else [s if isinstance(s, range) else range(s, s + 1) for s in shots]
    for selected in shots:
        if selected:
            previewer._check(selected.start)
            previewer._check(selected[-1])
    shots = [shot for selected in shots for shot in selected]
    if not shots:
        raise InputError(f"{previewer.film}: no shots asked for; give shot numbers or leave them out for all")
    rows = []
    for shot in shots:
        start = previewer.analysis.shots[shot].start
        tiles = [_label(previewer.gray(shot), f"#{shot} {start}")]
        for found in previewer.candidates(shot, candidates):
            score = "keyframe" if found.score is None else f"{found.score:.3f}"
            tiles.append(_label(previewer.colorize(shot, found.path), f"{found.path.name} {score}"))
        rows.append(np.hstack(tiles))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows])
    ok, encoded = cv2.imencode(path.suffix or ".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"{path}: cannot write the preview sheet (not an image file name: use .png or .jpg)")
    return write_atomic(path, encoded.tobytes())


def _label(rgb: np.ndarray, text: str) -> np.ndarray:
    """A picture resized to ``TILE_HEIGHT`` with ``text`` written on its bottom edge."""
    h, w = rgb.shape[:2]
    tile = cv2.resize(rgb, (max(1, round(w * TILE_HEIGHT / h)), TILE_HEIGHT), interpolation=cv2.INTER_AREA)
    cv2.rectangle(tile, (0, TILE_HEIGHT - 18), (tile.shape[1], TILE_HEIGHT), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, TILE_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return np.pad(tile, ((0, 0), (0, 2), (0, 0)))
