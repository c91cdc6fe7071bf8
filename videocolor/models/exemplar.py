"""The default model: training-free exemplar colorization on the embedded EfficientNet-Lite0 backbone.

For each position of the gray frame, find semantically similar positions of the *grayscale version* of the
reference (cosine similarity of centred, normalised multi-scale features), and take a low-temperature
softmax average of the reference's color tables there; each frame pixel then reads the warped table at its
own lightness. The best similarity is the confidence; where it is low, the color gives way to the
reference's color for that lightness. This is the correspondence half of He et al. 2018 without training;
the pipeline then upsamples the chroma guided by full-resolution lightness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..ops.color import lightness_to_gray_rgb, rgb_to_lab
from ..ops.fusion import fuse
from .backbone_lite0 import EfficientNetLite0, compute_dtype, shared_efficientnet_lite0
from .base import FusedReference
from .exemplar_card import ExemplarSettings
from .exemplar_flow import DIS_PRESET, FlowReference, FlowRefiner

# Target positions matched per chunk: bounds the similarity matrix at chunk x reference positions.
_CHUNK = 1024

# Largest |a|, |b| of sRGB colors; predicted chroma is kept inside it.
_AB_LIMIT = 110.0
# Norm under which a centred tap counts as flat: a tap with one value over the whole frame (the deepest taps
# of a tiny frame) centres to rounding noise, which normalising would blow up to unit vectors that depend
# on the batch size. Real taps have norms of order 1 (unit vectors, centred).
_CENTRED_EPS = 1e-3
# Weight of a cell's mean chroma in its table lookup, for frame pixels of a lightness the cell lacks.
_TABLE_PRIOR = 1e-3
# Frames read the warped tables at half the work resolution (their lightness 2x2-averaged), then the chroma
# is upsampled: a quarter of the cost of reading at full work resolution, for 0.07 dB on the real pairs.
_READ_STRIDE = 2
# Defaults of the design choices (each measured on the real-footage set, see README "Ablation").
TAP_WEIGHTS = (0.0, 1.0, 1.0, 1.0, 1.0)  # backbone taps at strides 2, 4, 8, 16, 32 (0: left out)
SUBSPACE = 128  # dimensions frames are matched in: matching 3x cheaper for about 0.02 dB
BINS = 16  # lightness bins of a cell's color table, Gaussian kernels half a bin wide
FALLBACK = (0.3, 0.6)  # confidence below which the matched color gives way to the lightness color
# (work size, match stride) when the settings leave them to the device: the CPU keeps the default fast;
# a GPU has time for finer matching at twice the resolution (+1.0 dB on the real pairs, +0.2 dB in-shot).
DEVICE_DEFAULTS = {"cpu": (256, 8), "cuda": (512, 4)}


@dataclass
class ExemplarReference:
    """A reference prepared for matching: per grid cell, matching features and a color table over lightness.

    A cell's table holds, per lightness bin ``k`` (Gaussian kernel ``w_k(L)`` around the bin's centre), the
    kernel mass ``n_k`` of its pixels and their kernel-weighted chroma sums ``s_k``; a frame pixel of
    lightness ``L`` reads ``sum_k w_k(L) s_k / sum_k w_k(L) n_k``. So a warped cell carries its internal
    color variation (a dark red flower on a light green cloth) and not only its mean.

    Attributes:
        basis: ``(D, K)`` the principal directions of the reference's features; frames are matched in this
            K-dimensional subspace (the directions the reference does not use cannot tell its cells apart).
        features: ``(N, K)`` unit-norm matching features of the reference's grayscale version, in ``basis``.
        tables: ``(N, 3 * bins + 2)``: per cell ``n_k``, ``s_k`` of a, ``s_k`` of b (``bins`` each), then
            its mean a and mean b.
        flow: what the flow refinement needs of the reference (``None`` without it).
    """

    basis: torch.Tensor
    features: torch.Tensor
    tables: torch.Tensor
    flow: FlowReference | None


def fit_long_side(height: int, width: int, long_side: int, multiple: int = 1) -> tuple[int, int]:
    """(h, w) with the longer side ``long_side`` (never upscaled), aspect kept, each a multiple of ``multiple``."""
    scale = min(1.0, long_side / max(height, width))
    h = max(multiple, round(height * scale / multiple) * multiple)
    w = max(multiple, round(width * scale / multiple) * multiple)
    return h, w


def bin_kernels(lightness: torch.Tensor, bins: int) -> torch.Tensor:
    """``(B, 1, h, w)`` L in [0, 100] -> ``(B, bins, h, w)`` Gaussian weights of the lightness bins (width 1/2 bin)."""
    if bins == 0:
        return lightness[:, :0]
    step = 100.0 / bins
    centres = torch.arange(bins, device=lightness.device, dtype=lightness.dtype).add_(0.5).mul_(step)
    return torch.exp(-0.5 * ((lightness - centres.view(1, -1, 1, 1)) / (0.5 * step)) ** 2)


def read_tables(tables: torch.Tensor, lightness: torch.Tensor, bins: int) -> torch.Tensor:
    """Chroma of pixels of ``lightness`` ``(B, 1, h, w)`` from per-pixel ``tables`` ``(B, 3 * bins + 2, h, w)``."""
    if bins == 0:
        return tables[:, :2]
    weights = bin_kernels(lightness, bins)
    mass = (weights * tables[:, :bins]).sum(1, keepdim=True)
    a = (weights * tables[:, bins : 2 * bins]).sum(1, keepdim=True)
    b = (weights * tables[:, 2 * bins : 3 * bins]).sum(1, keepdim=True)
    mean = tables[:, 3 * bins : 3 * bins + 2]
    return (torch.cat((a, b), 1) + _TABLE_PRIOR * mean) / (mass + _TABLE_PRIOR)


class ExemplarColorizer:
    """Dense-correspondence colorizer (see the module docstring); fulfils ``models.base.Colorizer``.

    Args:
        device: where the backbone runs.
        work_size: long side of the work resolution in pixels.
        temperature: softmax temperature over reference positions.
        match_stride: stride, in work pixels, of the frame's matching grid (4 is sharper, 8 is ~4x cheaper).
        reference_stride: stride of the reference's grid, a multiple of ``match_stride`` (cost falls with its square).
        tap_weights: weight of each backbone tap (strides 2, 4, 8, 16, 32) in the matching feature.
        subspace: dimensions of the reference's principal subspace frames are matched in (0: all).
        bins: lightness bins of each cell's color table (0: a cell carries its mean color only).
        fallback: ``(low, high)`` confidence: under ``high`` a cell's matched table blends linearly into the
            reference's whole table (its color for each lightness), reached at ``low``; ``None``: never.
        precision: the backbone's compute precision (``backbone_lite0.compute_dtype``); matching stays float32.
        flow_refinement: DIS preset of the optical flow to the reference along which the chroma is corrected
            pixel by pixel where the flow passes its consistency checks (``exemplar_flow``; they fail on a
            reference of another scene); ``None``: never.
        homography: let the flow refinement align the reference by a homography first where the direct flow fails.
    """

    name = "exemplar"
    recurrent = False

    def __init__(
        self,
        device: torch.device,
        *,
        work_size: int = 256,
        temperature: float = 0.02,
        match_stride: int = 8,
        reference_stride: int = 8,
        tap_weights: tuple[float, ...] = TAP_WEIGHTS,
        subspace: int = SUBSPACE,
        bins: int = BINS,
        fallback: tuple[float, float] | None = FALLBACK,
        precision: str = "float32",
        flow_refinement: str | None = DIS_PRESET,
        homography: bool = True,
    ) -> None:
        if reference_stride % match_stride:
            raise ValueError(f"reference_stride ({reference_stride}) must be a multiple of match_stride ({match_stride})")
        self.device = torch.device(device)
        self.work_size = work_size
        self.temperature = temperature
        self.match_stride = match_stride
        self.reference_stride = reference_stride
        self.tap_weights = tap_weights
        self.subspace = subspace
        self.bins = bins
        self.fallback = fallback
        self.backbone: EfficientNetLite0 = shared_efficientnet_lite0(self.device)
        self.dtype = compute_dtype(precision, self.device)
        self.refiner = FlowRefiner(self.device, flow_refinement, homography=homography) if flow_refinement else None

    def work_shape(self, height: int, width: int) -> tuple[int, int]:
        return fit_long_side(height, width, self.work_size, multiple=self.match_stride)

    def reset(self) -> None:
        """At a cut: the flow refinement tries the new shot's frames afresh (the model has no other state)."""
        if self.refiner is not None:
            self.refiner.reset()

    @torch.inference_mode()
    def matching_features(self, lightness: torch.Tensor) -> torch.Tensor:
        """Matching features of gray images.

        Args:
            lightness: ``(B, 1, h, w)`` Lab L in [0, 100], ``h`` and ``w`` multiples of ``match_stride``.

        Returns:
            ``(B, D, h / match_stride, w / match_stride)``, unit norm over ``D`` at every position.
        """
        grid = (lightness.shape[-2] // self.match_stride, lightness.shape[-1] // self.match_stride)
        taps = self.backbone.features(lightness_to_gray_rgb(lightness), self.dtype)
        parts = []
        for weight, tap in zip(self.tap_weights, taps):
            if weight == 0:
                continue
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
        """Features and color tables of a reference ``rgb`` ``(3, H, W)`` in [0, 1], any size."""
        h, w = fit_long_side(rgb.shape[-2], rgb.shape[-1], self.work_size, multiple=self.reference_stride)
        rgb = F.interpolate(rgb[None].to(self.device, torch.float32), size=(h, w), mode="area")
        lab = rgb_to_lab(rgb)
        features = self.matching_features(lab[:, :1])
        features = F.normalize(F.avg_pool2d(features, self.reference_stride // self.match_stride), dim=1)[0]
        features = features.flatten(1).T  # (N, D)
        if self.subspace:  # top principal directions of the second moment (eigh: deterministic)
            _, vectors = torch.linalg.eigh(features.T @ features)
            basis = vectors[:, -min(self.subspace, vectors.shape[1]) :].contiguous()
        else:
            basis = torch.eye(features.shape[1], device=self.device)
        lightness, ab = lab[:, :1], lab[:, 1:]
        kernels = bin_kernels(lightness, self.bins)
        cells = torch.cat((kernels, kernels * ab[:, :1], kernels * ab[:, 1:], ab), dim=1)
        tables = F.avg_pool2d(cells, self.reference_stride)[0].flatten(1).T.contiguous()
        flow = self.refiner.prepare(lab) if self.refiner is not None else None
        return ExemplarReference(basis, F.normalize(features @ basis, dim=1), tables, flow)

    @torch.inference_mode()
    def colorize(self, lightness: torch.Tensor, reference: ExemplarReference | FusedReference) -> tuple[torch.Tensor, torch.Tensor]:
        """Chroma and confidence for ``lightness`` ``(B, 1, h, w)`` in [0, 100]; see ``Colorizer.colorize``.

        A ``fusion.FusedReference``: the frames' features are computed once, matched to each reference, and
        the results fused per pixel (``fusion.fuse``).
        """
        features = self.matching_features(lightness)
        if isinstance(reference, FusedReference):
            results = [self._match(lightness, features, one) for one in reference.references]
            return fuse(torch.stack([ab for ab, _ in results]), torch.stack([c for _, c in results]))
        return self._match(lightness, features, reference)

    def _match(self, lightness: torch.Tensor, features: torch.Tensor, reference: ExemplarReference) -> tuple[torch.Tensor, torch.Tensor]:
        """``colorize`` against one reference, given the frames' ``matching_features``."""
        batch, _, height, width = lightness.shape
        grid = features.shape[-2:]
        queries = F.normalize(features.flatten(2).transpose(1, 2) @ reference.basis, dim=-1)  # (B, N, K)
        tables = reference.tables
        warped = torch.empty(batch, queries.shape[1], tables.shape[1], device=self.device, dtype=queries.dtype)
        confidence = torch.empty(batch, queries.shape[1], device=self.device, dtype=queries.dtype)
        for start in range(0, queries.shape[1], _CHUNK):
            similarity = queries[:, start : start + _CHUNK] @ reference.features.T  # (B, n, N_ref)
            confidence[:, start : start + _CHUNK] = similarity.amax(dim=-1)
            weights = torch.softmax(similarity / self.temperature, dim=-1)
            warped[:, start : start + _CHUNK] = weights @ tables
        confidence = confidence.clamp_(0, 1)
        if self.fallback is not None:  # blend each cell's table into the reference's whole table as trust drops
            low, high = self.fallback
            trust = ((confidence - low) / (high - low)).clamp(0, 1)[..., None]
            warped = trust * warped + (1 - trust) * tables.mean(0)
        size = (height, width)
        coarse = F.avg_pool2d(lightness, _READ_STRIDE)
        warped = F.interpolate(warped.transpose(1, 2).reshape(batch, -1, *grid), size=coarse.shape[-2:], mode="bilinear", align_corners=False)
        ab = F.interpolate(read_tables(warped, coarse, self.bins), size=size, mode="bilinear", align_corners=False)
        confidence = F.interpolate(confidence.reshape(batch, 1, *grid), size=size, mode="bilinear", align_corners=False)
        if self.refiner is not None:
            ab, confidence = self.refiner.refine(lightness, ab, confidence, reference.flow)
        return ab.clamp_(-_AB_LIMIT, _AB_LIMIT), confidence


def build(settings: ExemplarSettings, device: torch.device, files: Mapping[str, Path]) -> ExemplarColorizer:
    """The registry's builder; a work size or match stride of 0 is chosen by the device (``DEVICE_DEFAULTS``)."""
    work_size, match_stride = DEVICE_DEFAULTS["cuda" if torch.device(device).type == "cuda" else "cpu"]
    chosen = asdict(settings)
    chosen["work_size"] = settings.work_size or work_size
    chosen["match_stride"] = settings.match_stride or match_stride
    return ExemplarColorizer(device, **chosen)
