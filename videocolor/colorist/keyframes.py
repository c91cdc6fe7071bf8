"""A colorist's keyframes going out: one frame per shot exported gray at full resolution, with ``keyframes.json``.

Colored by hand, they come back through ``analysis.keyframes.read_keyframes`` (the format is described there).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from ..analysis.keyframes import INDEX_NAME, KEYFRAME_NAME, KeyframeEntry, film_lightness, frame_of_shot, keyframe_file
from ..analysis.suggest import first_keyframes
from ..errors import OutputError
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
    film: str | Path, folder: str | Path, shots: Sequence[Shot], keyframes: dict[int, list[int]], *, overwrite: bool = False
) -> list[KeyframeEntry]:
    """Write each shot's keyframe as a gray PNG at the film's full resolution, and ``keyframes.json``.

    ``shots`` and ``keyframes`` are the analysis' (``analysis.analyse(film)``). The gray is the frame's Lab
    lightness as a neutral picture (16-bit PNG for sources deeper than 8 bits). ``keyframes.json`` records the
    film's frame size and count and each frame's print. ``folder`` is created when missing (its parent must
    exist); nothing is written when any target exists and ``overwrite`` is not set.
    """
    folder = Path(folder)
    frames = choose_keyframes(keyframes)
    targets = [folder / keyframe_file(s.index) for s in shots] + [folder / INDEX_NAME]
    check_export_folder(folder, overwrite, targets)
    folder.mkdir(exist_ok=True)
    entries = []
    with VideoSource(film) as source:
        size = {"width": source.info.width, "height": source.info.height, "frames": shots[-1].end_frame + 1 if shots else 0}
        for shot in shots:
            pts, rgb = frame_of_shot(source, shot, frames[shot.index])
            lightness = _write_gray(folder / keyframe_file(shot.index), rgb)
            time = float(pts * shot.start.time_base)
            mark = lightness_print(lightness)
            encoded = {"width": mark.shape[1], "height": mark.shape[0], "data": base64.b64encode(mark.tobytes()).decode("ascii")}
            entries.append(
                KeyframeEntry(shot.index, frames[shot.index], pts, time, shot.start_frame, shot.end_frame, keyframe_file(shot.index), encoded)
            )
    write_atomic(folder / INDEX_NAME, json.dumps({"film": size, "shots": [asdict(e) for e in entries]}, indent=2) + "\n")
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
