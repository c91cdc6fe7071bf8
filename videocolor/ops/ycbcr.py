"""Y'CbCr planes of 8-bit video: the film's own luma as Lab lightness, and chroma planes composed from Lab.

The render's plane composition (``render.composition``) keeps the source's luma plane Y bit for bit and computes
only the chroma planes, at their own resolution (a quarter of the pixels in 4:2:0). Two pieces of math make it:

- **Lightness from luma.** A black-and-white film's pixels are neutral (R' = G' = B'), and a neutral pixel's luma
  is that gray level whatever the matrix (its weights sum to 1). Its Lab L is then a 256-entry table of the luma
  code, in limited range (16-235) or full range (0-255).
- **Chroma for a kept luma.** A decoder rebuilds R'G'B' = Y' (1, 1, 1) + M (Cb, Cr). With Y' fixed to the source's,
  the Cb, Cr closest to the wanted color in R'G'B' (least squares over the pixels that share a chroma sample) are
  ``P (target - Y')`` with ``P = (M^T M)^-1 M^T``, applied to the block means: the target color at the chroma
  sample (Lab -> sRGB at that resolution) less the block's mean luma. The standard encoder's Cb, Cr of the target
  color would instead shift every kept-luma pixel along gray by the target's own luma error.

Values: Y' in [0, 1], Cb and Cr in [-0.5, 0.5]; codes are 8-bit (limited: 16 + 219 Y', 128 + 224 C; full:
255 Y', 128 + 255 C).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
import torch

from .color import luminance_to_lightness, srgb_to_linear

MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}  # (Kr, Kb)
# Most |U - 128| or |V - 128| (8-bit codes) of a neutral frame: lossy coding of flat chroma planes rounds to 1-2.
NEUTRAL_CHROMA_TOLERANCE = 2
NEUTRAL_CHROMA_SHARE = 0.01  # share of chroma samples allowed beyond the tolerance (dust, a scanner's noise)


@dataclass(frozen=True)
class YCbCrFormat:
    """How an 8-bit Y'CbCr film codes its colors.

    Attributes:
        matrix: ``"bt601"`` or ``"bt709"`` (``MATRICES``).
        full_range: codes 0-255 (JPEG) rather than 16-235 luma, 16-240 chroma.
        subsampling: ``(x, y)`` log2 of the chroma planes' subsampling: (1, 1) for 4:2:0, (1, 0) 4:2:2, (0, 0) 4:4:4.
    """

    matrix: str
    full_range: bool
    subsampling: tuple[int, int]

    def chroma_shape(self, height: int, width: int) -> tuple[int, int]:
        """``(h, w)`` of the chroma planes of an ``height`` x ``width`` frame (rounded up, as FFmpeg's)."""
        sx, sy = self.subsampling
        return -(-height // (1 << sy)), -(-width // (1 << sx))

    @cached_property
    def lightness_table(self) -> np.ndarray:
        """``(256,)`` float32: Lab L in [0, 100] of the neutral pixel of each luma code."""
        codes = torch.arange(256, dtype=torch.float64)
        gray = (codes / 255 if self.full_range else (codes - 16) / 219).clamp(0, 1)
        return luminance_to_lightness(srgb_to_linear(gray)).float().numpy()

    @cached_property
    def kept_luma_chroma(self) -> tuple[np.ndarray, np.ndarray]:
        """The affine map from (R', G', B' in [0, 1], Y' code) to (Cb, Cr) codes: ``(2, 4)`` weights and ``(2,)`` offsets
        float32 (``P`` of the module docstring, in codes)."""
        kr, kb = MATRICES[self.matrix]
        kg = 1 - kr - kb
        decode = np.array([[0, 2 * (1 - kr)], [-2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg], [2 * (1 - kb), 0]])  # (Cb, Cr) -> R'G'B'
        project = np.linalg.solve(decode.T @ decode, decode.T)  # (2, 3)
        luma_scale, luma_offset, chroma_scale = (255.0, 0.0, 255.0) if self.full_range else (219.0, 16.0, 224.0)
        gray = chroma_scale * project.sum(axis=1)  # what one unit of Y' adds to each
        weights = np.hstack((chroma_scale * project, -gray[:, None] / luma_scale))
        return weights.astype(np.float32), (128.0 + gray * luma_offset / luma_scale).astype(np.float32)


def lightness_from_luma(luma: np.ndarray, fmt: YCbCrFormat) -> tuple[np.ndarray, np.ndarray]:
    """A neutral frame's Lab L and mean luma at the chroma planes' resolution.

    Args:
        luma: ``(H, W)`` uint8 luma plane Y.
        fmt: the film's coding.

    Returns:
        ``L`` ``(h, w)`` float32 in [0, 100] (area mean of the full-resolution L) and the luma codes' area mean
        ``(h, w)`` float32 in [0, 255], ``(h, w) = fmt.chroma_shape(H, W)``.
    """
    height, width = fmt.chroma_shape(*luma.shape)
    lightness = cv2.LUT(luma, fmt.lightness_table)
    mean = luma.astype(np.float32)
    if (height, width) != luma.shape:
        lightness = cv2.resize(lightness, (width, height), interpolation=cv2.INTER_AREA)
        mean = cv2.resize(mean, (width, height), interpolation=cv2.INTER_AREA)
    return lightness, mean


def chroma_for_luma(lab: torch.Tensor, mean_luma: np.ndarray, fmt: YCbCrFormat) -> tuple[np.ndarray, np.ndarray]:
    """Cb and Cr planes for a kept luma plane: the colors ``lab`` at the chroma samples, least squares in R'G'B'.

    Args:
        lab: ``(3, h, w)`` CPU Lab at the chroma planes' resolution (L in [0, 100], a/b in about [-110, 110]).
        mean_luma: ``(h, w)`` float32 mean luma code of the pixels of each chroma sample (``lightness_from_luma``).
        fmt: the output's coding (the film's).

    Returns:
        ``Cb``, ``Cr``: ``(h, w)`` uint8 codes, within the legal range (16-240 limited, 0-255 full).
    """
    rgb = cv2.cvtColor(np.ascontiguousarray(lab.permute(1, 2, 0).float().numpy()), cv2.COLOR_Lab2RGB)
    weights, offset = fmt.kept_luma_chroma
    low, high = (0, 255) if fmt.full_range else (16, 240)
    height, width = mean_luma.shape
    samples = np.concatenate((rgb.reshape(-1, 3), mean_luma.reshape(-1, 1)), axis=1)
    planes = np.clip(np.rint(samples @ weights.T + offset), low, high).astype(np.uint8)
    return planes[:, 0].reshape(height, width), planes[:, 1].reshape(height, width)


def neutral_chroma(planes: list[np.ndarray]) -> bool:
    """Whether 8-bit chroma planes (U, V, any shape) hold a neutral picture (a black-and-white film, not a tinted scan)."""
    beyond = sum(int(np.count_nonzero(np.abs(p.astype(np.int16) - 128) > NEUTRAL_CHROMA_TOLERANCE)) for p in planes)
    return beyond <= NEUTRAL_CHROMA_SHARE * sum(p.size for p in planes)
