"""The exemplar model's color tables, its low-confidence fallback and its device-chosen work size."""

import pytest
import torch

from videocolor import Settings
from videocolor.color import lab_to_rgb, rgb_to_lab
from videocolor.models.build import build_colorizer
from videocolor.models.exemplar import DEVICE_DEFAULTS, ExemplarColorizer

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
    colorizer = ExemplarColorizer("cpu", work_size=64, bins=bins, fallback=None)
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
    colorizer = ExemplarColorizer("cpu", work_size=64, fallback=(2.0, 3.0))  # confidence is never that high
    ab, _ = colorizer.colorize(frame, colorizer.prepare_reference(reference))
    mean_a = rgb_to_lab(reference[None])[0, 1].mean()
    outside = frame[0, 0] == 60.0
    assert ab[0, 0][outside].std() < 0.5 and abs(ab[0, 0][outside].mean() - mean_a) < 1.5
    trusted = ExemplarColorizer("cpu", work_size=64, fallback=None)
    ab, _ = trusted.colorize(frame, trusted.prepare_reference(reference))
    assert ab[0, 0][outside].std() > 10  # matching alone keeps the two sides apart


def test_work_size_and_stride_come_from_the_device_unless_set():
    colorizer = build_colorizer(Settings(model="exemplar"), torch.device("cpu"))
    assert (colorizer.work_size, colorizer.grid_stride) == DEVICE_DEFAULTS["cpu"] == (256, 8)
    settings = Settings(model="exemplar").replace_section("exemplar", work_size=320, match_stride=4)
    colorizer = build_colorizer(settings, torch.device("cpu"))
    assert (colorizer.work_size, colorizer.grid_stride) == (320, 4)
    assert DEVICE_DEFAULTS["cuda"] == (512, 4)
