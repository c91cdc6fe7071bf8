"""A colorist's keyframes going out: frames of each shot exported gray at full resolution, with ``keyframes.json``.

Each shot's keyframe (``shot_SSSS.png``) and any further frames asked for (``shot_SSSS_FFFFFF.png``: by the
colorist, ``frames_at``, or by a suggestion). Colored by hand, they come back through
``analysis.keyframes.read_keyframes`` (the format is described in ``analysis.keyframe_index``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..analysis.cuts import listed_frame, start_time
from ..analysis.film import Analysis
from ..analysis.keyframe_index import INDEX_NAME, KEYFRAME_NAME, KeyframeEntry, keyframe_file, read_index
from ..analysis.keyframes import check_index_print, composite, film_lightness
from ..analysis.suggest import first_keyframes
from ..errors import InputError, OutputError
from ..io.atomic import exclusive, write_atomic
from ..io.decode import VideoSource
from ..io.images import IMAGE_EXTENSIONS, is_grayscale, read_rgba
from ..ops.color import lightness_to_gray_rgb
from ..ops.lightness_print import lightness_print
from ..records import Shot

LOCK_NAME = ".videocolor-export.lock"  # held while an export writes into a folder (hidden: the readers skip it)


def choose_keyframes(keyframes: dict[int, list[int]]) -> dict[int, int]:
    """Shot index -> the frame exported for it: the middle one of the analysis' keyframes (sharp, typical), the first
    that ``analysis.suggest.suggest_keyframes`` suggests."""
    return first_keyframes(keyframes)


@dataclass(frozen=True)
class KeyframeExport:
    """What an export left in its folder: ``entries``, all that ``keyframes.json`` lists now (sorted by shot and
    frame), and of them ``added``, those this export listed (the rest were there before it)."""

    entries: list[KeyframeEntry]
    added: list[KeyframeEntry]


def export_keyframes(
    film: str | Path,
    folder: str | Path,
    shots: Sequence[Shot],
    keyframes: dict[int, list[int]],
    *,
    extra: Mapping[int, Sequence[int]] | None = None,
    overwrite: bool = False,
    film_frame: Callable[[KeyframeEntry], np.ndarray] | None = None,
) -> KeyframeExport:
    """Write each shot's keyframe as a gray PNG at the film's full resolution, and ``keyframes.json``.

    ``shots`` and ``keyframes`` are the analysis' (``analysis.analyse(film)``): each shot's keyframe is written as
    ``shot_SSSS.png``. ``extra`` maps a shot index to further film frame numbers (from 0) of that shot, each written
    as ``shot_SSSS_FFFFFF.png`` with its own entry (a frame already exported is not written twice); a frame outside
    its shot raises ``InputError``. Each shot holding some is decoded once, up to its last. The gray is the frame's Lab
    lightness as a neutral picture (16-bit PNG for sources deeper than 8 bits). ``keyframes.json`` records the
    film's frame size and count and each frame's print, sorted by shot and frame. ``folder`` is created when
    missing (its parent must exist).

    A folder whose ``keyframes.json`` is this film's (``read_index``: its size, frame count and shots; and, with
    ``film_frame`` (as ``read_keyframes``'), the prints of its frames that are the analysis' ``keyframes``) is added
    to: only frames it does not list are written (as ``shot_SSSS_FFFFFF.png``; a picture already there under that
    name is kept and listed), no picture there is touched, and ``keyframes.json`` becomes the union. Another
    film's folder, or keyframe pictures without ``keyframes.json``, are refused (``OutputError``) unless
    ``overwrite``: then its gray pictures are replaced or removed, and a colored one refuses the export.

    Nothing is lost on an error or Ctrl-C: the pictures are written first, each atomically, ``keyframes.json``
    last; the pictures this export created are removed again when it does not finish. A second export into the
    same folder while one runs is refused (``OutputError``), so neither loses the other's frames from the index.
    """
    folder = Path(folder)
    check_export_folder(folder, overwrite, [folder / name for name in _wanted(film, shots, choose_keyframes(keyframes), extra or {}).values()])
    folder.mkdir(exist_ok=True)
    busy = f"{folder}: another videocolor process is exporting keyframes into it; export again once it has finished"
    with exclusive(folder / LOCK_NAME, busy), VideoSource(film) as source:
        size = (source.info.height, source.info.width)
        listed, stale = _folder_state(folder, shots, size, keyframes, overwrite, film_frame)
        names = _wanted(film, shots, choose_keyframes(keyframes), extra or {}, listed)
        unprinted = {(e.index, e.frame): e for e in listed if e.lightness is None}  # an older index: its prints are added
        created: list[Path] = []
        done = {(e.index, e.frame): e for e in listed}
        try:
            for shot, frame, pts, rgb in _decode(source, shots, sorted(names.keys() | unprinted.keys())):
                if (shot.index, frame) in unprinted:
                    mark = lightness_print(film_lightness(rgb)[0].numpy())
                    done[shot.index, frame] = replace(unprinted[shot.index, frame], lightness=_encoded(mark))
                    continue
                path = folder / names[shot.index, frame]
                if listed and path.exists():  # the colorist's picture of a frame not yet listed: kept
                    lightness = film_lightness(rgb)[0].numpy()
                else:
                    created += [] if path.exists() else [path]
                    lightness = _write_gray(path, rgb)
                time = float(pts * shot.start.time_base)
                done[shot.index, frame] = KeyframeEntry(
                    shot.index, frame, pts, time, shot.start_frame, shot.end_frame, path.name, _encoded(lightness_print(lightness))
                )
            for path in stale:
                if path.name not in names.values():  # another film's gray picture, not replaced by this one's
                    path.unlink()
            entries = sorted(done.values(), key=lambda e: (e.index, e.frame))
            if names or unprinted or not listed:
                film_record = {"width": size[1], "height": size[0], "frames": shots[-1].end_frame + 1 if shots else 0}
                write_atomic(folder / INDEX_NAME, json.dumps({"film": film_record, "shots": [asdict(e) for e in entries]}, indent=2) + "\n")
        except BaseException:
            for path in created:
                path.unlink(missing_ok=True)
            raise
    return KeyframeExport(entries, [e for e in entries if (e.index, e.frame) in names])


def _encoded(mark: np.ndarray) -> dict:
    """A print ``(h, w)`` uint8 as ``keyframes.json`` holds it: ``{width, height, data}``, base64."""
    return {"width": mark.shape[1], "height": mark.shape[0], "data": base64.b64encode(mark.tobytes()).decode("ascii")}


def _folder_state(
    folder: Path, shots: Sequence[Shot], size: tuple[int, int], keyframes: dict[int, list[int]], overwrite: bool, film_frame: Callable | None
) -> tuple[list[KeyframeEntry], list[Path]]:
    """``(entries to keep, gray pictures to remove)`` of a keyframe folder an export writes into: this film's
    ``keyframes.json``'s entries (nothing to remove), or with ``overwrite``, none and every keyframe picture there
    (all gray: a colored one is refused). Another film's folder without ``overwrite`` is refused; a folder without
    ``keyframes.json`` keeps its pictures (``check_export_folder`` refused those an export would replace)."""
    if (folder / INDEX_NAME).exists():
        try:
            listed = read_index(folder, shots, size)
            for entry in listed if film_frame is not None else ():
                if entry.lightness is not None and entry.frame in keyframes.get(entry.index, ()):
                    check_index_print(folder, entry, film_frame(entry))
            return listed, []
        except InputError as exc:
            if not overwrite:
                raise OutputError(f"{exc}; nothing written: export into another folder, or pass --overwrite to replace its gray pictures") from None
    elif not overwrite:
        return [], []
    pictures = sorted(p for p in folder.iterdir() if KEYFRAME_NAME.match(p.name) and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    colored = next((p for p in pictures if not is_grayscale(composite(read_rgba(p)))), None)
    if colored is not None:
        raise OutputError(f"{colored}: a colored keyframe, which --overwrite never replaces; move it aside, then export again")
    return [], pictures


def _wanted(
    film: str | Path, shots: Sequence[Shot], first: dict[int, int], extra: Mapping[int, Sequence[int]], listed: Sequence[KeyframeEntry] = ()
) -> dict[tuple[int, int], str]:
    """``(shot index, film frame)`` -> file name of every frame to export: each shot's ``first`` keyframe, then ``extra``,
    but none ``listed`` already (the shots these list name their new frames ``shot_SSSS_FFFFFF``)."""
    known = {(e.index, e.frame) for e in listed}
    named = {e.index for e in listed}
    names = {(shot.index, first[shot.index]): keyframe_file(shot.index, first[shot.index] if shot.index in named else None) for shot in shots}
    for index, frames in extra.items():
        if not 0 <= index < len(shots):
            raise InputError(f"{film}: no shot {index} to export keyframes of; the film has shots 0 to {len(shots) - 1}")
        shot = shots[index]
        for frame in frames:
            if not shot.start_frame <= frame <= shot.end_frame:
                raise InputError(f"{film}: frame {frame} is not in shot {index} (frames {shot.start_frame}-{shot.end_frame})")
            if (index, frame) not in names and first[index] != frame:
                names[index, frame] = keyframe_file(index, frame)
    return {key: name for key, name in names.items() if key not in known}


def _decode(source: VideoSource, shots: Sequence[Shot], wanted: Sequence[tuple[int, int]]) -> Iterator[tuple[Shot, int, int, np.ndarray]]:
    """``(shot, frame, pts, rgb)`` of each ``wanted`` ``(shot index, film frame)`` (sorted): one seek to each shot that
    holds some (at its first frame, as the render counts them), then one pass up to the last wanted there. A seek per
    shot, not one pass over the film: one keyframe in each shot of a feature film would decode all of it (measured on
    8 shots of 720p: 1.16 s one pass, 1.00 s by shot)."""
    by_shot: dict[int, set[int]] = {}
    for index, frame in wanted:
        by_shot.setdefault(index, set()).add(frame)
    for index, frames in sorted(by_shot.items()):
        shot, left = shots[index], set(frames)
        for offset, (pts, decoded) in enumerate(source.video_frames(shot.start.pts, shot.end.pts)):
            if shot.start_frame + offset in left:  # only these are converted to RGB
                left.discard(shot.start_frame + offset)
                yield shot, shot.start_frame + offset, pts, source.rgb(decoded)
                if not left:
                    break
        if left:
            raise InputError(f"{source.path}: frame {min(left)} of shot {index} cannot be decoded")


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
    """Refuse a keyframe folder that cannot be made, or holds keyframe pictures (``targets``, default any) but no
    ``keyframes.json`` to tell which film they are of, without ``overwrite``. A folder with ``keyframes.json`` passes:
    ``export_keyframes`` adds to it when it is this film's, and refuses it otherwise."""
    folder = Path(folder)
    if not folder.parent.is_dir():
        raise OutputError(f"{folder}: its parent folder {folder.parent} does not exist")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder")
    if overwrite or not folder.is_dir() or (folder / INDEX_NAME).exists():
        return
    existing = [t for t in targets if t.exists()] if targets is not None else sorted(p for p in folder.iterdir() if KEYFRAME_NAME.match(p.name))
    if existing:
        raise OutputError(
            f"{existing[0]}: already exists, and no {INDEX_NAME} says which film it shows; pass --overwrite to replace the gray keyframes in {folder}"
        )


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
