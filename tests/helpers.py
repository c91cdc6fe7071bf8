"""Plain functions shared by the tests: test films made of real photos, reference pictures, decoding an output, and
fake DEVC release archives.

Fixtures live in ``conftest.py``; everything a test module imports comes from here (``pythonpath`` in
pyproject's pytest section), never from another test module.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import skimage.data
import torch

from videocolor.evaluation import synthetic as synth
from videocolor.evaluation.protocol import read_frames
from videocolor.io.images import write_rgb
from videocolor.ops.color import lightness_u8, rgb_to_lab

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


def worker_processes(pid: int) -> list[int]:
    """Process ids of the worker processes (spawned by ``multiprocessing``) whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and "spawn_main" in (entry / "cmdline").read_text():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def worker_threads() -> tuple[int, int, int]:
    """Run in a worker process: the cores it counts on, OpenCV's threads, and torch's once the render's
    policy is applied (``render.devices``)."""
    from videocolor.render.devices import apply_process_policy, cpu_cores

    apply_process_policy(torch.device("cpu"))
    return cpu_cores(), cv2.getNumThreads(), torch.get_num_threads()


def two_shots() -> list[np.ndarray]:
    """True-color RGB frames of two shots: a 14-frame pan over the astronaut, a 14-frame zoom on the cat."""
    return synth.pan(synth.load_photo("astronaut"), 14, SIZE) + synth.zoom(synth.load_photo("chelsea"), 14, SIZE)


def painted(gray: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """A gray frame ``(H, W, 3)`` uint8 tinted to Lab ``ab`` with its own lightness (a colorist's paint): RGB uint8."""
    lab = np.dstack((lightness_u8(gray), np.full(gray.shape[:2], ab[0], np.float32), np.full(gray.shape[:2], ab[1], np.float32)))
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB) * 255 + 0.5, 0, 255).astype(np.uint8)


