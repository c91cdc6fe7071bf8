"""Y'CbCr planes of 8-bit video: the film's own luma as Lab lightness, and frames composed from Lab as planes.

The render's plane composition (``render.composition``) starts from the source's luma plane Y and computes the
chroma planes at their own resolution (a quarter of the pixels in 4:2:0); no full-resolution RGB is made.

- **Lightness from luma.** A black-and-white film's pixels are neutral (R' = G' = B'), and a neutral pixel's luma
  is that gray level whatever the matrix (its weights sum to 1). Its Lab L is then a 256-entry table of the luma
  code, in limited range (16-235) or full range (0-255).
- **The colors at the chroma samples**: Lab (the lightness there, the predicted ab) -> sR'G'B' -> the film
  matrix's Y_T, Cb_T, Cr_T codes.
- **Luma.** Luma is not lightness: a saturated color has a lower luma than the gray of the same Lab L. So either
  the luma is shifted by the colors' own (``Y = Y_source + (Y_T - mean Y_source)``, the shift computed per chroma
  sample and upsampled bilinearly: the film's grain and detail stay, the colors are the Lab composition's), or,
  ``keep_luma``, the source's luma is kept bit for bit and the chroma made the closest it can be for it: a decoder
  rebuilds R'G'B' = Y' (1, 1, 1) + M (Cb, Cr), and with Y' fixed the least-squares Cb, Cr (over the pixels of a
  chroma sample) are ``P (T - Y')`` with ``P = (M^T M)^-1 M^T``, which is ``(Cb_T, Cr_T) + P (1, 1, 1) (Y'_T - Y')``.

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
    """How an 8-bit Y'CbCr film codes its colors, and how its frames are composed.

    Attributes:
        matrix: ``"bt601"`` or ``"bt709"`` (``MATRICES``).
        full_range: codes 0-255 (JPEG) rather than 16-235 luma, 16-240 chroma.
        subsampling: ``(x, y)`` log2 of the chroma planes' subsampling: (1, 1) for 4:2:0, (1, 0) 4:2:2, (0, 0) 4:4:4.
        keep_luma: the output's luma plane is the source's, bit for bit (else shifted to the colors' own luma).
    """

    matrix: str
    full_range: bool
    subsampling: tuple[int, int]
    keep_luma: bool = False

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
    def encoding(self) -> tuple[np.ndarray, np.ndarray]:
        """``(3, 4)`` float32 affine map from R'G'B' in [0, 1] to Y, Cb, Cr codes (unrounded), and the ``(2,)`` change
        of the least-squares Cb, Cr per luma code of difference ``Y_T - Y`` (``P (1, 1, 1)`` in codes)."""
        kr, kb = MATRICES[self.matrix]
        kg = 1 - kr - kb
        luma_scale, luma_offset, chroma_scale = (255.0, 0.0, 255.0) if self.full_range else (219.0, 16.0, 224.0)
        rows = np.array([[kr, kg, kb], [-kr, -kg, 1 - kb], [1 - kr, -kg, -kb]])
        rows[1] /= 2 * (1 - kb)
        rows[2] /= 2 * (1 - kr)
        scales = np.array([luma_scale, chroma_scale, chroma_scale])[:, None]
        affine = np.hstack((rows * scales, [[luma_offset], [128.0], [128.0]]))
        decode = np.array([[0, 2 * (1 - kr)], [-2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg], [2 * (1 - kb), 0]])  # (Cb, Cr) -> R'G'B'
        gray_gain = np.linalg.solve(decode.T @ decode, decode.T).sum(axis=1) * chroma_scale / luma_scale
        return affine.astype(np.float32), gray_gain.astype(np.float32)


def lightness_from_luma(luma: np.ndarray, fmt: YCbCrFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A neutral frame's Lab L, at full resolution and at the chroma planes', and its mean luma at the latter.

    Args:
        luma: ``(H, W)`` uint8 luma plane Y.
        fmt: the film's coding.

    Returns:
        ``L`` ``(H, W)`` float32 in [0, 100], its area mean ``(h, w)`` and the luma codes' area mean ``(h, w)`` float32
        in [0, 255], ``(h, w) = fmt.chroma_shape(H, W)``.
    """
    height, width = fmt.chroma_shape(*luma.shape)
    lightness = cv2.LUT(luma, fmt.lightness_table)
    if (height, width) == luma.shape:
        return lightness, lightness, luma.astype(np.float32)
    area = lambda plane: cv2.resize(plane, (width, height), interpolation=cv2.INTER_AREA)  # noqa: E731
    return lightness, area(lightness), area(luma.astype(np.float32))


def compose_planes(lab: torch.Tensor, luma: np.ndarray, mean_luma: np.ndarray, fmt: YCbCrFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame's Y, Cb and Cr planes from the source's luma and the Lab colors at the chroma samples (module docstring).

    Args:
        lab: ``(3, h, w)`` CPU Lab at the chroma planes' resolution (L in [0, 100], a/b in about [-110, 110]).
        luma: ``(H, W)`` uint8, the source's luma plane.
        mean_luma: ``(h, w)`` float32 mean luma code of the pixels of each chroma sample (``lightness_from_luma``).
        fmt: the output's coding (the film's).

    Returns:
        ``Y`` ``(H, W)`` (``luma`` itself with ``fmt.keep_luma``), ``Cb`` and ``Cr`` ``(h, w)``: uint8 codes, the
        chroma within the legal range (16-240 limited, 0-255 full).
    """
    rgb = cv2.cvtColor(np.ascontiguousarray(lab.permute(1, 2, 0).float().numpy()), cv2.COLOR_Lab2RGB)
    affine, gray_gain = fmt.encoding
    target = cv2.split(cv2.transform(rgb, affine))  # Y_T, Cb_T, Cr_T
    shift = target[0] - mean_luma  # Y_T - Y per chroma sample
    low, high = (0, 255) if fmt.full_range else (16, 240)
    if fmt.keep_luma:
        chroma = [cv2.scaleAdd(shift, float(gain), plane) for gain, plane in zip(gray_gain, target[1:])]
        y = luma
    else:
        chroma = target[1:]
        if shift.shape != luma.shape:
            shift = cv2.resize(shift, luma.shape[::-1], interpolation=cv2.INTER_LINEAR)
        y = cv2.add(luma, shift, dtype=cv2.CV_8U)  # rounded, saturated to 0-255 (as the source's luma may be)
    return y, _codes(chroma[0], low, high), _codes(chroma[1], low, high)


def _codes(values: np.ndarray, low: int, high: int) -> np.ndarray:
    """Float codes -> uint8, rounded and clipped to ``[low, high]``."""
    return np.clip(values + 0.5, low, high).astype(np.uint8)  # + 0.5 then truncation: rounding, as low >= 0


def neutral_chroma(planes: list[np.ndarray]) -> bool:
    """Whether 8-bit chroma planes (U, V, any shape) hold a neutral picture (a black-and-white film, not a tinted scan)."""
    beyond = sum(int(np.count_nonzero(np.abs(p.astype(np.int16) - 128) > NEUTRAL_CHROMA_TOLERANCE)) for p in planes)
    return beyond <= NEUTRAL_CHROMA_SHARE * sum(p.size for p in planes)
