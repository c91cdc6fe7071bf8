"""The plane composition: the source's luma kept bit for bit, chroma composed at its own resolution, and the films
that keep the Lab composition (``render/composition.py``, ``ops/ycbcr.py``)."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from helpers import frame_pts, frames_rgb

import videocolor
import videocolor.render.film
from videocolor import Settings
from videocolor.io.decode import VideoInfo, plane_array, yuv_layout
from videocolor.ops.color import lightness_u8, rgb_to_lab
from videocolor.ops.ycbcr import YCbCrFormat, chroma_for_luma, lightness_from_luma, neutral_chroma
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
def test_chroma_for_a_colors_own_luma_is_the_standard_chroma(matrix, full):
    """Where the kept luma is the color's own, the least-squares chroma is swscale's Cb, Cr (to rounding)."""
    rgb = np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)
    y, u, v = swscale_yuv444(rgb, matrix, full).astype(int)
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    cb, cr = chroma_for_luma(lab, y.astype(np.float32), YCbCrFormat(matrix, full, (0, 0)))
    assert np.abs(cb - u).max() <= 1 and np.abs(cr - v).max() <= 1


@pytest.mark.parametrize("full", [False, True])
def test_lightness_from_luma_is_the_lightness_of_the_decoded_gray(full):
    gray = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(2, axis=0)  # (2, 256, 3)
    y = swscale_yuv444(gray, "bt601", full)[0]
    lightness, mean = lightness_from_luma(y, YCbCrFormat("bt601", full, (1, 1)))
    assert lightness.shape == mean.shape == (1, 128)
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
    assert plane_composition(info, frame, "yuv420p", cpu, False) == YCbCrFormat("bt709", False, (1, 1))
    assert plane_composition(info, frame, "yuv444p", cpu, False) == YCbCrFormat("bt709", False, (0, 0))  # odd sizes
    assert plane_composition(info, frame, None, cpu, False) is None  # an image sequence
    assert plane_composition(info, frame, "yuv420p10le", cpu, False) is None  # deep output
    assert plane_composition(info, frame, "yuvj420p", cpu, False) is None  # another range
    assert plane_composition(info, frame, "yuv420p", torch.device("cuda"), False) is None
    assert plane_composition(info, frame, "yuv420p", cpu, True) is None  # a colorist's keyframes
    assert plane_composition(info, tinted, "yuv420p", cpu, False) is None
    rgb = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")
    assert plane_composition(info.__class__(**{**info.__dict__, "pix_fmt": "rgb24"}), rgb, "yuv420p", cpu, False) is None


@pytest.fixture(scope="module")
def both(pan_clip, color_ref, tmp_path_factory):
    """``pan_clip`` rendered losslessly with the plane composition and, forced, with the Lab composition."""
    folder = tmp_path_factory.mktemp("planes")
    planes, lab = folder / "planes.mkv", folder / "lab.mkv"
    videocolor.colorize_video(pan_clip, planes, ref=color_ref, settings=LOSSLESS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(videocolor.render.film, "plane_composition", lambda *args: None)
        videocolor.colorize_video(pan_clip, lab, ref=color_ref, settings=LOSSLESS)
    return planes, lab


def test_the_source_luma_is_kept_bit_for_bit(pan_clip, both):
    planes, lab = both
    source, kept, today = yuv_planes(pan_clip), yuv_planes(planes), yuv_planes(lab)
    assert len(kept) == len(source) == 12 and frame_pts(planes) == frame_pts(pan_clip) == frame_pts(lab)
    assert all(np.array_equal(s[0], k[0]) for s, k in zip(source, kept))
    assert not all(np.array_equal(s[0], t[0]) for s, t in zip(source, today))  # the Lab composition remakes luma
    assert kept[5][1].shape == (45, 80) and kept[5][1].std() > 3  # chroma at 4:2:0, colored


def test_plane_chroma_is_close_to_the_lab_composition(both):
    planes, lab = (frames_rgb(p).astype(float) for p in both)
    difference = np.abs(planes - lab)
    assert difference.mean() < 4 and np.percentile(difference, 99) < 24
    assert np.abs(planes.mean(axis=(1, 2)) - lab.mean(axis=(1, 2))).max() < 3  # each frame's mean color
