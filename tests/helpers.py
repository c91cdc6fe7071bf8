"""Plain functions shared by the tests: test films made of real photos, reference pictures, and decoding an output.

Fixtures live in ``conftest.py``; everything a test module imports comes from here (``pythonpath`` in
pyproject's pytest section), never from another test module.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data
import synth
import torch

from videocolor.color import rgb_to_lab
from videocolor.io.images import write_rgb

SIZE = (90, 160)  # (H, W) of the default test film
SHOT_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "china", "flower")
DISTRACTORS = ("cat", "retina", "colorwheel", "immunohistochemistry", "hubble_deep_field")


def save_image(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 ``(H, W, 3)`` array as an image file."""
    write_rgb(path, torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255)
    return path


def mirrored_reference(photo: np.ndarray) -> np.ndarray:
    """A different view of the same photo: mirrored, cropped and rescaled (the reference in quality tests)."""
    h, w = photo.shape[:2]
    crop = np.ascontiguousarray(photo[:, ::-1][int(h * 0.05) :, : int(w * 0.9)])
    return cv2.resize(crop, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)


def cut_film(path: Path, photos: list[str], frames: int, fps: Fraction = Fraction(25)) -> Path:
    """A gray film of one ``frames``-long pan per photo (a hard cut between them) with an audio track."""
    clips = [synth.pan(synth.load_photo(name), frames, SIZE) for name in photos]
    return synth.write_clip(path, [f for clip in clips for f in clip], fps=fps)


def two_shots() -> list[np.ndarray]:
    """True-color RGB frames of two shots: a 14-frame pan over the astronaut, a 14-frame zoom on the cat."""
    return synth.pan(synth.load_photo("astronaut"), 14, SIZE) + synth.zoom(synth.load_photo("chelsea"), 14, SIZE)


def film_frames() -> tuple[list[np.ndarray], list[int], int, int]:
    """Gray RGB frames of 6 shots (``SHOT_PHOTOS``): hard cuts, a fade through black into shot 3, a flash in shot 4.

    Returns ``(frames, shot starts, first black frame of the fade, first flash frame)``.
    """
    p = synth.load_photo
    parts = [
        synth.pan(p("astronaut"), 14, SIZE),
        synth.zoom(p("chelsea"), 12, SIZE),
        synth.fade(synth.pan(p("coffee"), 14, SIZE), fade_out=5),
        [np.zeros((*SIZE, 3), np.uint8)] * 2,
        synth.fade(synth.zoom(p("rocket"), 14, SIZE), fade_in=5),
        synth.pan(p("china"), 24, SIZE),
        [synth.still(p("flower"), SIZE)] * 12,
    ]
    frames, starts = [], []
    for part in parts:
        starts.append(len(frames))
        frames += [synth.to_gray(f) for f in part]
    black, flash = starts[3], starts[5] + 10
    for i in range(flash, flash + 3):
        frames[i] = np.clip(frames[i].astype(np.float32) * 1.6 + 40, 0, 255).astype(np.uint8)
    del starts[3]
    return frames, starts, black, flash


def make_ref_dir(folder: Path) -> Path:
    """Each shot photo cropped, flipped (every other), shrunk, brightened and JPEG'd, plus distractors and junk."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(SHOT_PHOTOS):
        im = synth.load_photo(name)
        h, w = im.shape[:2]
        im = im[h // 10 : h - h // 12, w // 12 : w - w // 10]
        im = im[:, ::-1] if k % 2 == 0 else im
        im = cv2.resize(im, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
        im = np.clip(im.astype(np.float32) * 1.1 + 8, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"{name}.jpg"), im[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 70])
    for name in DISTRACTORS:
        cv2.imwrite(str(folder / f"x_{name}.png"), cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "x_logo.png"), cv2.cvtColor(skimage.data.logo(), cv2.COLOR_RGBA2BGRA))
    cv2.imwrite(str(folder / "x_coins_gray.png"), skimage.data.coins())
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"garbage")
    return folder


def frames_rgb(path: Path) -> np.ndarray:
    """Every decoded video frame of ``path``: uint8 ``(T, H, W, 3)``."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def frames_lab(path: Path) -> torch.Tensor:
    """Every decoded video frame of ``path`` in CIE Lab: float ``(T, 3, H, W)``, L in [0, 100]."""
    return rgb_to_lab(torch.from_numpy(frames_rgb(path)).permute(0, 3, 1, 2).float() / 255)


def frame_pts(path: Path) -> list[Fraction]:
    """Presentation time of every decoded video frame of ``path``, in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts * stream.time_base for frame in container.decode(stream)]


def packets(path: Path, kind: str) -> list[tuple[Fraction, bytes]]:
    """``(pts in seconds, payload)`` of every non-empty packet of the first ``kind`` stream (``"audio"``, ...)."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(p.pts * stream.time_base, bytes(p)) for p in container.demux(stream) if p.size]
