"""Color math as pure tensor functions: sRGB <-> CIE Lab (D65), like ``kornia.color``.

All functions take channel-first tensors of shape ``(*, C, H, W)`` and create their constants on the
input's device and dtype, so they run unchanged on the GPU and inside batched pipelines.
"""

from __future__ import annotations

import torch

# sRGB (linear) -> XYZ, D65 white, rows X, Y, Z.
_RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_XYZ_TO_RGB = (
    (3.240479, -1.537150, -0.498535),
    (-0.969256, 1.875992, 0.041556),
    (0.055648, -0.204043, 1.057311),
)
_D65_WHITE = (0.950456, 1.0, 1.088754)
RGB_TO_LUMINANCE = _RGB_TO_XYZ[1]  # weights of linear R, G, B in the luminance Y
_EPSILON = 0.008856  # (6/29)^3
_KAPPA = 7.787  # (29/6)^2 / 3


def _check_channels(image: torch.Tensor, channels: int, name: str) -> None:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    if image.dim() < 3 or image.shape[-3] != channels:
        raise ValueError(f"{name} must have shape (*, {channels}, H, W), got {tuple(image.shape)}")


def _matmul_channels(image: torch.Tensor, matrix: tuple) -> torch.Tensor:
    m = torch.tensor(matrix, device=image.device, dtype=image.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, image)


def srgb_to_linear(image: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve. ``image`` in [0, 1], any shape; returns linear light in [0, 1]."""
    return torch.where(image > 0.04045, ((image + 0.055) / 1.055).clamp_min(0).pow(2.4), image / 12.92)


def linear_to_srgb(image: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB transfer curve. ``image`` linear light, any shape; returns sRGB, not clipped."""
    return torch.where(image > 0.0031308, 1.055 * image.clamp_min(0.0031308).pow(1 / 2.4) - 0.055, 12.92 * image)


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """Convert sRGB to CIE Lab (D65).

    Args:
        image: RGB image of shape ``(*, 3, H, W)`` in [0, 1].

    Returns:
        Lab image of shape ``(*, 3, H, W)``: L in [0, 100], a and b in about [-110, 110].

    >>> rgb_to_lab(torch.ones(1, 3, 2, 2))[0, :, 0, 0].round()
    tensor([100., 0., 0.])
    """
    _check_channels(image, 3, "image")
    xyz = _matmul_channels(srgb_to_linear(image), _RGB_TO_XYZ)
    white = torch.tensor(_D65_WHITE, device=image.device, dtype=image.dtype).view(3, 1, 1)
    xyz = xyz / white
    f = torch.where(xyz > _EPSILON, xyz.clamp_min(_EPSILON).pow(1 / 3), _KAPPA * xyz + 4 / 29)
    fx, fy, fz = f.unbind(-3)
    lightness = 116 * fy - 16
    return torch.stack((lightness, 500 * (fx - fy), 200 * (fy - fz)), dim=-3)


def lab_to_rgb(image: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Convert CIE Lab (D65) to sRGB.

    Args:
        image: Lab image of shape ``(*, 3, H, W)``, L in [0, 100], a/b in about [-128, 127].
        clip: clamp the result to [0, 1] (out-of-gamut colors are clipped per channel).

    Returns:
        RGB image of shape ``(*, 3, H, W)``, in [0, 1] when ``clip``.
    """
    _check_channels(image, 3, "image")
    lightness, a, b = image.unbind(-3)
    fy = (lightness + 16) / 116
    f = torch.stack((fy + a / 500, fy, fy - b / 200), dim=-3)
    xyz = torch.where(f > 6 / 29, f.pow(3), (f - 4 / 29) / _KAPPA)
    white = torch.tensor(_D65_WHITE, device=image.device, dtype=image.dtype).view(3, 1, 1)
    rgb = linear_to_srgb(_matmul_channels(xyz * white, _XYZ_TO_RGB))
    return rgb.clamp(0, 1) if clip else rgb


def rgb_to_lightness(image: torch.Tensor) -> torch.Tensor:
    """Lab lightness of an sRGB image: ``(*, 3, H, W)`` in [0, 1] -> ``(*, 1, H, W)`` in [0, 100]."""
    _check_channels(image, 3, "image")
    return linear_rgb_to_lightness(srgb_to_linear(image))


def linear_rgb_to_lightness(image: torch.Tensor) -> torch.Tensor:
    """Lab lightness of linear-light RGB: ``(*, 3, H, W)`` in [0, 1] -> ``(*, 1, H, W)`` in [0, 100]."""
    _check_channels(image, 3, "image")
    return luminance_to_lightness(_matmul_channels(image, (RGB_TO_LUMINANCE,)))


def luminance_to_lightness(luminance: torch.Tensor) -> torch.Tensor:
    """Lab L of relative luminance Y (D65, white = 1): any shape in [0, 1] -> same shape in [0, 100]."""
    y = luminance
    return torch.where(y > _EPSILON, 116 * y.clamp_min(_EPSILON).pow(1 / 3) - 16, 116 * (_KAPPA * y + 4 / 29) - 16)


def lightness_to_gray_rgb(lightness: torch.Tensor) -> torch.Tensor:
    """The neutral sRGB image of a given Lab lightness: ``(*, 1, H, W)`` in [0, 100] -> ``(*, 3, H, W)`` in [0, 1].

    A neutral color's linear R, G and B all equal its luminance, so one channel's curves give it: the whole
    Lab -> RGB conversion of three channels cost 7% of the default model's time, as its backbone's input.
    """
    _check_channels(lightness, 1, "lightness")
    fy = (lightness + 16) / 116
    luminance = torch.where(fy > 6 / 29, fy.pow(3), (fy - 4 / 29) / _KAPPA)
    gray = linear_to_srgb(luminance).clamp_(0, 1)
    return torch.cat((gray, gray, gray), dim=-3)


def lightness_to_u8(lightness: torch.Tensor) -> torch.Tensor:
    """Lab L of any shape in [0, 100] -> uint8 in [0, 255] (``round(2.55 L)``), as OpenCV's 8-bit flow and
    feature detectors take it; on ``lightness``'s device.

    >>> lightness_to_u8(torch.tensor([0.0, 50.0, 100.0])).tolist()
    [0, 128, 255]
    """
    return lightness.mul(2.55).round().clamp(0, 255).to(torch.uint8)
