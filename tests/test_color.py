import numpy as np
import pytest
import torch
from skimage import color as skcolor

from videocolor.ops.color import lab_to_rgb, lightness_to_gray_rgb, linear_rgb_to_lightness, rgb_to_lab, rgb_to_lightness, srgb_to_linear


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 7, 9), (2, 2, 3, 1, 1)])
def test_shapes_preserved(shape):
    image = torch.rand(shape)
    assert rgb_to_lab(image).shape == shape
    assert lab_to_rgb(rgb_to_lab(image)).shape == shape
    assert rgb_to_lightness(image).shape == (*shape[:-3], 1, *shape[-2:])


def test_rgb_to_lab_matches_scikit_image(astronaut):
    rgb = astronaut[::8, ::8].astype(np.float64) / 255
    expected = skcolor.rgb2lab(rgb)
    ours = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.abs(ours - expected).max() < 0.05


def test_lab_to_rgb_matches_scikit_image():
    lab = np.stack(np.meshgrid(np.linspace(5, 95, 12), np.linspace(-60, 60, 9), indexing="ij"), -1)
    lab = np.concatenate([lab[..., :1], lab[..., 1:], lab[..., 1:] * -0.5], -1).astype(np.float64)
    expected = np.clip(skcolor.lab2rgb(lab), 0, 1)
    ours = lab_to_rgb(torch.from_numpy(lab).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    assert np.abs(ours - expected).max() < 2e-3


def test_round_trip_and_lightness_agree():
    rgb = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    lab = rgb_to_lab(rgb)
    torch.testing.assert_close(lab_to_rgb(lab), rgb, atol=5e-5, rtol=0)  # 6-digit matrices
    torch.testing.assert_close(rgb_to_lightness(rgb), lab[:, :1])
    torch.testing.assert_close(linear_rgb_to_lightness(srgb_to_linear(rgb)), lab[:, :1])


def test_gray_rgb_has_given_lightness_and_no_chroma():
    lightness = torch.linspace(0, 100, 11, dtype=torch.float64).view(1, 1, 1, 11)
    gray = lightness_to_gray_rgb(lightness)
    lab = rgb_to_lab(gray)
    torch.testing.assert_close(lab[:, :1], lightness, atol=1e-4, rtol=0)
    assert lab[:, 1:].abs().max() < 1e-4


def test_white_black_and_float32_device_dtype():
    lab = rgb_to_lab(torch.tensor([1.0, 0.0]).view(1, 1, 2).expand(3, 1, 2))
    assert lab.dtype == torch.float32
    assert lab[0, 0, 0] == pytest.approx(100, abs=1e-3) and lab[0, 0, 1] == pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize("bad", [torch.rand(4, 5), torch.rand(2, 4, 5), torch.rand(1, 4, 3, 3)])
def test_bad_input_raises(bad):
    with pytest.raises(ValueError, match="shape"):
        rgb_to_lab(bad)
    with pytest.raises(TypeError):
        rgb_to_lab(np.zeros((3, 2, 2)))
