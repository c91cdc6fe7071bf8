"""The plane composition: the source's luma kept bit for bit, chroma composed at its own resolution, and the films
that keep the Lab composition (``render/composition.py``, ``ops/ycbcr.py``)."""

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from helpers import frame_pts, frames_rgb

import videocolor
import videocolor.render.film
from videocolor import Settings
from videocolor.io.decode import VideoInfo, plane_array, yuv_layout
from videocolor.ops.color import lightness_u8, rgb_to_lab
from videocolor.ops.ycbcr import YCbCrFormat, compose_planes, lightness_from_luma, neutral_chroma
from videocolor.render.composition import from_json, plane_composition, to_json

LOSSLESS = Settings(temporal="off", codec="libx264", crf=0, preset="ultrafast", quiet=True)


def yuv_planes(path: Path) -> list[list[np.ndarray]]:
    """Every frame of ``path`` as its stored planes (no conversion)."""
    with av.open(str(path)) as container:
        return [[plane_array(frame, i) for i in range(3)] for frame in container.decode(video=0)]


def swscale_yuv444(rgb: np.ndarray, matrix: str, full: bool) -> np.ndarray:
    """``(3, H, W)`` Y, Cb, Cr codes of RGB uint8 as FFmpeg's swscale gives them."""
    kwargs = {"format": "yuv444p", **({"dst_colorspace": "itu709"} if matrix == "bt709" else {}), **({"dst_color_range": 2} if full else {})}
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(**kwargs).to_ndarray()


@pytest.mark.parametrize("matrix, full", [("bt601", False), ("bt709", False), ("bt601", True)])
def test_planes_of_colors_are_swscales(matrix, full):
    """Over the colors' own luma both ways give swscale's Y, Cb, Cr; over a gray's luma, the shifted luma is the
    colors' own again, and the kept one stays the gray's."""
    rgb = np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)
    expected = swscale_yuv444(rgb, matrix, full).astype(int)
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    gray = np.full((8, 16), 100, np.uint8)
    for keep in (False, True):
        fmt = YCbCrFormat(matrix, full, (0, 0), keep)
        own = np.stack(compose_planes(lab, expected[0].astype(np.uint8), expected[0].astype(np.float32), fmt)).astype(int)
        assert np.abs(own - expected).max() <= 1
        y, cb, cr = compose_planes(lab, gray, gray.astype(np.float32), fmt)
        assert np.array_equal(y, gray) if keep else np.abs(y - expected[0]).max() <= 1


@pytest.mark.parametrize("full", [False, True])
def test_lightness_from_luma_is_the_lightness_of_the_decoded_gray(full):
    gray = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(2, axis=0)  # (2, 256, 3)
    y = swscale_yuv444(gray, "bt601", full)[0]
    full_lightness, lightness, mean = lightness_from_luma(y, YCbCrFormat("bt601", full, (1, 1)))
    assert full_lightness.shape == (2, 256) and lightness.shape == mean.shape == (1, 128)
    assert np.abs(full_lightness - lightness_u8(gray)).max() < 0.9
    expected = lightness_u8(gray)[:, ::2]  # every second column: a chroma sample averages two close grays
    assert np.abs(lightness - expected).max() < 0.9  # limited range holds 220 luma codes for 256 grays
    assert np.allclose(mean, y.reshape(1, 2, 128, 2).mean(axis=(1, 3)))


def test_layouts_and_neutral_chroma():
    assert [yuv_layout(f) for f in ("yuv420p", "yuvj422p", "yuv444p")] == [(1, 1), (1, 0), (0, 0)]
    assert [yuv_layout(f) for f in ("rgb24", "gray", "yuv420p10le", "nv12", "yuva420p")] == [None] * 5
    flat = np.full((4, 4), 128, np.uint8)
    assert neutral_chroma([flat, flat + 1]) and not neutral_chroma([flat, flat + 20])
    assert from_json(to_json(YCbCrFormat("bt709", True, (1, 0)))) == YCbCrFormat("bt709", True, (1, 0)) and from_json(None) is None


