"""A colorist's keyframes going out: frames of each shot exported gray at full resolution, with ``keyframes.json``.

Each shot's keyframe (``shot_SSSS.png``) and any further frames asked for (``shot_SSSS_FFFFFF.png``: by the
colorist, ``frames_at``, or by a suggestion). Colored by hand, they come back through
``analysis.keyframes.read_keyframes`` (the format is described in ``analysis.keyframe_index``).
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from ..analysis.cuts import listed_frame, start_time
from ..analysis.film import Analysis
from ..analysis.keyframe_index import INDEX_NAME, KEYFRAME_NAME, KeyframeEntry, keyframe_file
from ..analysis.keyframes import film_lightness
from ..analysis.suggest import first_keyframes
from ..errors import InputError, OutputError
from ..io.atomic import write_atomic
from ..io.decode import VideoSource
from ..ops.color import lightness_to_gray_rgb
from ..ops.lightness_print import lightness_print
from ..records import Shot


def choose_keyframes(keyframes: dict[int, list[int]]) -> dict[int, int]:
    """Shot index -> the frame exported for it: the middle one of the analysis' keyframes (sharp, typical), the first
    that ``analysis.suggest.suggest_keyframes`` suggests."""
    return first_keyframes(keyframes)


def export_keyframes(
    film: str | Path,
    folder: str | Path,
    shots: Sequence[Shot],
    keyframes: dict[int, list[int]],
    *,
    extra: Mapping[int, Sequence[int]] | None = None,
    overwrite: bool = False,
) -> list[KeyframeEntry]:
    """Write each shot's keyframe as a gray PNG at the film's full resolution, and ``keyframes.json``; returns its entries.

    ``shots`` and ``keyframes`` are the analysis' (``analysis.analyse(film)``): each shot's keyframe is written as
    ``shot_SSSS.png``. ``extra`` maps a shot index to further film frame numbers (from 0) of that shot, each written
    as ``shot_SSSS_FFFFFF.png`` with its own entry (a frame already exported is not written twice); a frame outside
    its shot raises ``InputError``. The frames are decoded in one pass over the film. The gray is the frame's Lab
    lightness as a neutral picture (16-bit PNG for sources deeper than 8 bits). ``keyframes.json`` records the
    film's frame size and count and each frame's print, sorted by shot and frame. ``folder`` is created when
    missing (its parent must exist); nothing is written when any target exists and ``overwrite`` is not set.
    """
    folder = Path(folder)
    names = _wanted(film, shots, choose_keyframes(keyframes), extra or {})
    check_export_folder(folder, overwrite, [folder / name for name in names.values()] + [folder / INDEX_NAME])
    folder.mkdir(exist_ok=True)
    entries = []
    with VideoSource(film) as source:
        size = {"width": source.info.width, "height": source.info.height, "frames": shots[-1].end_frame + 1 if shots else 0}
        for shot, frame, pts, rgb in _decode(source, shots, sorted(names)):
            name = names[shot.index, frame]
            mark = lightness_print(_write_gray(folder / name, rgb))
            encoded = {"width": mark.shape[1], "height": mark.shape[0], "data": base64.b64encode(mark.tobytes()).decode("ascii")}
            time = float(pts * shot.start.time_base)
            entries.append(KeyframeEntry(shot.index, frame, pts, time, shot.start_frame, shot.end_frame, name, encoded))
    write_atomic(folder / INDEX_NAME, json.dumps({"film": size, "shots": [asdict(e) for e in entries]}, indent=2) + "\n")
    return entries


def _wanted(film: str | Path, shots: Sequence[Shot], first: dict[int, int], extra: Mapping[int, Sequence[int]]) -> dict[tuple[int, int], str]:
    """``(shot index, film frame)`` -> file name of every frame to export: each shot's ``first`` keyframe, then ``extra``."""
    names = {(shot.index, first[shot.index]): keyframe_file(shot.index) for shot in shots}
    for index, frames in extra.items():
        if not 0 <= index < len(shots):
            raise InputError(f"{film}: no shot {index} to export keyframes of; the film has shots 0 to {len(shots) - 1}")
        shot = shots[index]
        for frame in frames:
            if not shot.start_frame <= frame <= shot.end_frame:
                raise InputError(f"{film}: frame {frame} is not in shot {index} (frames {shot.start_frame}-{shot.end_frame})")
            if (index, frame) not in names and first[index] != frame:
                names[index, frame] = keyframe_file(index, frame)
    return names


