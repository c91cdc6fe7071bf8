"""Tests of videocolor.evaluation.metrics: values against scikit-image and hand-computed cases, input layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from videocolor.evaluation import metrics
from videocolor.evaluation import synthetic as synth


@pytest.fixture(scope="module")
def pan_clip() -> np.ndarray:
    """A true color camera pan over a real photo: uint8 (12, 72, 128, 3)."""
    return np.stack(synth.pan(synth.load_photo("astronaut"), 12, (72, 128)))


def _flicker(clip: np.ndarray, seed: int = 0) -> np.ndarray:
    """The clip with a different uniform color cast on every frame, float in [0, 1]."""
    rng = np.random.default_rng(seed)
    cast = rng.normal(0, 0.05, (len(clip), 1, 1, 3))
    return np.clip(clip / 255 + cast, 0, 1)


def test_layouts_agree(pan_clip):
    as_list = list(pan_clip)
    as_float = pan_clip / 255
    as_torch = torch.from_numpy(as_float).permute(0, 3, 1, 2)
    for fn in (metrics.colorfulness, metrics.cdc, metrics.warp_error):
        values = [fn(x) for x in (pan_clip, as_list, as_float, as_torch)]
        assert values == pytest.approx([values[0]] * 4, rel=1e-4, abs=1e-6), fn.__name__


def test_bad_layout_raises():
    with pytest.raises(ValueError, match="shape"):
        metrics.colorfulness(np.zeros((4, 8, 8, 2)))
    with pytest.raises(ValueError, match="shape"):
        metrics.colorfulness(torch.zeros(4, 8, 8, 3))
    with pytest.raises(ValueError, match="differ"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))


def test_psnr_matches_skimage(pan_clip):
    skm = pytest.importorskip("skimage.metrics")
    a, b = pan_clip[0] / 255, _flicker(pan_clip[:1])[0]
    assert metrics.psnr(a, b) == pytest.approx(skm.peak_signal_noise_ratio(a, b, data_range=1), abs=1e-4)
    assert metrics.psnr(a, a) == math.inf


def test_ssim_matches_skimage(pan_clip):
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    a = pan_clip[:2] / 255
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    expected = np.mean(
        [skm.structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1) for x, y in zip(a, b)]
    )
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-6)
    assert metrics.ssim(a, a) == pytest.approx(1.0)


def test_warp_error_sees_flicker(pan_clip):
    steady = metrics.warp_error(pan_clip)
    flickering = metrics.warp_error(_flicker(pan_clip), flow_frames=pan_clip)
    assert steady < 2e-4
    assert flickering > 10 * steady


def test_warp_error_checks_inputs(pan_clip):
    with pytest.raises(ValueError, match="match"):
        metrics.warp_error(pan_clip, flow_frames=pan_clip[:, :-8])
    with pytest.raises(ValueError, match="2 frames"):
        metrics.warp_error(pan_clip[:1])
    with pytest.raises(ValueError, match="12 px or more on one side.*got 11x8"):  # not OpenCV's cv2.error
        metrics.warp_error(pan_clip[:, :8, :11])


def test_consistent_flow_mask():
    zero = np.zeros((6, 8, 2), np.float32)
    assert metrics.consistent_flow_mask(zero, zero).all()
    right = zero.copy()
    right[..., 0] = 2.0
    # Moving right by 2 and back by 2 is consistent, except where x + 2 leaves the frame.
    mask = metrics.consistent_flow_mask(right, -right)
    assert mask[:, :6].all() and not mask[:, 6:].any()
    assert not metrics.consistent_flow_mask(right, right).any()


def test_cdc():
    black, white = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)
    assert metrics.cdc(np.stack([black, black, black])) == 0.0
    # Disjoint histograms: Jensen-Shannon divergence is ln 2 (only distance 1 fits in 2 frames).
    assert metrics.cdc(np.stack([black, white])) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="2 frames"):
        metrics.cdc(black)


def test_cdc_sees_flicker(pan_clip):
    assert metrics.cdc(_flicker(pan_clip)) > 2 * metrics.cdc(pan_clip)


def test_colorfulness():
    assert metrics.colorfulness(np.full((4, 4, 3), 128, np.uint8)) == 0.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5, no spread: M = 0.3 * sqrt(255^2 + 127.5^2).
    assert metrics.colorfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))
