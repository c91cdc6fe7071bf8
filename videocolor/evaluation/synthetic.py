"""Test films made from real photos: camera pans, zooms, cuts, fades, with a generated audio track.

The synthetic suite of ``scripts/evaluate.py`` and the films of the tests, ``scripts/make_samples.py`` and
``scripts/bench.py``: ``from videocolor.evaluation import synthetic``. The photos are the public-domain
pictures that ship inside scikit-image and scikit-learn, which are dev extras: they are imported when a photo
is loaded, not with this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from ..ops.color import lightness_to_gray_rgb, rgb_to_lightness

SKLEARN_PHOTOS = ("china", "flower")


def load_photo(name: str) -> np.ndarray:
    """An RGB uint8 ``(H, W, 3)`` photo by name: a scikit-image ``data`` function or sklearn's china/flower."""
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image  # scikit-learn takes seconds to import; two photos need it

        return np.ascontiguousarray(load_sample_image(f"{name}.jpg"))
    import skimage.data  # a dev extra

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def _crop_resize(photo: np.ndarray, x: float, y: float, w: float, h: float, size: tuple[int, int]) -> np.ndarray:
    """Crop the window (x, y, w, h) in photo pixels with sub-pixel accuracy and resize to ``size`` (H, W)."""
    out_h, out_w = size
    sx, sy = w / out_w, h / out_h
    matrix = np.array([[sx, 0, x + 0.5 * sx - 0.5], [0, sy, y + 0.5 * sy - 0.5]], dtype=np.float64)
    interp = cv2.INTER_AREA if sx > 1.5 else cv2.INTER_LINEAR
    if sx > 1.5:  # pre-shrink so the affine resampling does not alias
        scale = 1.0 / sx
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return _crop_resize(small, x * scale, y * scale, w * scale, h * scale, size)
    return cv2.warpAffine(photo, matrix, (out_w, out_h), flags=interp | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


def pan(photo: np.ndarray, num_frames: int, size: tuple[int, int], travel: float = 0.35) -> list[np.ndarray]:
    """A horizontal camera pan: a window of the photo's height at ``size``'s aspect, moving by ``travel`` of the width."""
    ph, pw = photo.shape[:2]
    out_h, out_w = size
    win_h = min(ph, pw * out_h / out_w / (1 + travel))
    win_w = win_h * out_w / out_h
    x0 = (pw - win_w * (1 + travel)) / 2
    y0 = (ph - win_h) / 2
    steps = np.linspace(0.0, travel * win_w, num_frames)
    return [_crop_resize(photo, x0 + dx, y0, win_w, win_h, size) for dx in steps]


def zoom(photo: np.ndarray, num_frames: int, size: tuple[int, int], factor: float = 1.5) -> list[np.ndarray]:
    """A zoom into the photo's centre by ``factor`` over the clip."""
    ph, pw = photo.shape[:2]
    out_h, out_w = size
    win_h = min(ph, pw * out_h / out_w)
    win_w = win_h * out_w / out_h
    frames = []
    for s in np.geomspace(1.0, 1.0 / factor, num_frames):
        w, h = win_w * s, win_h * s
        frames.append(_crop_resize(photo, (pw - w) / 2, (ph - h) / 2, w, h, size))
    return frames


def still(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The photo's centre at ``size``'s aspect, resized to ``size`` (H, W)."""
    return pan(photo, 1, size, travel=0.0)[0]


def fade(frames: Sequence[np.ndarray], fade_in: int = 0, fade_out: int = 0) -> list[np.ndarray]:
    """Fade the first ``fade_in`` frames up from black and the last ``fade_out`` frames down to black."""
    out = [f.astype(np.float32) for f in frames]
    for i in range(fade_in):
        out[i] *= (i + 1) / (fade_in + 1)
    for i in range(fade_out):
        out[-1 - i] *= (i + 1) / (fade_out + 1)
    return [np.clip(f + 0.5, 0, 255).astype(np.uint8) for f in out]


def to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 -> gray RGB uint8 with the same Lab lightness (R = G = B)."""
    t = torch.from_numpy(frame).permute(2, 0, 1).float().div(255)
    gray = lightness_to_gray_rgb(rgb_to_lightness(t))
    return (gray.mul(255).round().clamp(0, 255).byte().permute(1, 2, 0)).numpy()


def write_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    *,
    fps: Fraction = Fraction(25),
    gray: bool = True,
    audio_seconds: float | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    timecode: str | None = None,
) -> Path:
    """Encode RGB uint8 frames to ``path`` (gray if ``gray``) with a stereo AAC sine tone, unless ``audio_seconds == 0``.

    The audio lasts as long as the video unless ``audio_seconds`` says otherwise. ``timecode``: the film's source
    timecode start (``01:00:00:00``, ``;`` for drop frame), a timecode track in MP4/MOV, a tag in Matroska.
    """
    path = Path(path)
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        if timecode is not None:
            container.metadata["timecode"] = timecode
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.options = {"crf": "16", "preset": "veryfast", **(options or {})} if codec == "libx264" else (options or {})
        audio = None
        duration = len(frames) / fps
        seconds = float(duration) if audio_seconds is None else audio_seconds
        if seconds > 0:
            audio = container.add_stream("aac", rate=44100, layout="stereo")
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(to_gray(rgb) if gray else rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1) / fps
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None:
            _write_tone(container, audio, seconds)
    return path


def _write_tone(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    rate, samples_per_frame = 44100, 1024
    total = int(round(seconds * rate))
    t = np.arange(total) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 0.5 * t)).astype(np.float32)
    stereo = np.stack([tone, tone[::-1]])
    for start in range(0, total, samples_per_frame):
        chunk = np.ascontiguousarray(stereo[:, start : start + samples_per_frame])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
