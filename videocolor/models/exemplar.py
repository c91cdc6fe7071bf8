"""The default model: training-free exemplar colorization on the embedded EfficientNet-Lite0 backbone.

For each position of the gray frame, find semantically similar positions of the *grayscale version* of the
reference (cosine similarity of centred, normalised multi-scale features), and take a low-temperature
softmax average of the reference's chroma there. The best similarity is the confidence. This is the
correspondence half of He et al. 2018 without training; the pipeline then upsamples the chroma guided by
full-resolution lightness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..color import lightness_to_gray_rgb, rgb_to_lab
from .backbone_lite0 import EfficientNetLite0, compute_dtype, shared_efficientnet_lite0
from .exemplar_card import ExemplarSettings

# Target positions matched per chunk: bounds the similarity matrix at chunk x reference positions.
_CHUNK = 1024
# Dimensions of the subspace frames are matched in: 128 of the 512 cost 0.05 dB PSNR (measured)
# and cut the cost of matching by about 3x.
_SUBSPACE = 128
# Largest |a|, |b| of sRGB colors; the per-cell color model is kept inside it.
_AB_LIMIT = 110.0
# Variance (in L units squared) added to each cell's lightness variance when fitting its color slope:
# flat cells get no slope; 1 to 16 all work, 4 measured best.
_SLOPE_PRIOR = 4.0
# Norm under which a centred tap counts as flat: a tap with one value over the whole frame (the deepest taps
# of a tiny frame) centres to rounding noise, which normalising would blow up to unit vectors that depend
# on the batch size. Real taps have norms of order 1 (unit vectors, centred).
_CENTRED_EPS = 1e-3
# Weight of each backbone tap (strides 2, 4, 8, 16, 32) in the matching feature. Doubling the two deepest,
# most semantic taps gained 0.55 dB PSNR on pans and zooms over six real photos (mirrored-crop references).
TAP_WEIGHTS = (1.0, 1.0, 1.0, 2.0, 2.0)


@dataclass
class ExemplarReference:
    """A reference prepared for matching: per grid cell, matching features and a local color model.

    Each cell's chroma is modelled as linear in lightness, ``ab(L) = ab + slope * (L - lightness)`` (a
    regularised least-squares fit over the cell's pixels), so a warped cell carries its internal color
    variation (a red stripe beside a white one) and not only its mean: +1.0 dB PSNR over mean-only cells on
    pans and zooms over six real photos.

    Attributes:
        basis: ``(D, K)`` the principal directions of the reference's features; frames are matched in this
            K-dimensional subspace (the directions the reference does not use cannot tell its cells apart).
        features: ``(N, K)`` unit-norm matching features of the reference's grayscale version, in ``basis``.
        colors: ``(N, 5)``: mean a, mean b, slope of a and of b over L, mean L (in [0, 100]) of each cell.
    """

    basis: torch.Tensor
    features: torch.Tensor
    colors: torch.Tensor

    @property
    def lightness(self) -> torch.Tensor:
        """``(N,)`` mean Lab L of each cell."""
        return self.colors[:, 4]


def fit_long_side(height: int, width: int, long_side: int, multiple: int = 1) -> tuple[int, int]:
    """(h, w) with the longer side ``long_side`` (never upscaled), aspect kept, each a multiple of ``multiple``."""
    scale = min(1.0, long_side / max(height, width))
    h = max(multiple, round(height * scale / multiple) * multiple)
    w = max(multiple, round(width * scale / multiple) * multiple)
    return h, w


class ExemplarColorizer:
    """Dense-correspondence colorizer (see the module docstring); fulfils ``models.base.Colorizer``.

    Args:
        device: where the backbone runs.
        work_size: long side of the work resolution in pixels.
        temperature: softmax temperature over reference positions (0.005-0.02 behave alike).
        match_stride: stride, in work pixels, of the frame's matching grid (4 is sharper, 8 is ~4x cheaper).
        reference_stride: stride of the reference's grid, a multiple of ``match_stride`` (cost falls with its square).
        luminance_weight: similarity lost per 100 units of lightness difference between matched cells; a weak
            prior that breaks ties between semantically alike positions (measured: +0.25 dB on real-photo pans).
        precision: the backbone's compute precision (``backbone_lite0.compute_dtype``); matching stays float32.
    """

    name = "exemplar"

    def __init__(
        self,
        device: torch.device,
        *,
        work_size: int = 256,
        temperature: float = 0.01,
        match_stride: int = 8,
        reference_stride: int = 8,
        luminance_weight: float = 1.0,
        precision: str = "float32",
    ) -> None:
        if reference_stride % match_stride:
            raise ValueError(f"reference_stride ({reference_stride}) must be a multiple of match_stride ({match_stride})")
        self.device = torch.device(device)
        self.work_size = work_size
        self.temperature = temperature
        self.grid_stride = match_stride
        self.reference_stride = reference_stride
        self.luminance_weight = luminance_weight
        self.backbone: EfficientNetLite0 = shared_efficientnet_lite0(self.device)
        self.dtype = compute_dtype(precision, self.device)

    def work_shape(self, height: int, width: int) -> tuple[int, int]:
        return fit_long_side(height, width, self.work_size, multiple=self.grid_stride)

    def reset(self) -> None:
        """The exemplar model has no temporal state."""

    @torch.inference_mode()
    def matching_features(self, lightness: torch.Tensor) -> torch.Tensor:
        """Matching features of gray images.

        Args:
            lightness: ``(B, 1, h, w)`` Lab L in [0, 100], ``h`` and ``w`` multiples of ``grid_stride``.

        Returns:
            ``(B, D, h / grid_stride, w / grid_stride)``, unit norm over ``D`` at every position.
        """
        grid = (lightness.shape[-2] // self.grid_stride, lightness.shape[-1] // self.grid_stride)
        taps = self.backbone.features(lightness_to_gray_rgb(lightness), self.dtype)
        parts = []
        for weight, tap in zip(TAP_WEIGHTS, taps):
            if tap.shape[-1] > grid[1]:  # pool fine taps first: normalising at their full size costs more than it gains
                tap = F.adaptive_avg_pool2d(tap, grid)
            else:
                tap = F.interpolate(F.normalize(tap, dim=1), size=grid, mode="bilinear")
            tap = F.normalize(tap, dim=1)
            tap = tap - tap.mean(dim=(2, 3), keepdim=True)
            parts.append(weight * F.normalize(tap, dim=1, eps=_CENTRED_EPS))
        return F.normalize(torch.cat(parts, dim=1), dim=1)

    @torch.inference_mode()
    def prepare_reference(self, rgb: torch.Tensor) -> ExemplarReference:
        """Features and pooled chroma of a reference ``rgb`` ``(3, H, W)`` in [0, 1], any size."""
        h, w = fit_long_side(rgb.shape[-2], rgb.shape[-1], self.work_size, multiple=self.reference_stride)
        rgb = F.interpolate(rgb[None].to(self.device, torch.float32), size=(h, w), mode="area")
        lab = rgb_to_lab(rgb)
        features = self.matching_features(lab[:, :1])
        features = F.normalize(F.avg_pool2d(features, self.reference_stride // self.grid_stride), dim=1)[0]
        features = features.flatten(1).T  # (N, D)
        # Top principal directions of the second moment (eigh: deterministic, unlike randomised PCA).
        _, vectors = torch.linalg.eigh(features.T @ features)
        basis = vectors[:, -min(_SUBSPACE, vectors.shape[1]) :].contiguous()
        lightness, ab = lab[:, :1], lab[:, 1:]
        mean_l, mean_ab = F.avg_pool2d(lightness, self.reference_stride), F.avg_pool2d(ab, self.reference_stride)
        covariance = F.avg_pool2d(lightness * ab, self.reference_stride) - mean_l * mean_ab
        variance = F.avg_pool2d(lightness * lightness, self.reference_stride) - mean_l * mean_l
        slope = covariance / (variance.clamp_min(0) + _SLOPE_PRIOR)
        colors = torch.cat((mean_ab, slope, mean_l), dim=1)[0].flatten(1)
        return ExemplarReference(basis, F.normalize(features @ basis, dim=1), colors.T.contiguous())

    @torch.inference_mode()
    def colorize(self, lightness: torch.Tensor, reference: ExemplarReference) -> tuple[torch.Tensor, torch.Tensor]:
        """Chroma and confidence for ``lightness`` ``(B, 1, h, w)`` in [0, 100]; see ``Colorizer.colorize``."""
        batch, _, height, width = lightness.shape
        features = self.matching_features(lightness)
        grid = features.shape[-2:]
        queries = F.normalize(features.flatten(2).transpose(1, 2) @ reference.basis, dim=-1)  # (B, N, K)
        query_lightness = F.avg_pool2d(lightness, self.grid_stride).flatten(1)  # (B, N)
        penalty = self.luminance_weight / 100.0
        colors = torch.empty(batch, queries.shape[1], 5, device=self.device, dtype=queries.dtype)
        confidence = torch.empty(batch, queries.shape[1], device=self.device, dtype=queries.dtype)
        for start in range(0, queries.shape[1], _CHUNK):
            similarity = queries[:, start : start + _CHUNK] @ reference.features.T  # (B, n, N_ref)
            confidence[:, start : start + _CHUNK] = similarity.amax(dim=-1)
            lightness_gap = (query_lightness[:, start : start + _CHUNK, None] - reference.lightness).abs_()
            similarity.sub_(lightness_gap.mul_(penalty))
            weights = torch.softmax(similarity / self.temperature, dim=-1)
            colors[:, start : start + _CHUNK] = weights @ reference.colors
        size = (height, width)
        colors = F.interpolate(colors.transpose(1, 2).reshape(batch, 5, *grid), size=size, mode="bilinear", align_corners=False)
        confidence = confidence.clamp(0, 1).reshape(batch, 1, *grid)
        ab = colors[:, :2] + colors[:, 2:4] * (lightness - colors[:, 4:5])
        return (
            ab.clamp_(-_AB_LIMIT, _AB_LIMIT),
            F.interpolate(confidence, size=size, mode="bilinear", align_corners=False),
        )


def build(settings: ExemplarSettings, device: torch.device, files: Mapping[str, Path]) -> ExemplarColorizer:
    """The registry's builder; the backbone (shared with retrieval) finds its packaged weights itself."""
    return ExemplarColorizer(device, **asdict(settings))
