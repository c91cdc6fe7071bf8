"""A colorist's keyframes: one frame per shot, exported gray at full resolution, colored by hand, read back.

>>> analysis = analyse("film.mp4")                          # doctest: +SKIP
>>> entries = export_keyframes("film.mp4", "keys/", analysis.shots, analysis.keyframes)  # doctest: +SKIP
>>> # ... color keys/shot_0003.png in a paint tool, save it as shot_0003.png, .jpg or .tif ...
>>> found = read_keyframes("keys/", analysis.shots, (1080, 1920))   # doctest: +SKIP
>>> found.colored[3].path, found.uncolored                 # doctest: +SKIP

``keyframes.json`` ties each picture to its frame and the folder to its film: ``{"film": {width, height,
frames}, "shots": [...]}`` with ``{index, frame, pts, time, start_frame, end_frame, file, lightness}`` per
shot (``frame`` counts from 0 in presentation order, ``pts`` in the video stream's time base, ``time`` in
seconds, ``end_frame`` inclusive, ``lightness`` the frame's print: ``{width, height, data}``, its Lab L at
most ``PRINT_SIDE`` px on the long side, one byte a pixel (L x 2.55), base64). A folder from another film
(other size or frame count, or frames whose print differs) and a colored picture that does not show its
frame are refused. A list of shots without ``film`` and ``lightness`` (before 0.2) is read with a warning:
its pictures are still checked against the film's frames.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io.decode import VideoSource
from ..io.images import IMAGE_EXTENSIONS, is_grayscale, read_rgba
from ..ops.color import lightness_to_gray_rgb, lightness_u8, rgb_to_lightness
from ..ops.lightness_print import lightness_print, print_match
from ..records import ReferenceChoice, Shot
from ..timecode import format_seconds

log = logging.getLogger("videocolor")

INDEX_NAME = "keyframes.json"
KEYFRAME_NAME = re.compile(r"^shot_(\d{4,})\.([A-Za-z0-9]+)$")
_ASPECT_TOLERANCE = 0.01  # relative aspect-ratio difference still taken as "the same picture at another scale"
# A colored keyframe must match its frame's print at least this much (``lightness_print.print_match``); so must
# the print keyframes.json holds match the film's frame. Measured (``scripts/evaluate_keyframes.py --prints``)
# on the 10 real pairs' targets and the 7 shots' keyframes of the 2 real films, each colored 25 ways (true
# colors, hue turned 60/120/180 degrees, saturation x0.3/x2, luminance transfer, painted tints, JPEG q60 at
# half size, brightness +-0.15, contrast x0.6/x1.5, gamma 0.5/2, vignette 0.3/0.5, each re-lighting also with
# the hue turned 120): 425 cases, min 0.84 (gamma 2 with hue 120), 1st percentile 0.90, median 0.99. Wrong
# pictures: another shot's keyframe of the same film (swapped; also hue-turned and gamma 0.5), 90 cases, at
# most 0.09 (median 0.02); another film's frame, 240 cases, at most 0.18 (median 0.00). For scale: a stereo
# view of the same scene, median 0.07 (0.99 for the same view re-lit); the same shot 1 / 5 / 25 frames away,
# median 0.98 / 0.89 / 0.08. 0.5 is midway between the groups.
MIN_MATCH = 0.5
_OPAQUE = 0.5  # alpha above which a keyframe's pixel counts as the colorist's (below: the gray frame shows through)


@dataclass(frozen=True)
class KeyframeEntry:
    """One shot's line of ``keyframes.json``."""

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


@dataclass(frozen=True)
class Keyframe:
    """A keyframe a colorist has colored: ``path`` shows the frame ``frame`` (pts ``pts``) of shot ``shot``."""

    shot: int
    frame: int
    pts: int
    path: Path


@dataclass
class KeyframeSet:
    """What a keyframe folder holds for a film: the colored keyframes and the shots still gray or missing."""

    colored: dict[int, Keyframe] = field(default_factory=dict)
    uncolored: list[int] = field(default_factory=list)


def keyframe_file(index: int, suffix: str = ".png") -> str:
    """``shot_NNNN.png``: the file name of shot ``index``'s keyframe."""
    return f"shot_{index:04d}{suffix}"