def mean_ab(rgb: np.ndarray) -> np.ndarray:
    """Mean Lab a, b of an RGB uint8 picture."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 1:].reshape(-1, 2).mean(0)


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
    return read_frames(path)[0]


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


# Fake DEVC release archives for tests: every official tensor name and shape, almost no bytes.
#
# The tables below are the official checkpoints' tensor names and shapes, taken from the upstream classes
# (zhangmozhe/Deep-Exemplar-based-Video-Colorization), written out here independently of
# ``videocolor.models`` so tests check the models against them rather than against themselves.
#
# Tensors are zero views of a single stored float (``torch.zeros(1).expand(shape)``), so each .pth file is a
# few kilobytes yet loads as full-size tensors; ``conv10_ab.bias`` is set so the colorizer's output is a
# known constant, ``FAKE_AB``.

WARPNET_PATH = "checkpoints/video_moredata_l1/nonlocal_net_iter_76000.pth"
COLORNET_PATH = "checkpoints/video_moredata_l1/colornet_iter_76000.pth"
VGG19_CONV_PATH = "data/vgg19_conv.pth"
VGG19_GRAY_PATH = "data/vgg19_gray.pth"
OFFICIAL_PARAMS = {WARPNET_PATH: 6_917_131, COLORNET_PATH: 32_802_370, VGG19_CONV_PATH: 20_024_384}
FAKE_COLORNET_BIAS = (0.25, -0.125)
# ab the colorizer returns with the fake weights: tanh(bias) x 128, then the released x 1.25.
FAKE_AB = tuple(1.25 * 128 * math.tanh(b) for b in FAKE_COLORNET_BIAS)

WARPNET = (
    ('layer2_1.1.weight', (128, 128, 3, 3)),
    ('layer2_1.1.bias', (128,)),
    ('layer2_1.3.weight', (1,)),
    ('layer2_1.5.weight', (64, 128, 3, 3)),
    ('layer2_1.5.bias', (64,)),
    ('layer2_1.7.weight', (1,)),
    ('layer3_1.1.weight', (128, 256, 3, 3)),
    ('layer3_1.1.bias', (128,)),
    ('layer3_1.3.weight', (1,)),
    ('layer3_1.5.weight', (64, 128, 3, 3)),
    ('layer3_1.5.bias', (64,)),
    ('layer3_1.7.weight', (1,)),
    ('layer4_1.1.weight', (256, 512, 3, 3)),
    ('layer4_1.1.bias', (256,)),
    ('layer4_1.3.weight', (1,)),
    ('layer4_1.5.weight', (64, 256, 3, 3)),
    ('layer4_1.5.bias', (64,)),
    ('layer4_1.7.weight', (1,)),
    ('layer5_1.1.weight', (256, 512, 3, 3)),
    ('layer5_1.1.bias', (256,)),
    ('layer5_1.3.weight', (1,)),
    ('layer5_1.6.weight', (64, 256, 3, 3)),
    ('layer5_1.6.bias', (64,)),
    ('layer5_1.8.weight', (1,)),
    ('layer.0.conv1.weight', (256, 256, 3, 3)),
    ('layer.0.conv1.bias', (256,)),
    ('layer.0.prelu.weight', (1,)),
    ('layer.0.conv2.weight', (256, 256, 3, 3)),
    ('layer.0.conv2.bias', (256,)),
    ('layer.1.conv1.weight', (256, 256, 3, 3)),
    ('layer.1.conv1.bias', (256,)),
    ('layer.1.prelu.weight', (1,)),
    ('layer.1.conv2.weight', (256, 256, 3, 3)),
    ('layer.1.conv2.bias', (256,)),
    ('layer.2.conv1.weight', (256, 256, 3, 3)),
    ('layer.2.conv1.bias', (256,)),
    ('layer.2.prelu.weight', (1,)),
    ('layer.2.conv2.weight', (256, 256, 3, 3)),
    ('layer.2.conv2.bias', (256,)),
    ('theta.weight', (256, 256, 1, 1)),
    ('theta.bias', (256,)),
    ('phi.weight', (256, 256, 1, 1)),
    ('phi.bias', (256,)),
)
COLORNET = (
    ('conv1_1.0.weight', (32, 7, 3, 3)),
    ('conv1_1.0.bias', (32,)),
    ('conv1_1.2.weight', (64, 32, 3, 3)),
    ('conv1_1.2.bias', (64,)),
    ('conv1_2.weight', (64, 64, 3, 3)),
    ('conv1_2.bias', (64,)),
    ('conv1_2norm_ss.weight', (64, 1, 1, 1)),
    ('conv2_1.weight', (128, 64, 3, 3)),
    ('conv2_1.bias', (128,)),
    ('conv2_2.weight', (128, 128, 3, 3)),
    ('conv2_2.bias', (128,)),
    ('conv2_2norm_ss.weight', (128, 1, 1, 1)),
    ('conv3_1.weight', (256, 128, 3, 3)),
    ('conv3_1.bias', (256,)),
    ('conv3_2.weight', (256, 256, 3, 3)),
    ('conv3_2.bias', (256,)),
    ('conv3_3.weight', (256, 256, 3, 3)),
    ('conv3_3.bias', (256,)),
    ('conv3_3norm_ss.weight', (256, 1, 1, 1)),
    ('conv4_1.weight', (512, 256, 3, 3)),
    ('conv4_1.bias', (512,)),
    ('conv4_2.weight', (512, 512, 3, 3)),
    ('conv4_2.bias', (512,)),
    ('conv4_3.weight', (512, 512, 3, 3)),
    ('conv4_3.bias', (512,)),
    ('conv5_1.weight', (512, 512, 3, 3)),
    ('conv5_1.bias', (512,)),
    ('conv5_2.weight', (512, 512, 3, 3)),
    ('conv5_2.bias', (512,)),
    ('conv5_3.weight', (512, 512, 3, 3)),
    ('conv5_3.bias', (512,)),
    ('conv6_1.weight', (512, 512, 3, 3)),
    ('conv6_1.bias', (512,)),
    ('conv6_2.weight', (512, 512, 3, 3)),
    ('conv6_2.bias', (512,)),
    ('conv6_3.weight', (512, 512, 3, 3)),
    ('conv6_3.bias', (512,)),
    ('conv7_1.weight', (512, 512, 3, 3)),
    ('conv7_1.bias', (512,)),
    ('conv7_2.weight', (512, 512, 3, 3)),
    ('conv7_2.bias', (512,)),
    ('conv7_3.weight', (512, 512, 3, 3)),
    ('conv7_3.bias', (512,)),
    ('conv8_1.1.weight', (256, 512, 3, 3)),
    ('conv8_1.1.bias', (256,)),
    ('conv3_3_short.weight', (256, 256, 3, 3)),
    ('conv3_3_short.bias', (256,)),
    ('conv8_2.weight', (256, 256, 3, 3)),
    ('conv8_2.bias', (256,)),
    ('conv8_3.weight', (256, 256, 3, 3)),
    ('conv8_3.bias', (256,)),
    ('conv9_1.1.weight', (128, 256, 3, 3)),
    ('conv9_1.1.bias', (128,)),
    ('conv2_2_short.weight', (128, 128, 3, 3)),
    ('conv2_2_short.bias', (128,)),
    ('conv9_2.weight', (128, 128, 3, 3)),
    ('conv9_2.bias', (128,)),
    ('conv10_1.1.weight', (128, 128, 3, 3)),
    ('conv10_1.1.bias', (128,)),
    ('conv1_2_short.weight', (128, 64, 3, 3)),
    ('conv1_2_short.bias', (128,)),
    ('conv10_2.weight', (128, 128, 3, 3)),
    ('conv10_2.bias', (128,)),
    ('conv10_ab.weight', (2, 128, 1, 1)),
    ('conv10_ab.bias', (2,)),
)
VGG19_CONV = (
    ('conv1_1.weight', (64, 3, 3, 3)),
    ('conv1_1.bias', (64,)),
    ('conv1_2.weight', (64, 64, 3, 3)),
    ('conv1_2.bias', (64,)),
    ('conv2_1.weight', (128, 64, 3, 3)),
    ('conv2_1.bias', (128,)),
    ('conv2_2.weight', (128, 128, 3, 3)),
    ('conv2_2.bias', (128,)),
    ('conv3_1.weight', (256, 128, 3, 3)),
    ('conv3_1.bias', (256,)),
    ('conv3_2.weight', (256, 256, 3, 3)),
    ('conv3_2.bias', (256,)),
    ('conv3_3.weight', (256, 256, 3, 3)),
    ('conv3_3.bias', (256,)),
    ('conv3_4.weight', (256, 256, 3, 3)),
    ('conv3_4.bias', (256,)),
    ('conv4_1.weight', (512, 256, 3, 3)),
    ('conv4_1.bias', (512,)),
    ('conv4_2.weight', (512, 512, 3, 3)),
    ('conv4_2.bias', (512,)),
    ('conv4_3.weight', (512, 512, 3, 3)),
    ('conv4_3.bias', (512,)),
    ('conv4_4.weight', (512, 512, 3, 3)),
    ('conv4_4.bias', (512,)),
    ('conv5_1.weight', (512, 512, 3, 3)),
    ('conv5_1.bias', (512,)),
    ('conv5_2.weight', (512, 512, 3, 3)),
    ('conv5_2.bias', (512,)),
    ('conv5_3.weight', (512, 512, 3, 3)),
    ('conv5_3.bias', (512,)),
    ('conv5_4.weight', (512, 512, 3, 3)),
    ('conv5_4.bias', (512,)),
)
VGG19_GRAY = (
    ('0.weight', (64, 3, 3, 3)),
    ('0.bias', (64,)),
    ('2.weight', (64, 64, 3, 3)),
    ('2.bias', (64,)),
    ('5.weight', (128, 64, 3, 3)),
    ('5.bias', (128,)),
    ('7.weight', (128, 128, 3, 3)),
    ('7.bias', (128,)),
    ('10.weight', (256, 128, 3, 3)),
    ('10.bias', (256,)),
    ('12.weight', (256, 256, 3, 3)),
    ('12.bias', (256,)),
    ('14.weight', (256, 256, 3, 3)),
    ('14.bias', (256,)),
    ('16.weight', (256, 256, 3, 3)),
    ('16.bias', (256,)),
    ('19.weight', (512, 256, 3, 3)),
    ('19.bias', (512,)),
    ('21.weight', (512, 512, 3, 3)),
    ('21.bias', (512,)),
    ('23.weight', (512, 512, 3, 3)),
    ('23.bias', (512,)),
    ('25.weight', (512, 512, 3, 3)),
    ('25.bias', (512,)),
    ('28.weight', (512, 512, 3, 3)),
    ('28.bias', (512,)),
    ('30.weight', (512, 512, 3, 3)),
    ('30.bias', (512,)),
    ('32.weight', (512, 512, 3, 3)),
    ('32.bias', (512,)),
    ('34.weight', (512, 512, 3, 3)),
    ('34.bias', (512,)),
    ('38.1.weight', (4096, 25088)),
    ('38.1.bias', (4096,)),
    ('40.1.weight', (4096, 4096)),
    ('40.1.bias', (4096,)),
    ('42.1.weight', (1000, 4096)),
    ('42.1.bias', (1000,)),
)

TABLES = {WARPNET_PATH: WARPNET, COLORNET_PATH: COLORNET, VGG19_CONV_PATH: VGG19_CONV, VGG19_GRAY_PATH: VGG19_GRAY}


def fake_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A state_dict with every official tensor of ``path`` (a file in the zip) at its official shape."""
    zero = torch.zeros(1)
    state = {name: zero.expand(shape) for name, shape in TABLES[path]}
    if path == COLORNET_PATH:
        state["conv10_ab.bias"] = torch.tensor(FAKE_COLORNET_BIAS)
    return state