def _decode(source: VideoSource, shots: Sequence[Shot], wanted: Sequence[tuple[int, int]]) -> Iterator[tuple[Shot, int, int, np.ndarray]]:
    """``(shot, frame, pts, rgb)`` of each ``wanted`` ``(shot index, film frame)`` (sorted), decoded in one pass over the
    film; a frame's number counts from its shot's first frame, found by pts (as the render does)."""
    if not wanted:
        return
    starts = [shot.start.pts for shot in shots]
    left, seen = set(wanted), {}
    for pts, decoded in source.video_frames(shots[wanted[0][0]].start.pts, shots[wanted[-1][0]].end.pts):
        index = max(0, bisect.bisect_right(starts, pts) - 1)
        seen[index] = seen.get(index, -1) + 1
        frame = shots[index].start_frame + seen[index]
        if (index, frame) in left:  # only these are converted to RGB
            left.discard((index, frame))
            yield shots[index], frame, pts, source.rgb(decoded)
            if not left:
                return
    index, frame = min(left)
    raise InputError(f"{source.path}: frame {frame} of shot {index} cannot be decoded")


def frames_at(text: str, analysis: Analysis, what: str = "--keyframes-at") -> dict[int, list[int]]:
    """Shot index -> the film frames ``text`` names, for ``export_keyframes``' ``extra``.

    ``text``: frames separated by commas (or spaces), each a frame number from 0, a timecode ``HH:MM:SS:FF`` on the
    film's own timecode, or seconds (``cuts.listed_frame``). Raises ``InputError`` naming ``what`` and the value.
    """
    start = round(start_time(analysis.timecode, analysis.frame_rate).value)
    tokens = text.replace(",", " ").split()
    if not tokens:
        raise InputError(f"{what}: names no frame; give frame numbers, timecodes (HH:MM:SS:FF) or seconds, such as 120,340")
    found: dict[int, list[int]] = {}
    for token in tokens:
        frame = listed_frame(token, analysis.frame_rate, start)
        if frame is None:
            raise InputError(f"{what}: {token!r} is not a frame number, a timecode (HH:MM:SS:FF) or seconds")
        if not 0 <= frame < analysis.num_frames:
            raise InputError(f"{what}: {token} is frame {frame}, outside the film (frames 0 to {analysis.num_frames - 1})")
        found.setdefault(analysis.shot_of_frame(frame).index, []).append(frame)
    return found


def check_export_folder(folder: str | Path, overwrite: bool, targets: Sequence[Path] | None = None) -> None:
    """Refuse a keyframe folder that cannot be made, or holds keyframes (``targets``, default any) without ``overwrite``."""
    folder = Path(folder)
    if not folder.parent.is_dir():
        raise OutputError(f"{folder}: its parent folder {folder.parent} does not exist")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder")
    if overwrite or not folder.is_dir():
        return
    existing = [t for t in targets if t.exists()] if targets is not None else sorted(
        p for p in folder.iterdir() if p.name == INDEX_NAME or KEYFRAME_NAME.match(p.name)
    )
    if existing:
        raise OutputError(f"{existing[0]}: already exists; pass --overwrite to replace the keyframes in {folder}")


def _write_gray(path: Path, rgb: np.ndarray) -> np.ndarray:
    """A frame ``(H, W, 3)`` uint8/uint16 as a one-channel PNG of its lightness, same depth, atomically; returns
    that lightness, ``(H, W)`` float32 in [0, 100]."""
    peak = 65535 if rgb.dtype == np.uint16 else 255
    lightness = film_lightness(rgb)
    gray = lightness_to_gray_rgb(lightness)[0].numpy()
    image = np.round(gray * peak).astype(rgb.dtype)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OutputError(f"{path}: cannot encode the keyframe")
    write_atomic(path, encoded.tobytes())
    return lightness[0].numpy()
