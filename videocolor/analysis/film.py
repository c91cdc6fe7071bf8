"""The analysis pass: low-resolution read, scene cuts, keyframes, per-shot reference choice, overrides.

>>> a = analyse("film.mp4", ref_dir="refs/")          # doctest: +SKIP
>>> a.shots[0].end_frame, a.choices[0].path            # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io.analysis_reader import AnalysisReader
from ..io.decode import VideoSource
from ..io.images import load_reference
from ..io.timeline import Clock
from ..records import ReferenceChoice, Shot
from ..timecode import Timecode, format_seconds
from .cuts import read_cuts
from .keyframes import apply_keyframes, film_frames, read_keyframes
from .overrides import apply_overrides, read_overrides
from .retrieval import ReferenceIndex, choose
from .shots import detect_shots

log = logging.getLogger("videocolor")


@dataclass
class Analysis:
    """What the analysis pass found about a film.

    Attributes:
        shots: every shot in order (frame ranges inclusive; exact start and exclusive end times).
        choices: one reference choice per shot, same order.
        num_frames: frames in the film (the render decodes the same frames, in the same order).
        time_base: the video stream's time base of the shots' timecodes.
        frame_rate: the stream's average frame rate.
        clock: the rebuilt clock of a film whose own timestamps are broken (``io.timeline``), else ``None``.
        keyframes: shot index -> frame indices of its keyframes.
        keyframe_images: shot index -> keyframes as uint8 gray ``(h, w)`` analysis frames (~256 px wide).
        timecode: the film's source timecode start (``01:00:00:00``), ``None`` when it has none.
    """

    shots: list[Shot]
    choices: list[ReferenceChoice]
    num_frames: int
    time_base: Fraction
    frame_rate: Fraction
    clock: Clock | None = None
    keyframes: dict[int, list[int]] = field(default_factory=dict)
    keyframe_images: dict[int, list[np.ndarray]] = field(default_factory=dict, repr=False)
    timecode: str | None = None

    def shot_of_frame(self, index: int) -> Shot:
        """The shot holding frame ``index`` (0-based); ``IndexError`` outside the film."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame {index} is outside the film (0 to {self.num_frames - 1})")
        starts = [s.start_frame for s in self.shots]
        return self.shots[bisect.bisect_right(starts, index) - 1]

    def to_json(self) -> list[dict]:
        """The shot table as JSON-ready dicts: what ``videocolor shots --json`` prints and what a job stores.

        Times as ``HH:MM:SS.mmm`` for people, and exact: ``start_pts``/``end_pts`` in ``time_base``; ``end_frame``
        inclusive. :func:`shot_table` reads it back.
        """
        return [
            {
                "index": shot.index,
                "start_frame": shot.start_frame,
                "end_frame": shot.end_frame,
                "start_time": format_seconds(shot.start.seconds),
                "end_time": format_seconds(shot.end.seconds),
                "start_pts": shot.start.pts,
                "end_pts": shot.end.pts,
                "reference": str(choice.path) if choice.path else None,
                "fused": [str(p) for p in choice.fused],
                "score": choice.score,
                "source": choice.source,
                "keyframe": choice.keyframe,
                "keyframes": [{"picture": str(p), "pts": pts} for p, pts in choice.keyframes],
                "candidates": [{"reference": str(p), "score": s} for p, s in choice.candidates],
            }
            for shot, choice in zip(self.shots, self.choices)
        ]


def shot_table(rows: list[dict], time_base: Fraction) -> tuple[list[Shot], list[ReferenceChoice]]:
    """The shots and reference choices of ``Analysis.to_json``'s rows, whose pts are in ``time_base`` (rows stored
    before a shot could have several keyframes, without ``keyframes``, read as their single ``reference``/``keyframe``)."""
    shots = [Shot(r["index"], r["start_frame"], r["end_frame"], Timecode(r["start_pts"], time_base), Timecode(r["end_pts"], time_base)) for r in rows]
    choices = [
        ReferenceChoice(
            r["index"],
            Path(r["reference"]) if r["reference"] else None,
            r["score"],
            [(Path(c["reference"]), c["score"]) for c in r["candidates"]],
            r["source"],
            r["keyframe"],
            tuple(map(Path, r["fused"])),
            tuple((Path(k["picture"]), k["pts"]) for k in r.get("keyframes", ())),  # absent before several keyframes a shot
        )
        for r in rows
    ]
    return shots, choices


