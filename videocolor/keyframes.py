"""A colorist's keyframes: one frame per shot, exported gray at full resolution, colored by hand, read back.

>>> analysis = analyse("film.mp4")                          # doctest: +SKIP
>>> entries = export_keyframes("film.mp4", "keys/", analysis.shots, analysis.keyframes)  # doctest: +SKIP
>>> # ... color keys/shot_0003.png in a paint tool, save it as shot_0003.png, .jpg or .tif ...
>>> found = read_keyframes("keys/", analysis.shots, (1080, 1920))   # doctest: +SKIP
>>> found.colored[3].path, found.uncolored                 # doctest: +SKIP

``keyframes.json`` ties each picture to its frame: a list of ``{index, frame, pts, time, start_frame,
end_frame, file}`` per shot (``frame`` counts from 0 in presentation order, ``pts`` in the video stream's
time base, ``time`` in seconds, ``end_frame`` inclusive).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .color import lightness_to_gray_rgb, rgb_to_lightness
from .errors import InputError, OutputError
from .io.atomic import write_atomic
from .io.decode import VideoSource
from .io.images import IMAGE_EXTENSIONS, is_grayscale, read_rgb
from .types import ReferenceChoice, Shot

INDEX_NAME = "keyframes.json"
_NAME = re.compile(r"^shot_(\d{4,})\.([A-Za-z0-9]+)$")
_ASPECT_TOLERANCE = 0.01  # relative aspect-ratio difference still taken as "the same picture at another scale"


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


def choose_keyframes(keyframes: dict[int, list[int]]) -> dict[int, int]:
    """Shot index -> the frame exported for it: the middle one of the analysis' keyframes (sharp, typical)."""
    return {shot: frames[len(frames) // 2] for shot, frames in keyframes.items()}


def export_keyframes(
    film: str | Path, folder: str | Path, shots: Sequence[Shot], keyframes: dict[int, list[int]], *, overwrite: bool = False
) -> list[KeyframeEntry]:
    """Write each shot's keyframe as a gray PNG at the film's full resolution, and ``keyframes.json``.

    ``shots`` and ``keyframes`` are the analysis' (``analysis.analyse(film)``). The gray is the frame's Lab
    lightness as a neutral picture (16-bit PNG for sources deeper than 8 bits). ``folder`` is created when
    missing (its parent must exist); nothing is written when any target exists and ``overwrite`` is not set.
    """
    folder = Path(folder)
    frames = choose_keyframes(keyframes)
    targets = [folder / keyframe_file(s.index) for s in shots] + [folder / INDEX_NAME]
    check_export_folder(folder, overwrite, targets)
    folder.mkdir(exist_ok=True)
    entries = []
    with VideoSource(film) as source:
        for shot in shots:
            pts, rgb = frame_of_shot(source, shot, frames[shot.index])
            _write_gray(folder / keyframe_file(shot.index), rgb)
            time = float(pts * shot.start.time_base)
            entries.append(KeyframeEntry(shot.index, frames[shot.index], pts, time, shot.start_frame, shot.end_frame, keyframe_file(shot.index)))
    write_atomic(folder / INDEX_NAME, json.dumps([asdict(e) for e in entries], indent=2) + "\n")
    return entries


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
        p for p in folder.iterdir() if p.name == INDEX_NAME or _NAME.match(p.name)
    )
    if existing:
        raise OutputError(f"{existing[0]}: already exists; pass --overwrite to replace the keyframes in {folder}")


def frame_of_shot(source: VideoSource, shot: Shot, frame: int) -> tuple[int, np.ndarray]:
    """``(pts, rgb)`` of the film's frame number ``frame``, counted from the shot's first frame (as the render does)."""
    for offset, (pts, rgb) in enumerate(source.frames(shot.start.pts, shot.end.pts)):
        if offset == frame - shot.start_frame:
            return pts, rgb
    raise InputError(f"{source.path}: frame {frame} of shot {shot.index} cannot be decoded")


def _write_gray(path: Path, rgb: np.ndarray) -> None:
    """A frame ``(H, W, 3)`` uint8/uint16 as a one-channel PNG of its lightness, same depth, atomically."""
    peak = 65535 if rgb.dtype == np.uint16 else 255
    lightness = rgb_to_lightness(torch.from_numpy(rgb.astype(np.float32) / peak).permute(2, 0, 1))
    gray = lightness_to_gray_rgb(lightness)[0].numpy()
    image = np.round(gray * peak).astype(rgb.dtype)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OutputError(f"{path}: cannot encode the keyframe")
    write_atomic(path, encoded.tobytes())


def read_index(folder: str | Path, shots: Sequence[Shot]) -> list[KeyframeEntry]:
    """``keyframes.json`` of ``folder``, checked against the film's ``shots`` (same shots, frames inside them)."""
    path = Path(folder) / INDEX_NAME
    if not Path(folder).is_dir():
        raise InputError(f"{folder}: keyframe folder not found" if not Path(folder).exists() else f"{folder}: not a folder")
    if not path.is_file():
        raise InputError(f"{path}: not found; export the keyframes with videocolor shots FILM --export-keyframes {folder}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [KeyframeEntry(**item) for item in data]
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a keyframe list ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    for entry in entries:
        numbers = (entry.index, entry.frame, entry.pts, entry.start_frame, entry.end_frame)
        if not all(type(n) is int for n in numbers) or not isinstance(entry.file, str):
            raise InputError(f"{path}: shot {entry.index!r} has a field of the wrong type; export the keyframes again")
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


def read_keyframes(folder: str | Path, shots: Sequence[Shot], size: tuple[int, int]) -> KeyframeSet:
    """The colored keyframes of ``folder`` for a film of ``shots`` and frame ``size`` ``(H, W)``.

    Every file must be ``keyframes.json`` or ``shot_NNNN.<image extension>`` of a listed shot (hidden files are
    ignored). A shot may have several files (the exported gray PNG beside the colorist's JPEG): the one in
    color counts; two in color is an error. A keyframe must have the film's aspect ratio (any scale).
    Raises ``InputError`` naming the offending file.
    """
    folder = Path(folder)
    entries = read_index(folder, shots)
    files: dict[int, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == INDEX_NAME:
            continue
        match = _NAME.match(path.name)
        if not path.is_file() or match is None or f".{match.group(2).lower()}" not in IMAGE_EXTENSIONS:
            raise InputError(f"{path}: not a keyframe (expected only shot_NNNN.png/.jpg/.tif... and {INDEX_NAME}); move it out of {folder}")
        index = int(match.group(1))
        if index >= len(entries):
            raise InputError(f"{path}: the film has no shot {index} (shots 0 to {len(entries) - 1})")
        files.setdefault(index, []).append(path)
    found = KeyframeSet()
    for entry in entries:
        colored = [p for p in files.get(entry.index, []) if not is_grayscale(_checked(p, size))]
        if len(colored) > 1:
            raise InputError(f"{colored[1]}: shot {entry.index} has two colored keyframes ({colored[0].name} too); keep one")
        if colored:
            found.colored[entry.index] = Keyframe(entry.index, entry.frame, entry.pts, colored[0])
        else:
            found.uncolored.append(entry.index)
    return found


def _checked(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A keyframe's RGB ``(3, h, w)`` in [0, 1], after checking its aspect ratio against the film's ``(H, W)``."""
    rgb = read_rgb(path)
    h, w = rgb.shape[-2:]
    if abs(w * size[0] / (h * size[1]) - 1) > _ASPECT_TOLERANCE:
        raise InputError(f"{path}: {w}x{h} does not have the film's aspect ratio ({size[1]}x{size[0]}); export it uncropped")
    return rgb


def load_keyframe(path: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """A colored keyframe as RGB ``(3, H, W)`` float32 in [0, 1] at the film's ``size`` (resized when at another scale)."""
    rgb = _checked(Path(path), size)
    if tuple(rgb.shape[-2:]) != tuple(size):
        rgb = torch.nn.functional.interpolate(rgb[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return rgb.clamp(0, 1)


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