def write_fake_devc_zip(
    path: str | Path,
    include_gray: bool = True,
    *,
    edit: Callable[[str, dict[str, torch.Tensor]], None] | None = None,
    prefix: str = "",
) -> Path:
    """Write a zip laid out like the official ``colorization_checkpoint.zip``.

    Args:
        path: where to write the zip.
        include_gray: also write ``data/vgg19_gray.pth`` (shipped officially, unused at inference).
        edit: called as ``edit(file_in_zip, state_dict)`` before each file is saved, to break a tensor.
        prefix: a top folder to put everything under (e.g. ``"colorization_checkpoint/"``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    files = [WARPNET_PATH, COLORNET_PATH, VGG19_CONV_PATH] + ([VGG19_GRAY_PATH] if include_gray else [])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in files:
            state = fake_state_dict(name)
            if edit is not None:
                edit(name, state)
            buffer = io.BytesIO()
            torch.save(state, buffer)
            zf.writestr(prefix + name, buffer.getvalue())
    return path


def gray16(rgb: np.ndarray) -> np.ndarray:
    """A frame's luma as 16-bit gray, rich in values no 8-bit source has (not multiples of 257)."""
    return (cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * 257 + np.linspace(0, 200, rgb.shape[1])).astype(np.uint16)


def write_sequence(folder: Path, name: str, frames: list[np.ndarray], pix_fmt: str, start: int = 1) -> Path:
    """Numbered gray images (``name`` a pattern such as ``f_%04d.png``) of ``frames`` in ``pix_fmt``, from ``start``."""
    folder.mkdir(parents=True, exist_ok=True)
    codec = {".png": "png", ".tif": "tiff", ".dpx": "dpx", ".exr": "exr"}[Path(name).suffix]
    with av.open(str(folder / name), "w", format="image2", options={"start_number": str(start)}) as container:
        stream = container.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        for i, rgb in enumerate(frames):
            gray = np.repeat(gray16(rgb)[..., None], 3, axis=2)
            frame = av.VideoFrame.from_ndarray(gray, format="rgb48le").reformat(format=pix_fmt)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return folder / name