def analyse(
    video: str | Path,
    *,
    ref: str | Path | None = None,
    ref_dir: str | Path | None = None,
    overrides: str | Path | None = None,
    keyframes: str | Path | None = None,
    cuts: str | Path | None = None,
    refs_per_shot: int = 1,
    device: torch.device | None = None,
    quiet: bool = False,
) -> Analysis:
    """Find the shots of ``video`` and the reference of each.

    With ``ref`` every shot uses that picture (``source="user"``); with ``ref_dir`` each shot gets the best
    of the folder (``source="retrieval"``, top 5 candidates kept; with ``refs_per_shot`` above 1 the next-ranked
    ones are ``fused`` with it); ``overrides`` (a TOML file) is applied
    last. Without ``ref`` or ``ref_dir`` choices have no reference (shots only). ``keyframes`` (a folder
    written by ``keyframes.export_keyframes``) gives each shot with colored keyframes those pictures, before
    the overrides; the folder must be this film's and each colored picture must show its frame (checked
    against the film's own frames). ``cuts`` (an EDL, OTIO or FCP XML timeline, or a plain list: ``cuts.read_cuts``)
    replaces the detection of cuts; it must fit the film. Raises ``InputError``.
    """
    if ref is not None and ref_dir is not None:
        raise InputError(f"{ref}: give either one reference or a reference folder ({ref_dir}), not both")
    if ref is not None:
        load_reference(ref)  # fail before the long read when the reference is unusable
    reader = AnalysisReader(video, quiet=quiet)
    given = read_cuts(cuts, frame_rate=reader.frame_rate, num_frames=len(reader), timecode=reader.timecode) if cuts is not None else None
    index = ReferenceIndex(ref_dir, device=device, quiet=quiet) if ref_dir is not None else None
    found = detect_shots(reader, reader.frame_rate, reader.time_base, given)
    if not found.shots:
        raise InputError(f"{video}: no frame could be decoded")
    if index is not None:
        ranked = [index.rank(found.images[s.index]) for s in found.shots]
        picks = choose([r for r, _ in ranked], [g for _, g in ranked])
        choices = [
            ReferenceChoice(s.index, r[p][0], r[p][1], r, "retrieval", fused=tuple(c for c, _ in r[:p] + r[p + 1 :])[: refs_per_shot - 1])
            for s, (r, _), p in zip(found.shots, ranked, picks)
        ]
    else:
        source = "user" if ref is not None else "none"
        choices = [ReferenceChoice(s.index, Path(ref) if ref else None, None, [], source) for s in found.shots]
    if keyframes is not None:
        with VideoSource(video) as film:
            size = (film.info.height, film.info.width)
        seen = film_frames(video, found.shots, found.keyframes, found.images)
        choices = apply_keyframes(choices, read_keyframes(keyframes, found.shots, size, seen))
    if overrides is not None:
        choices = apply_overrides(choices, read_overrides(overrides, found.shots))
    gray = [c.shot for c in choices if c.source == "none"]
    if keyframes is not None and gray:
        log.warning("%s: no colored keyframe and no reference for shot(s) %s; they stay gray", video, ", ".join(map(str, gray)))
    num_frames = found.shots[-1].end_frame + 1
    if num_frames != len(reader) and reader.clock is None:  # a rebuilt clock counts packets, not frames
        log.warning("%s: %d of %d frames could be decoded for analysis", video, num_frames, len(reader))
    log.info("%s: %d frames, %d shots", video, num_frames, len(found.shots))
    return Analysis(
        found.shots, choices, num_frames, reader.time_base, reader.frame_rate, reader.clock, found.keyframes, found.images, reader.timecode
    )
