"""DEVC networks and colorizer: official layouts, loading a release-shaped zip, recurrence, padding, smoothing."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import COLORNET_PATH, FAKE_AB, OFFICIAL_PARAMS, TABLES, VGG19_CONV_PATH, WARPNET_PATH, write_fake_devc_zip

from videocolor.config import Settings
from videocolor.models import weights
from videocolor.models.build import build_colorizer
from videocolor.models.devc import ColorVidNet, DEVCColorizer, WarpNet, attend
from videocolor.models.devc_card import DEVCWeights
from videocolor.models.smoothing import fast_global_smoother
from videocolor.models.vgg19 import VGG19


@pytest.fixture(scope="module")
def installed_home(tmp_path_factory):
    """A VIDEOCOLOR_HOME with a fake official zip installed (written and installed once per module)."""
    home = tmp_path_factory.mktemp("home")
    archive = write_fake_devc_zip(tmp_path_factory.mktemp("zip") / "colorization_checkpoint.zip")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDEOCOLOR_HOME", str(home))
        weights.install("devc", archive)
        yield home


@pytest.fixture(scope="module")
def random_colorizer():
    """A colorizer with randomly initialized (seeded) networks, to test behaviour, not trained output."""
    torch.manual_seed(0)
    return DEVCColorizer(VGG19(), WarpNet(), ColorVidNet(), "cpu")


@pytest.mark.parametrize(
    ("build", "path"), [(WarpNet, WARPNET_PATH), (ColorVidNet, COLORNET_PATH), (VGG19, VGG19_CONV_PATH)]
)
def test_state_dict_matches_official_names_shapes_and_order(build, path):
    model = build()
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == list(TABLES[path])
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[path] == DEVCWeights.RELEASE_V1.meta["num_params"][path]
    assert list(model.buffers()) == []


def test_fake_release_zip_installs_loads_strictly_and_colorizes(installed_home):
    assert weights.is_installed("devc")
    colorizer = build_colorizer(Settings(model="devc"), torch.device("cpu"))
    colorizer.reset()
    reference = colorizer.prepare_reference(torch.rand(3, 50, 70))
    lightness = torch.rand(2, 1, 36, 64) * 100
    ab, confidence = colorizer.colorize(lightness, reference)
    assert ab.shape == (2, 2, 36, 64) and confidence.shape == (2, 1, 36, 64)
    # All-zero weights except conv10_ab.bias: tanh(bias) x 128 x 1.25 everywhere, kept by the smoother.
    expected = torch.tensor(FAKE_AB).view(1, 2, 1, 1).expand_as(ab)
    torch.testing.assert_close(ab, expected, atol=1e-3, rtol=1e-4)
    assert confidence.min() >= 0 and confidence.max() <= 1


def test_work_shape_keeps_aspect_ratio_at_network_pixel_count(random_colorizer):
    assert random_colorizer.work_shape(1080, 1920) == (216, 384)
    assert random_colorizer.work_shape(540, 960) == (216, 384)
    for height, width in ((1080, 1440), (480, 720), (1920, 1080), (1080, 2560)):
        h, w = random_colorizer.work_shape(height, width)
        assert abs(w / h - width / height) < 0.02
        assert abs(h * w - 216 * 384) / (216 * 384) < 0.02


def test_odd_sizes_are_padded_never_cropped(random_colorizer):
    reference = random_colorizer.prepare_reference(torch.rand(3, 61, 45))
    random_colorizer.reset()
    ab, confidence = random_colorizer.colorize(torch.rand(1, 1, 37, 61) * 100, reference)
    assert ab.shape == (1, 2, 37, 61) and confidence.shape == (1, 1, 37, 61)
    assert torch.isfinite(ab).all() and ab.abs().max() <= 1.25 * 128
    assert confidence.min() >= 0 and confidence.max() <= 1


class _CountingColorNet(torch.nn.Module):
    """Stands in for ColorVidNet: ab = previous frame's ab + 1, and records each input."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.clone())
        return x[:, 5:7] + 1


