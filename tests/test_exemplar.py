"""The exemplar model's color tables, its low-confidence fallback, its flow refinement and its device-chosen work size."""

import cv2
import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F

from videocolor import Settings
from videocolor.models.build import build_colorizer
from videocolor.models.exemplar import DEVICE_DEFAULTS, ExemplarColorizer
from videocolor.models.exemplar_flow import DIS_PRESET
from videocolor.ops.color import lab_to_rgb, rgb_to_lab

DARK_RED, LIGHT_GREEN = (35.0, 50.0, 30.0), (80.0, -50.0, 40.0)


def striped(size: int = 64) -> torch.Tensor:
    """RGB ``(3, size, size)``: 4-pixel stripes of dark red and light green, one of each in every 8-pixel cell."""
    lab = torch.empty(3, size, size)
    dark = (torch.arange(size) // 4 % 2 == 0).view(1, -1).expand(size, -1)
    for channel in range(3):
        lab[channel] = torch.where(dark, DARK_RED[channel], LIGHT_GREEN[channel])
    return lab_to_rgb(lab[None])[0].clamp(0, 1)


@pytest.mark.parametrize("bins, separated", [(16, True), (0, False)])
def test_cells_carry_their_colors_per_lightness(bins, separated):
    picture = striped()
    colorizer = ExemplarColorizer("cpu", work_size=64, bins=bins, fallback=None, flow_refinement=None)  # the match alone
    lab = rgb_to_lab(picture[None])
    ab, confidence = colorizer.colorize(lab[:, :1], colorizer.prepare_reference(picture))
    dark = lab[0, 0] < 50
    a = ab[0, 0]
    assert ab.shape == (1, 2, 64, 64) and confidence.shape == (1, 1, 64, 64)
    if separated:  # each stripe gets its own color back, not the cell's mean
        assert a[dark].mean() > 25 and a[~dark].mean() < -25
    else:
        assert abs(a[dark].mean() - a[~dark].mean()) < 5


def test_low_confidence_falls_back_to_the_color_of_the_lightness():
    lab = torch.zeros(1, 3, 64, 64)
    lab[:, 0] = 60.0
    lab[:, 1, :, :32], lab[:, 1, :, 32:] = 60.0, -20.0  # red left, green right, one lightness
    reference = lab_to_rgb(lab)[0].clamp(0, 1)
    frame = torch.full((1, 1, 64, 64), 60.0)
    frame[..., 20:40, 20:40] = 30.0  # a darker square the reference has no pixel of
    colorizer = ExemplarColorizer("cpu", work_size=64, fallback=(2.0, 3.0), flow_refinement=None)  # confidence never that high
    ab, _ = colorizer.colorize(frame, colorizer.prepare_reference(reference))
    mean_a = rgb_to_lab(reference[None])[0, 1].mean()
    outside = frame[0, 0] == 60.0
    assert ab[0, 0][outside].std() < 0.5 and abs(ab[0, 0][outside].mean() - mean_a) < 1.5
    trusted = ExemplarColorizer("cpu", work_size=64, fallback=None, flow_refinement=None)
    ab, _ = trusted.colorize(frame, trusted.prepare_reference(reference))
    assert ab[0, 0][outside].std() > 10  # matching alone keeps the two sides apart


def test_work_size_and_stride_come_from_the_device_unless_set():
    colorizer = build_colorizer(Settings(model="exemplar"), torch.device("cpu"))
    assert (colorizer.work_size, colorizer.match_stride) == DEVICE_DEFAULTS["cpu"] == (256, 8)
    settings = Settings(model="exemplar").replace_section("exemplar", work_size=320, match_stride=4)
    colorizer = build_colorizer(settings, torch.device("cpu"))
    assert (colorizer.work_size, colorizer.match_stride) == (320, 4)
    assert DEVICE_DEFAULTS["cuda"] == (512, 4)


def _lab(picture: torch.Tensor) -> torch.Tensor:
    return rgb_to_lab(picture[None])


def _photo(name: str, shift: int = 0) -> torch.Tensor:
    """RGB ``(3, 144, 192)`` of a scikit-image photo, the crop moved ``shift`` pixels right and down."""
    rgb = torch.from_numpy(getattr(skimage.data, name)()).permute(2, 0, 1).float().div(255)
    rgb = F.interpolate(rgb[None], size=(240, 320), mode="area")[0]
    return rgb[:, 40 - shift : 184 - shift, 60 - shift : 252 - shift].contiguous()


def _chroma(picture: torch.Tensor, reference: torch.Tensor, refined: bool, homography: bool = True) -> torch.Tensor:
    colorizer = ExemplarColorizer("cpu", work_size=192, flow_refinement=DIS_PRESET if refined else None, homography=homography)
    ab, _ = colorizer.colorize(_lab(picture)[:, :1], colorizer.prepare_reference(reference))
    return ab


def test_flow_refinement_brings_back_the_colors_of_a_moved_reference():
    frame, reference = _photo("astronaut"), _photo("astronaut", shift=5)
    truth = _lab(frame)[:, 1:]
    semantic = (_chroma(frame, reference, False) - truth).norm(dim=1).mean()
    refined = (_chroma(frame, reference, True) - truth).norm(dim=1).mean()
    assert refined < 0.3 * semantic  # measured: 3.8 -> 0.65 (mean |ab error|)


def test_a_reference_seen_from_elsewhere_is_aligned_by_a_homography_first():
    frame = _photo("astronaut")
    rgb = frame.permute(1, 2, 0).numpy()
    height, width = rgb.shape[:2]
    view = np.vstack((cv2.getRotationMatrix2D((width / 2, height / 2), 35, 1.3), (0.001, 0.0005, 1)))  # turned, closer, tilted
    reference = torch.from_numpy(cv2.warpPerspective(rgb, view, (width, height), borderMode=cv2.BORDER_REFLECT)).permute(2, 0, 1)
    truth = _lab(frame)[:, 1:]
    semantic = (_chroma(frame, reference, False) - truth).norm(dim=1).mean()
    aligned = (_chroma(frame, reference, True) - truth).norm(dim=1).mean()
    flow_only = (_chroma(frame, reference, True, homography=False) - truth).norm(dim=1).mean()
    assert aligned < 0.7 * semantic and flow_only > 0.9 * semantic  # measured: 3.7, 6.1 and 6.3


@pytest.mark.parametrize("other", ["coffee", "chelsea"])
def test_flow_refinement_leaves_the_colors_from_another_scene_alone(other):
    frame, reference = _photo("astronaut"), _photo(other)
    change = (_chroma(frame, reference, True) - _chroma(frame, reference, False)).norm(dim=1)
    assert change.mean() < 0.2 and (change > 1).float().mean() < 0.03  # measured: 0 and 0.075, 1.5%


def test_frames_against_another_scene_rest_the_refinement_after_one_fails():
    colorizer = ExemplarColorizer("cpu", work_size=192, flow_refinement=DIS_PRESET)
    frames = torch.cat([_lab(_photo("astronaut", shift))[:, :1] for shift in (0, 2, 4)])
    reference = colorizer.prepare_reference(_photo("coffee"))
    carried, aligned = [], []
    carry, align = colorizer.refiner._carry, colorizer.refiner._align
    colorizer.refiner._carry = lambda lightness, lab: carried.append(len(lightness)) or carry(lightness, lab)
    colorizer.refiner._align = lambda lightness, ref: aligned.append(len(lightness)) or align(lightness, ref)
    colorizer.colorize(frames, reference)
    assert carried == [1] and aligned == [1]  # one flow and one homography search, not three of each
    moved = colorizer.prepare_reference(_photo("astronaut", shift=5))
    carried.clear()
    colorizer.colorize(frames, moved)
    assert carried == [1, 1, 1]  # a new reference (a new shot): tried afresh, and the same scene: every frame refined


def test_fused_references_each_follow_the_frames_order_whatever_the_batch():
    """Fusion refines each reference in turn for every batch: each one's rest counts its own frames."""
    colorizer = ExemplarColorizer("cpu", work_size=192, flow_refinement=DIS_PRESET, homography=False)
    refiner = colorizer.refiner
    frames = torch.cat([torch.zeros(1, 1, 8, 8)] + [torch.full((1, 1, 8, 8), 50.0)] * 3)  # the first matches nothing
    references = [colorizer.refiner.prepare(torch.rand(1, 3, 8, 8) * 100) for _ in range(2)]
    tried = []

    def carry(lightness, lab):
        tried.append(lightness.mean().item())
        return (lightness > 0).float(), torch.zeros(1, 2, 8, 8)

    refiner._carry = carry

    def run(batch: int) -> list[float]:
        refiner.reset()
        tried.clear()
        for i in range(0, len(frames), batch):
            for reference in references:  # as ``ExemplarColorizer.colorize`` matches a FusedReference
                chunk = frames[i : i + batch]
                refiner.refine(chunk, torch.zeros(len(chunk), 2, 8, 8), torch.zeros(len(chunk), 1, 8, 8), reference)
        return sorted(tried)

    assert run(1) == run(4) == [0.0, 0.0]  # each reference gave up at the black frame and rested after it