def other_player(path: Path) -> dict[str, object]:
    """What Debian's FFmpeg tools (not PyAV) find in ``path``: ``errors`` (``ffmpeg -v error`` decoding it all),
    ``video`` and ``audio`` (codec names), ``frames`` (video frames decoded by ffprobe), ``audio_seconds`` (from the
    first audio packet's start to the last one's end). Tests that use it skip when ``ffprobe`` is absent."""
    if not shutil.which("ffprobe") or not shutil.which("ffmpeg"):
        pytest.skip("Debian's ffmpeg/ffprobe are not installed")
    errors = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True).stderr
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_packets", "-of", "json", str(path)],
        capture_output=True, text=True, check=True).stdout)
    streams = {s["index"]: s for s in probe["streams"]}
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    audio = next((s for s in probe["streams"] if s["codec_type"] == "audio"), None)
    spans = [(float(p["pts_time"]), float(p["pts_time"]) + float(p.get("duration_time", 0))) for p in probe["packets"]
             if streams[p["stream_index"]]["codec_type"] == "audio" and "pts_time" in p]
    return {
        "errors": errors.strip(),
        "video": video["codec_name"],
        "audio": audio["codec_name"] if audio else None,
        "frames": int(video["nb_read_frames"]),
        "audio_seconds": max(e for _, e in spans) - min(s for s, _ in spans) if spans else 0.0,
    }
