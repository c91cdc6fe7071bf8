"""Color math as pure tensor functions: sRGB <-> CIE Lab (D65), like ``kornia.color``.

All functions take channel-first tensors of shape ``(*, C, H, W)`` and create their constants on the
input's device and dtype, so they run unchanged on the GPU and inside batched pipelines.

Then the render's full-resolution frame math: decoded frames to Lab lightness and composed Lab back to
frames. These run on every pixel of every frame, so the CPU paths use OpenCV's vectorised conversions and
lookup tables (the same D65/sRGB definitions, to float rounding) rather than the general torch ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np
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


class Staging(Protocol):
    """Host <-> GPU copies of whole frames (``render.devices.PinnedStaging``)."""

    def upload(self, frames: Sequence[np.ndarray]) -> torch.Tensor: ...

    def download(self, tensor: torch.Tensor) -> np.ndarray: ...

_SRGB_TO_LINEAR_U8 = srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255)
_LINEAR_U8 = _SRGB_TO_LINEAR_U8.float().numpy()
_LUMINANCE_ROW = np.array([RGB_TO_LUMINANCE], dtype=np.float32)
# L of the neutral 8-bit color (v, v, v): its luminance is the sRGB curve of v, the weights summing to 1.
_NEUTRAL_LIGHTNESS_U8 = luminance_to_lightness(_SRGB_TO_LINEAR_U8).float().numpy()


def lightness_u8(frame: np.ndarray) -> np.ndarray:
    """Lab L ``(H, W)`` float32 in [0, 100] of an ``(H, W, 3)`` uint8 sRGB frame.

    A black-and-white film decodes to neutral pixels (R = G = B, exactly: checked here), whose L is a
    function of one byte: a 256-entry table, 30x faster than the general path on 640x360 frames. Other frames
    take an sRGB lookup table, one weighted channel sum and the cube root of Lab.
    """
    first = frame[..., 0]
    if np.array_equal(first, frame[..., 1]) and np.array_equal(first, frame[..., 2]):
        return cv2.LUT(np.ascontiguousarray(first), _NEUTRAL_LIGHTNESS_U8)
    luminance = cv2.transform(cv2.LUT(frame, _LINEAR_U8), _LUMINANCE_ROW)
    return luminance_to_lightness(torch.from_numpy(luminance)).numpy()


def frames_to_lightness(
    frames: list[np.ndarray], device: torch.device, staging: Staging | None = None
) -> torch.Tensor:
    """Stack ``(H, W, 3)`` uint8/uint16 RGB frames into Lab L ``(B, 1, H, W)`` float32 in [0, 100] on ``device``.

    8-bit frames for the CPU go through OpenCV (``lightness_u8``). For a GPU, ``staging`` uploads the raw
    frames from pinned memory without blocking; the color math then runs there.
    """
    if frames[0].dtype == np.uint8 and device.type == "cpu":
        return torch.from_numpy(np.stack([lightness_u8(f) for f in frames]))[:, None]
    rgb = staging.upload(frames) if staging is not None else torch.from_numpy(np.stack(frames)).to(device)
    scale = 65535.0 if frames[0].dtype == np.uint16 else 255.0
    if rgb.dtype == torch.uint16:
        rgb = rgb.to(torch.int32)  # torch has few uint16 kernels; int32 holds every value
    return rgb_to_lightness(rgb.permute(0, 3, 1, 2).float().div_(scale))



def lab_to_rgb_array(lab: torch.Tensor, staging: Staging | None = None, deep: bool = False) -> np.ndarray:
    """Lab ``(3, H, W)`` -> sRGB ``(H, W, 3)`` uint8, or uint16 in [0, 65535] with ``deep`` (a deep source's precision).

    On the CPU, OpenCV's conversion: the same D65/sRGB definition as ``color.lab_to_rgb`` (at most one code
    value apart) and about 5x faster at full resolution, which matters because it runs on every pixel.
    """
    scale = 65535.0 if deep else 255.0
    if lab.device.type != "cpu":
        rgb = lab_to_rgb(lab).mul_(scale).round_().to(torch.int32 if deep else torch.uint8).permute(1, 2, 0)  # few uint16 kernels
        rgb = staging.download(rgb) if staging is not None else rgb.cpu().numpy()
        return rgb.astype(np.uint16) if deep else rgb
    rgb = cv2.cvtColor(np.ascontiguousarray(lab.permute(1, 2, 0).float().numpy()), cv2.COLOR_Lab2RGB)
    return np.clip(rgb * scale + 0.5, 0, scale).astype(np.uint16) if deep else cv2.convertScaleAbs(rgb, alpha=scale)