def test_recurrence_carries_across_calls_and_reset_clears_it(random_colorizer):
    net = _CountingColorNet()
    colorizer = DEVCColorizer(random_colorizer.vgg, random_colorizer.warpnet, net, "cpu")
    reference = colorizer.prepare_reference(torch.rand(3, 40, 64))
    frames = torch.rand(3, 1, 40, 64) * 100
    colorizer.reset()
    batched, _ = colorizer.colorize(frames, reference)
    colorizer.reset()
    first, _ = colorizer.colorize(frames[:1], reference)
    rest, _ = colorizer.colorize(frames[1:], reference)
    steps = torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1, 1) * 1.25
    torch.testing.assert_close(batched, steps.expand_as(batched))
    torch.testing.assert_close(torch.cat((first, rest)), batched)
    inputs = net.inputs[:3]
    assert all(x.shape == (1, 7, 40, 64) for x in inputs)
    assert inputs[0][:, 4:].abs().max() == 0  # zeros at a shot's first frame
    torch.testing.assert_close(inputs[1][:, 4:5], frames[:1] - 50)  # previous frame's L - 50
    torch.testing.assert_close(inputs[0][:, 0:1], frames[:1] - 50)
    colorizer.reset()
    fresh, _ = colorizer.colorize(frames[1:2], reference)
    torch.testing.assert_close(fresh, torch.full_like(fresh, 1.25))


def test_attention_chunks_equal_the_full_matrix():
    torch.manual_seed(2)
    theta = torch.nn.functional.normalize(torch.randn(16, 70), dim=0)
    phi = torch.nn.functional.normalize(torch.randn(16, 90), dim=0)
    colors = torch.randn(3, 90)
    cosine = theta.T @ phi
    full = colors @ torch.softmax(cosine / 0.05, dim=1).T
    warped, similarity = attend(theta, phi, colors, 0.05, max_elements=90 * 8)
    torch.testing.assert_close(warped, full)
    torch.testing.assert_close(similarity, cosine.amax(dim=1))
    hard, _ = attend(theta, phi, colors, 1e-10, max_elements=1000)
    torch.testing.assert_close(hard, colors[:, cosine.argmax(dim=1)])


def test_warpnet_embedding_pads_relu5_at_216_rows_like_the_original():
    torch.manual_seed(3)
    net = WarpNet().eval()
    with torch.inference_mode():
        for height, width in ((216, 384), (56, 96)):  # relu5_2 floored to 13 (52) and 3 (12) rows
            taps = [torch.rand(1, c, height // s, width // s) for c, s in ((128, 2), (256, 4), (512, 8), (512, 16))]
            assert net.embed(taps).shape == (1, 256, height // 4, width // 4)


def test_smoother_keeps_constants_smooths_flat_areas_and_stops_at_guide_edges():
    constant = torch.full((1, 2, 20, 30), 7.5)
    guide = torch.rand(1, 1, 20, 30) * 255
    torch.testing.assert_close(fast_global_smoother(constant, guide, 125.0, 4.0), constant, atol=1e-4, rtol=1e-5)

    torch.manual_seed(4)
    noise = torch.randn(1, 1, 20, 30)
    flat = torch.zeros(1, 1, 20, 30)
    assert fast_global_smoother(noise, flat, 125.0, 4.0).std() < 0.2 * noise.std()

    step = torch.zeros(1, 1, 20, 30)
    step[..., 15:] = 10.0
    edge_guide = step * 25.5  # an edge in L at the same place
    kept = fast_global_smoother(step, edge_guide, 125.0, 4.0)
    blurred = fast_global_smoother(step, flat, 125.0, 4.0)
    assert kept[..., 14].max() < 0.5 and kept[..., 15].min() > 9.5
    assert math.isclose(float(blurred[..., 14].mean()), float(blurred[..., 15].mean()), abs_tol=1.0)
