"""A colorist's keyframes: frames of each shot exported gray at full resolution, colored by hand, read back.

>>> analysis = analyse("film.mp4")                          # doctest: +SKIP
>>> entries = export_keyframes("film.mp4", "keys/", analysis.shots, analysis.keyframes, extra={3: [120]})  # doctest: +SKIP
>>> # ... color keys/shot_0003.png and keys/shot_0003_000120.png in a paint tool (as .png, .jpg or .tif) ...
>>> found = read_keyframes("keys/", analysis.shots, (1080, 1920))   # doctest: +SKIP
>>> [k.frame for k in found.colored[3]], found.uncolored   # doctest: +SKIP

``keyframes.json`` (``keyframe_index``) ties each picture to its frame and the folder to its film. A folder
from another film (other size or frame count, or frames whose print differs) and a colored picture that does
not show its frame are refused. A shot may have several colored keyframes, one a frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io.decode import VideoSource
from ..io.images import IMAGE_EXTENSIONS, is_grayscale, read_rgba
from ..ops.color import lightness_to_gray_rgb, lightness_u8, rgb_to_lightness
from ..ops.lightness_print import lightness_print, print_match
from ..records import ReferenceChoice, Shot
from .keyframe_index import INDEX_NAME, KEYFRAME_NAME, KeyframeEntry, entry_of_file, read_index

log = logging.getLogger("videocolor")

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
class Keyframe:
    """A keyframe a colorist has colored: ``path`` shows the frame ``frame`` (pts ``pts``) of shot ``shot``."""

    shot: int
    frame: int
    pts: int
    path: Path


@dataclass
class KeyframeSet:
    """What a keyframe folder holds for a film: each shot's colored keyframes (sorted by frame; a shot with any counts
    as colored) and the shots with none."""

    colored: dict[int, list[Keyframe]] = field(default_factory=dict)
    uncolored: list[int] = field(default_factory=list)


def frame_of_shot(source: VideoSource, shot: Shot, frame: int) -> tuple[int, np.ndarray]:
    """``(pts, rgb)`` of the film's frame number ``frame``, counted from the shot's first frame (as the render does)."""
    for offset, (pts, rgb) in enumerate(source.frames(shot.start.pts, shot.end.pts)):
        if offset == frame - shot.start_frame:
            return pts, rgb
    raise InputError(f"{source.path}: frame {frame} of shot {shot.index} cannot be decoded")


def read_keyframes(
    folder: str | Path, shots: Sequence[Shot], size: tuple[int, int], film_frame: Callable[[KeyframeEntry], np.ndarray] | None = None
) -> KeyframeSet:
    """The colored keyframes of ``folder`` for a film of ``shots`` and frame ``size`` ``(H, W)``.

    Every file must be ``keyframes.json`` or a picture named after a listed frame (``keyframe_index``: ``shot_SSSS``
    or ``shot_SSSS_FFFFFF`` with an image extension; hidden files are ignored). A frame may have several files (the
    exported gray PNG beside the colorist's JPEG): the one in color counts; two in color is an error. Each colored
    picture must have the film's aspect ratio (any scale) and show its frame: its lightness must match the frame's
    print (``MIN_MATCH``), whatever its colors and tone. ``film_frame`` gives the film's own frame of an entry as
    Lab L ``(h, w)`` in [0, 100] (any size): for each colored frame, the print ``keyframes.json`` holds must match
    it (or an older index, without prints, takes it as the print). A keyframe with transparent areas is taken over
    the gray frame there (they keep no color), with a warning. Raises ``InputError`` naming the offending file.
    """
    folder = Path(folder)
    entries = read_index(folder, shots, size)
    files: dict[tuple[int, int], list[Path]] = {}  # (shot, frame) -> its pictures
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == INDEX_NAME:
            continue
        match = KEYFRAME_NAME.match(path.name)
        if not path.is_file() or match is None or f".{match.group(3).lower()}" not in IMAGE_EXTENSIONS:
            raise InputError(
                f"{path}: not a keyframe (expected only shot_SSSS.png/.jpg/.tif..., shot_SSSS_FFFFFF.png... and {INDEX_NAME}); "
                f"move it out of {folder}"
            )
        entry = entry_of_file(path, entries, shots)
        files.setdefault((entry.index, entry.frame), []).append(path)
    found = KeyframeSet()
    for entry in entries:
        pictures = {p: _checked(p, size) for p in files.get((entry.index, entry.frame), [])}
        colored = [p for p, rgba in pictures.items() if not is_grayscale(composite(rgba))]
        if len(colored) > 1:
            raise InputError(f"{colored[1]}: two colored pictures of shot {entry.index}'s {entry.timecode} ({colored[0].name} too); keep one")
        if colored:
            _check_shows(colored[0], pictures[colored[0]], entry, folder, film_frame)
            found.colored.setdefault(entry.index, []).append(Keyframe(entry.index, entry.frame, entry.pts, colored[0]))
    found.uncolored = [s.index for s in shots if s.index not in found.colored]
    return found


def _check_shows(path: Path, rgba: torch.Tensor, entry: KeyframeEntry, folder: Path, film_frame: Callable | None) -> None:
    """Refuse a colored keyframe that does not show its entry's frame; warn when it is partly transparent."""
    mark = entry.print()
    if film_frame is not None:
        frame = film_frame(entry)
        if mark is None:
            mark = lightness_print(frame)
        else:
            check_index_print(folder, entry, frame)
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


def check_index_print(folder: Path, entry: KeyframeEntry, frame: np.ndarray) -> None:
    """Refuse ``folder``'s ``keyframes.json`` when ``entry``'s print (which it must hold) does not match the film's
    frame, Lab L ``(h, w)`` in [0, 100] (any size): the folder was exported from another film."""
    if print_match(entry.print(), frame) < MIN_MATCH:
        raise InputError(
            f"{folder / INDEX_NAME}: shot {entry.index}'s {entry.timecode} is not this film's; it was exported from "
            "another film: export the keyframes of this film"
        )


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
    """Each shot with colored keyframes takes them as its references (``source="keyframe"``, ``keyframes`` by pts);
    the rest keep theirs."""
    out = []
    for choice in choices:
        keys = keyframes.colored.get(choice.shot)
        if keys:
            out.append(ReferenceChoice(choice.shot, None, None, choice.candidates, "keyframe", keyframes=tuple((k.path, k.pts) for k in keys)))
        else:
            out.append(choice)
    return out