def frame_of_shot(source: VideoSource, shot: Shot, frame: int) -> tuple[int, np.ndarray]:
    """``(pts, rgb)`` of the film's frame number ``frame``, counted from the shot's first frame (as the render does)."""
    for offset, (pts, rgb) in enumerate(source.frames(shot.start.pts, shot.end.pts)):
        if offset == frame - shot.start_frame:
            return pts, rgb
    raise InputError(f"{source.path}: frame {frame} of shot {shot.index} cannot be decoded")


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
    its ``shots`` (same shots, frames inside them). An index without the film's size (before 0.2) is read with
    a warning."""
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
    if len(entries) != len(shots):
        raise InputError(f"{path}: lists {len(entries)} shots but the film has {len(shots)}; it was exported from another film or cut")
    for entry, shot in zip(entries, shots):
        same = (entry.index, entry.start_frame, entry.end_frame) == (shot.index, shot.start_frame, shot.end_frame)
        if not same or not shot.start_frame <= entry.frame <= shot.end_frame or not shot.start.pts <= entry.pts < shot.end.pts:
            raise InputError(
                f"{path}: shot {entry.index} (frames {entry.start_frame}-{entry.end_frame}) does not match the film's shot "
                f"{shot.index} (frames {shot.start_frame}-{shot.end_frame}); export the keyframes of this film again"
            )
    return entries


def _check_film(path: Path, film: object, size: tuple[int, int], frames: int) -> None:
    """Refuse ``keyframes.json`` (at ``path``) whose ``film`` record is not the film's frame ``size`` and ``frames``."""
    fields = ("width", "height", "frames")
    if not isinstance(film, dict) or set(film) != set(fields) or not all(type(film[k]) is int for k in fields):
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