def test_the_films_that_keep_the_lab_composition():
    info = VideoInfo(Path("f.mp4"), 64, 48, Fraction(1, 25), Fraction(25), 0, "yuv420p", False, 1, 1, 1, 1, 0)
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24").reformat(format="yuv420p")
    tinted = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (110, 90, 60), np.uint8), format="rgb24").reformat(format="yuv420p")
    cpu = torch.device("cpu")
    assert plane_composition(info, frame, "yuv420p", cpu) == YCbCrFormat("bt709", False, (1, 1))
    assert plane_composition(info, frame, "yuv444p", cpu) == YCbCrFormat("bt709", False, (0, 0))  # odd sizes
    assert plane_composition(info, frame, None, cpu) is None  # an image sequence
    assert plane_composition(info, frame, "yuv420p10le", cpu) is None  # deep output
    assert plane_composition(info, frame, "yuvj420p", cpu) is None  # another range
    assert plane_composition(info, frame, "yuv420p", torch.device("cuda")) is None
    assert plane_composition(info, tinted, "yuv420p", cpu) is None
    rgb = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")
    assert plane_composition(dataclasses.replace(info, pix_fmt="rgb24"), rgb, "yuv420p", cpu) is None


@pytest.fixture(scope="module")
def renders(pan_clip, color_ref, tmp_path_factory) -> dict[str, Path]:
    """``pan_clip`` rendered losslessly with the plane composition, with ``keep_luma``, and, forced, the Lab composition."""
    folder = tmp_path_factory.mktemp("planes")
    paths = {name: folder / f"{name}.mkv" for name in ("planes", "kept", "lab")}
    videocolor.colorize_video(pan_clip, paths["planes"], ref=color_ref, settings=LOSSLESS)
    videocolor.colorize_video(pan_clip, paths["kept"], ref=color_ref, settings=LOSSLESS.replace(keep_luma=True))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(videocolor.render.film, "plane_composition", lambda *args: None)
        videocolor.colorize_video(pan_clip, paths["lab"], ref=color_ref, settings=LOSSLESS)
    return paths


def test_keep_luma_keeps_the_source_luma_bit_for_bit(pan_clip, renders):
    source, kept, today = yuv_planes(pan_clip), yuv_planes(renders["kept"]), yuv_planes(renders["lab"])
    assert len(kept) == len(source) == 12 and frame_pts(renders["kept"]) == frame_pts(pan_clip) == frame_pts(renders["lab"])
    assert all(np.array_equal(s[0], k[0]) for s, k in zip(source, kept))
    assert not all(np.array_equal(s[0], t[0]) for s, t in zip(source, today))  # the Lab composition remakes luma
    assert kept[5][1].shape == (45, 80) and kept[5][1].std() > 3  # chroma at 4:2:0, colored


def test_plane_composition_is_close_to_the_lab_composition(pan_clip, renders):
    """The default's luma follows the colors (as the Lab composition's does) and keeps the source's detail."""
    lab = frames_rgb(renders["lab"]).astype(float)
    source, planes, today = (np.stack([f[0] for f in yuv_planes(p)]).astype(float) for p in (pan_clip, renders["planes"], renders["lab"]))
    assert frame_pts(renders["planes"]) == frame_pts(pan_clip)
    assert np.abs(planes - today).mean() < 0.7 * np.abs(source - today).mean()  # luma: the colors', not the gray's
    detail = lambda y: y - cv2.blur(y, (5, 5))  # noqa: E731
    assert np.abs(detail(planes[5]) - detail(source[5])).mean() < 0.5
    for name, mean_limit, p99_limit in (("planes", 2, 12), ("kept", 4, 24)):
        difference = np.abs(frames_rgb(renders[name]).astype(float) - lab)
        assert difference.mean() < mean_limit and np.percentile(difference, 99) < p99_limit, name
