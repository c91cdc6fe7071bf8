"""``keyframes.json`` and the keyframe pictures' names: which film a keyframe folder belongs to, which frame each picture shows.

``keyframes.json`` is ``{"film": {width, height, frames}, "shots": [...]}`` with one entry ``{index, frame, pts,
time, start_frame, end_frame, file, lightness}`` per exported frame (``frame`` counts from 0 in presentation
order, ``pts`` in the video stream's time base, ``time`` in seconds, ``end_frame`` inclusive, ``lightness`` the
frame's print: ``{width, height, data}``, its Lab L at most ``PRINT_SIDE`` px on the long side, one byte a pixel
(L x 2.55), base64). A shot has one entry or several (one per frame exported for it), sorted by ``(index,
frame)``; every shot has at least one. A list of entries without ``film`` and ``lightness`` (before 0.2) is
read with a warning.

A picture named ``shot_SSSS.<ext>`` shows the frame of shot ``S``'s entry whose ``file`` is ``shot_SSSS.png``
(the shot's first exported keyframe; else its first entry); ``shot_SSSS_FFFFFF.<ext>`` shows film frame ``F``
(at least 4 digits each), which must be one of the shot's entries.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..records import Shot
from ..timecode import format_seconds

log = logging.getLogger("videocolor")

INDEX_NAME = "keyframes.json"
KEYFRAME_NAME = re.compile(r"^shot_(\d{4,})(?:_(\d{4,}))?\.([A-Za-z0-9]+)$")  # shot, frame (optional), extension


@dataclass(frozen=True)
class KeyframeEntry:
    """One exported frame's line of ``keyframes.json``."""

    index: int
    frame: int
    pts: int
    time: float
    start_frame: int
    end_frame: int
    file: str
    lightness: dict | None = None  # the frame's print (``lightness_print``) as ``{width, height, data}``, base64

    def print(self) -> np.ndarray | None:
        """The frame's print, uint8 ``(h, w)``, ``None`` when the entry has none; ``ValueError`` when malformed."""
        if self.lightness is None:
            return None
        if not isinstance(self.lightness, dict) or set(self.lightness) != {"width", "height", "data"}:
            raise ValueError("lightness is not {width, height, data}")
        width, height, data = self.lightness["width"], self.lightness["height"], self.lightness["data"]
        if type(width) is not int or type(height) is not int or not isinstance(data, str) or min(width, height) < 1:
            raise ValueError("lightness has a field of the wrong type")
        raw = np.frombuffer(base64.b64decode(data, validate=True), np.uint8)
        if raw.size != width * height:
            raise ValueError(f"lightness holds {raw.size} bytes for {width}x{height}")
        return raw.reshape(height, width)

    @property
    def timecode(self) -> str:
        """``frame N (HH:MM:SS.mmm)``: how messages name the entry's frame."""
        return f"frame {self.frame} ({format_seconds(self.time)})"


def keyframe_file(index: int, frame: int | None = None, suffix: str = ".png") -> str:
    """``shot_SSSS.png`` (shot ``index``'s first keyframe) or, with ``frame``, ``shot_SSSS_FFFFFF.png`` (film frame ``frame``)."""
    return f"shot_{index:04d}{suffix}" if frame is None else f"shot_{index:04d}_{frame:06d}{suffix}"


def _entry(item: object, n: int) -> KeyframeEntry:
    """The ``n``-th shot object of ``keyframes.json``; ``ValueError`` naming the fields missing or unknown."""
    if not isinstance(item, dict):
        raise ValueError(f"shot entry {n} is not an object")
    known = {f.name for f in fields(KeyframeEntry)}
    required = {f.name for f in fields(KeyframeEntry) if f.default is MISSING}
    missing, unknown = sorted(required - item.keys()), sorted(item.keys() - known)
    if missing or unknown:
        raise ValueError(f"shot entry {n} {'lacks ' + ', '.join(missing) if missing else 'has unknown ' + ', '.join(unknown)}")
    return KeyframeEntry(**item)