def read_keyframes(
    folder: str | Path, shots: Sequence[Shot], size: tuple[int, int], film_frame: Callable[[KeyframeEntry], np.ndarray] | None = None
) -> KeyframeSet:
    """The colored keyframes of ``folder`` for a film of ``shots`` and frame ``size`` ``(H, W)``.

    Every file must be ``keyframes.json`` or ``shot_NNNN.<image extension>`` of a listed shot (hidden files are
    ignored). A shot may have several files (the exported gray PNG beside the colorist's JPEG): the one in
    color counts; two in color is an error. A keyframe must have the film's aspect ratio (any scale) and show
    its frame: its lightness must match the frame's print (``MIN_MATCH``), whatever its colors and tone.
    ``film_frame`` gives the film's own frame of an entry as Lab L ``(h, w)`` in [0, 100] (any size): for each
    colored shot, the print ``keyframes.json`` holds must match it (or an older index, without prints, takes
    it as the print). A keyframe with transparent areas is taken over the gray frame there (they keep no
    color), with a warning. Raises ``InputError`` naming the offending file.
    """
    folder = Path(folder)
    entries = read_index(folder, shots, size)
    files: dict[int, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == INDEX_NAME:
            continue
        match = KEYFRAME_NAME.match(path.name)
        if not path.is_file() or match is None or f".{match.group(2).lower()}" not in IMAGE_EXTENSIONS:
            raise InputError(f"{path}: not a keyframe (expected only shot_NNNN.png/.jpg/.tif... and {INDEX_NAME}); move it out of {folder}")
        index = int(match.group(1))
        if index >= len(entries):
            raise InputError(f"{path}: the film has no shot {index} (shots 0 to {len(entries) - 1})")
        files.setdefault(index, []).append(path)
    found = KeyframeSet()
    for entry in entries:
        pictures = {p: _checked(p, size) for p in files.get(entry.index, [])}
        colored = [p for p, rgba in pictures.items() if not is_grayscale(composite(rgba))]
        if len(colored) > 1:
            raise InputError(f"{colored[1]}: shot {entry.index} has two colored keyframes ({colored[0].name} too); keep one")
        if colored:
            _check_shows(colored[0], pictures[colored[0]], entry, folder, film_frame)
            found.colored[entry.index] = Keyframe(entry.index, entry.frame, entry.pts, colored[0])
        else:
            found.uncolored.append(entry.index)
    return found


def _check_shows(path: Path, rgba: torch.Tensor, entry: KeyframeEntry, folder: Path, film_frame: Callable | None) -> None:
    """Refuse a colored keyframe that does not show its entry's frame; warn when it is partly transparent."""
    mark = entry.print()
    if film_frame is not None:
        frame = film_frame(entry)
        if mark is None:
            mark = lightness_print(frame)
        elif print_match(mark, frame) < MIN_MATCH:
            raise InputError(
                f"{folder / INDEX_NAME}: shot {entry.index}'s {entry.timecode} is not this film's; it was exported from "
                "another film: export the keyframes of this film"
            )
    opaque = rgba[3] > _OPAQUE
    if mark is not None:
        score = print_match(mark, rgb_to_lightness(rgba[:3])[0].numpy(), opaque.numpy())
        if score < MIN_MATCH:
            raise InputError(
                f"{path}: does not show shot {entry.index}'s {entry.timecode} (lightness match {score:.2f}, under "
                f"{MIN_MATCH}); color the picture exported for that frame"
            )
    see_through = float((rgba[3] < 1).float().mean())
    if see_through > 0:
        log.warning("%s: %.0f%% of it is transparent (or translucent); the gray frame shows through there, with no color", path, max(1, 100 * see_through))


def _checked(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A keyframe's RGBA ``(4, h, w)`` in [0, 1], after checking its aspect ratio against the film's ``(H, W)``."""
    rgba = read_rgba(path)
    h, w = rgba.shape[-2:]
    if abs(w * size[0] / (h * size[1]) - 1) > _ASPECT_TOLERANCE:
        raise InputError(f"{path}: {w}x{h} does not have the film's aspect ratio ({size[1]}x{size[0]}); export it uncropped")
    return rgba


def composite(rgba: torch.Tensor, lightness: torch.Tensor | None = None) -> torch.Tensor:
    """A keyframe ``(4, H, W)`` in [0, 1] over its gray frame: RGB ``(3, H, W)`` in [0, 1].

    ``lightness``: the film frame's Lab L ``(1, H, W)`` in [0, 100] (default: the picture's own, enough to
    judge its colors); where the picture is transparent, the frame's neutral gray shows: no color.
    """
    rgb, alpha = rgba[:3], rgba[3:]
    if bool((alpha >= 1).all()):
        return rgb
    gray = lightness_to_gray_rgb(rgb_to_lightness(rgb) if lightness is None else lightness)
    return alpha * rgb + (1 - alpha) * gray


def load_keyframe(path: str | Path, size: tuple[int, int], gray: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
    """A colored keyframe as RGB ``(3, H, W)`` float32 in [0, 1] at the film's ``size`` (resized when at another scale).

    ``gray`` gives the film's frame the keyframe shows, as Lab L ``(1, h, w)`` in [0, 100] (any size), or
    ``None``: called only when the picture is transparent somewhere, it shows there (``composite``; without
    it, the picture's own lightness).
    """
    rgba = _checked(Path(path), size)
    if tuple(rgba.shape[-2:]) != tuple(size):
        rgba = torch.nn.functional.interpolate(rgba[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    rgba = rgba.clamp(0, 1)
    lightness = gray() if gray is not None and bool((rgba[3] < 1).any()) else None
    if lightness is not None:
        lightness = torch.nn.functional.interpolate(lightness[None].float(), size=size, mode="area")[0].to(rgba)
    return composite(rgba, lightness)


def film_frames(film: str | Path, shots: Sequence[Shot], analysed: dict[int, list[int]], images: dict[int, list[np.ndarray]]) -> Callable:
    """``film_frame`` for ``read_keyframes``: an entry's frame of ``film`` as Lab L ``(h, w)``, from the analysis'
    keyframe ``images`` (uint8 gray, frame numbers in ``analysed``) when it is one of them, else decoded."""

    def frame(entry: KeyframeEntry) -> np.ndarray:
        known = analysed.get(entry.index, [])
        if entry.frame in known:
            return lightness_u8(np.repeat(images[entry.index][known.index(entry.frame)][..., None], 3, axis=2))
        with VideoSource(film) as source:
            return film_lightness(frame_of_shot(source, shots[entry.index], entry.frame)[1])[0]

    return frame


def film_lightness(rgb: np.ndarray) -> torch.Tensor:
    """A decoded frame ``(H, W, 3)`` uint8/uint16 as Lab L ``(1, H, W)`` float32 in [0, 100]."""
    peak = 65535 if rgb.dtype == np.uint16 else 255
    return rgb_to_lightness(torch.from_numpy(rgb.astype(np.float32) / peak).permute(2, 0, 1))


def apply_keyframes(choices: Sequence[ReferenceChoice], keyframes: KeyframeSet) -> list[ReferenceChoice]:
    """Each shot with a colored keyframe takes it as its reference (``source="keyframe"``); the rest keep theirs."""
    out = []
    for choice in choices:
        key = keyframes.colored.get(choice.shot)
        if key is not None:
            out.append(ReferenceChoice(choice.shot, key.path, None, choice.candidates, "keyframe", key.pts))
        else:
            out.append(choice)
    return out