def read_index(folder: str | Path, shots: Sequence[Shot], size: tuple[int, int]) -> list[KeyframeEntry]:
    """``keyframes.json`` of ``folder``, checked against the film's frame ``size`` ``(H, W)`` and frame count and
    its ``shots`` (same shots, each listed, frames inside them, no frame twice); sorted by ``(index, frame)``. An
    index without the film's size (before 0.2) is read with a warning."""
    path = Path(folder) / INDEX_NAME
    if not Path(folder).is_dir():
        raise InputError(f"{folder}: keyframe folder not found" if not Path(folder).exists() else f"{folder}: not a folder")
    if not path.is_file():
        raise InputError(f"{path}: not found; export the keyframes with videocolor shots FILM --export-keyframes {folder}")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # with or without a BOM
        film = data["film"] if isinstance(data, dict) else None
        entries = [_entry(item, n) for n, item in enumerate(data["shots"] if isinstance(data, dict) else data)]
        marks = [e.print() for e in entries]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise InputError(f"{path}: not a keyframe list ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    for entry, mark in zip(entries, marks):
        numbers = (entry.index, entry.frame, entry.pts, entry.start_frame, entry.end_frame)
        good_time = type(entry.time) in (int, float) and np.isfinite(entry.time)
        if not all(type(n) is int for n in numbers) or not good_time or not isinstance(entry.file, str) or (film is None) != (mark is None):
            raise InputError(f"{path}: shot {entry.index!r} has a field of the wrong type or missing; export the keyframes again")
    frames = shots[-1].end_frame + 1 if shots else 0
    if film is None:
        log.warning("%s: written by an older videocolor, without the film's frame size and count: they are not checked; "
                    "export the keyframes again to record them", path)
    else:
        _check_film(path, film, size, frames)
    entries.sort(key=lambda e: (e.index, e.frame))
    _check_shots(path, entries, shots)
    return entries


def _check_shots(path: Path, entries: Sequence[KeyframeEntry], shots: Sequence[Shot]) -> None:
    """Refuse entries (sorted) of ``path`` that are not ``shots``': another shot, a frame outside its shot, a shot not
    listed, a frame or a file listed twice."""
    where = "it was exported from another film or cut"
    for entry in entries:
        if not 0 <= entry.index < len(shots):
            raise InputError(f"{path}: lists shot {entry.index} but the film has {len(shots)} shots; {where}")
        shot = shots[entry.index]
        same = (entry.start_frame, entry.end_frame) == (shot.start_frame, shot.end_frame)
        if not same or not shot.start_frame <= entry.frame <= shot.end_frame or not shot.start.pts <= entry.pts < shot.end.pts:
            raise InputError(
                f"{path}: shot {entry.index} (frames {entry.start_frame}-{entry.end_frame}) does not match the film's shot "
                f"{shot.index} (frames {shot.start_frame}-{shot.end_frame}); export the keyframes of this film again"
            )
    for entry, after in zip(entries, entries[1:]):
        if (entry.index, entry.frame) == (after.index, after.frame):
            raise InputError(f"{path}: lists shot {entry.index}'s frame {entry.frame} twice; keep one entry")
    listed = {e.index for e in entries}
    missing = [s.index for s in shots if s.index not in listed]
    if missing:
        raise InputError(f"{path}: lists no keyframe of shot {missing[0]} but the film has {len(shots)} shots; {where}")
    files = sorted(e.file for e in entries)
    twice = next((a for a, b in zip(files, files[1:]) if a == b), None)
    if twice is not None:
        raise InputError(f"{path}: lists {twice} for two frames; keep one entry")


def _check_film(path: Path, film: object, size: tuple[int, int], frames: int) -> None:
    """Refuse ``keyframes.json`` (at ``path``) whose ``film`` record is not the film's frame ``size`` and ``frames``."""
    names = ("width", "height", "frames")
    if not isinstance(film, dict) or set(film) != set(names) or not all(type(film[k]) is int for k in names):
        raise InputError(f"{path}: its film record is not {{width, height, frames}}; export the keyframes again")
    if (film["height"], film["width"]) != tuple(size):
        raise InputError(
            f"{path}: exported from another film: frames of {film['width']}x{film['height']}, this film's are "
            f"{size[1]}x{size[0]}; export the keyframes of this film"
        )
    if film["frames"] != frames:
        raise InputError(
            f"{path}: exported from another film: {film['frames']} frames, this film has {frames}; export the keyframes of this film"
        )


def entry_of_file(path: Path, entries: Sequence[KeyframeEntry], shots: Sequence[Shot]) -> KeyframeEntry:
    """The entry (of ``read_index``'s ``entries``) whose frame the picture ``path`` shows, by its name (``KEYFRAME_NAME``,
    matched by the caller). Raises ``InputError`` naming ``path``: no such shot, a frame outside the shot or not listed."""
    match = KEYFRAME_NAME.match(path.name)
    index = int(match.group(1))
    if index >= len(shots):
        raise InputError(f"{path}: the film has no shot {index} (shots 0 to {len(shots) - 1})")
    mine = [e for e in entries if e.index == index]
    if match.group(2) is None:
        first = Path(keyframe_file(index)).stem
        return next((e for e in mine if Path(e.file).stem == first), mine[0])
    frame, shot = int(match.group(2)), shots[index]
    if not shot.start_frame <= frame <= shot.end_frame:
        raise InputError(
            f"{path}: frame {frame} is outside shot {index} (frames {shot.start_frame}-{shot.end_frame}); name it after its own shot"
        )
    listed = next((e for e in mine if e.frame == frame), None)
    if listed is None:
        raise InputError(
            f"{path}: shot {index}'s frame {frame} is not in {INDEX_NAME}; export it with "
            f"videocolor shots FILM --export-keyframes DIR --keyframes-at {frame}"
        )
    return listed
