"""Colorizing a batch of one shot's frames, in two halves: the model's at the work resolution
(``predict_chroma``), then the full resolution's (``compose_frames``): chroma upsampled along the source's
edges and joined to its exact lightness. ``pipeline.Renderer`` runs them in separate threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.base import Colorizer
from ..ops.color import lab_to_rgb_array
from ..ops.upsample import guided_upsample
from ..ops.ycbcr import YCbCrFormat, compose_planes, lightness_from_luma
from .devices import PinnedStaging
from .repeats import HeldFrame, RepeatSkipper
from .timings import StageTimes


@torch.inference_mode()
def work_lightness(colorizer: Colorizer, lightness: torch.Tensor, frame_shape: tuple[int, int] | None = None) -> torch.Tensor:
    """``(B, 1, H, W)`` L -> ``(B, 1, h, w)`` at the colorizer's work resolution (area average).

    ``frame_shape``: the film's ``(height, width)`` when ``lightness`` is at another resolution (the chroma planes').
    """
    return F.interpolate(lightness, size=colorizer.work_shape(*(frame_shape or lightness.shape[-2:])), mode="area")


def luma_lightness(colorizer: Colorizer, planes: list[np.ndarray], fmt: YCbCrFormat) -> tuple[torch.Tensor, np.ndarray, torch.Tensor]:
    """The lightness of neutral frames from their luma planes ``(H, W)`` uint8 (``ops.ycbcr.lightness_from_luma``).

    Returns Lab L ``(B, 1, h, w)`` float32 in [0, 100] and mean luma codes ``(B, h, w)`` float32 at the chroma planes'
    resolution, and L at the work resolution (``work_lightness``; from full resolution when the work resolution is
    finer than the chroma planes', as for a small film).
    """
    full, lightness, means = zip(*(lightness_from_luma(y, fmt) for y in planes))
    chroma = torch.from_numpy(np.stack(lightness))[:, None]
    work = colorizer.work_shape(*planes[0].shape)
    finer = work[0] > chroma.shape[-2] or work[1] > chroma.shape[-1]
    small = work_lightness(colorizer, torch.from_numpy(np.stack(full))[:, None] if finer else chroma, planes[0].shape)
    return chroma, np.stack(means), small


@torch.inference_mode()
def predict_chroma(
    colorizer: Colorizer,
    small: torch.Tensor,
    reference: Any | None,
    smoother: Any | None = None,
    motion: Any = None,
    skipper: RepeatSkipper | None = None,
    times: StageTimes | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's half of colorizing consecutive frames of one shot, at the work resolution.

    Args:
        colorizer: any ``models.base.Colorizer`` (already ``reset`` at a shot's start by the caller).
        small: ``(B, 1, h, w)`` Lab L in [0, 100] at the work resolution (``work_lightness``).
        reference: what ``colorizer.prepare_reference`` returned (a ``fusion.FusedReference`` of several), or
            ``None`` to leave the frames gray.
        smoother: optional temporal stage, applied to chroma at the work resolution; ``motion`` is its
            ``estimate`` for these frames when computed ahead. With its ``carry`` set, the frames it ``plan``s to
            carry along the flow are not colorized.
        skipper: optional ``repeats.RepeatSkipper``: frames repeating the last one colorized are not recomputed.
        times: where the seconds of the model and the temporal blend are added (on a GPU: of queuing the work).

    Returns:
        ``ab`` ``(B, 2, h, w)`` and ``confidence`` ``(B, 1, h, w)``.
    """
    if reference is None:
        return torch.zeros(small.shape[0], 2, *small.shape[-2:], device=small.device), torch.ones_like(small)
    times = times or StageTimes()
    predicted = None
    if smoother is not None and smoother.carry and not colorizer.recurrent:  # a recurrent model must see every frame
        with times.timing("temporal"):
            predicted, motion = smoother.plan(small, motion)
        fresh = small[torch.tensor(predicted, device=small.device)]
    else:
        fresh = small
    with times.timing("model"):
        if not len(fresh):  # every frame of the batch is carried
            ab, confidence = small.new_zeros(0, 2, *small.shape[-2:]), small.new_zeros(0, 1, *small.shape[-2:])
        elif skipper is not None:
            ab, confidence = skipper.colorize(lambda frames: colorizer.colorize(frames, reference), fresh)
        else:
            ab, confidence = colorizer.colorize(fresh, reference)
    if smoother is not None:
        with times.timing("temporal"):
            ab, confidence = smoother.blend(small, ab, confidence, motion, predicted)
    return ab, confidence


@torch.inference_mode()
def compose_frames(
    lightness: torch.Tensor,
    small: torch.Tensor,
    ab: torch.Tensor,
    exact: dict[int, torch.Tensor] | None = None,
    staging: PinnedStaging | None = None,
    deep: bool = False,
    held: HeldFrame | None = None,
    times: StageTimes | None = None,
    planes: tuple[YCbCrFormat, list[np.ndarray], np.ndarray] | None = None,
) -> Iterator[Any]:
    """The full-resolution half: chroma upsampled along the source's edges, joined to its exact lightness.

    Takes ``lightness`` ``(B, 1, H, W)``, ``small`` and ``predict_chroma``'s ``ab``; yields RGB ``(H, W, 3)`` uint8
    (uint16 with ``deep``) per frame (one frame at a time, which bounds memory at any resolution). ``exact`` maps
    positions in the batch to full-resolution ab ``(1, 2, H, W)`` used as they are (a colorist's keyframe). On a
    GPU, ``staging`` brings each frame back through pinned memory; a yielded array is then valid until the next
    one is asked for. ``held`` (CPU) gives a frame that repeats the last one composed that frame's picture again.
    ``times``: where the seconds of upsampling and composition are added.

    ``planes`` (the plane composition, CPU, no ``exact``): the film's coding, the luma planes ``(H, W)`` uint8 and
    their mean codes ``(B, h, w)`` of ``luma_lightness``, whose L ``lightness`` then is, at the chroma planes'
    resolution ``(h, w)``; each frame is then its ``(Y, Cb, Cr)`` uint8 planes (``ops.ycbcr.compose_planes``).
    """
    times = times or StageTimes()

    def convert(i: int, lab: torch.Tensor) -> Any:
        if planes is not None:
            return compose_planes(lab, planes[1][i], planes[2][i], planes[0])
        return lab_to_rgb_array(lab, staging, deep)

    for i in range(lightness.shape[0]):
        full = lightness[i : i + 1]
        if exact and i in exact:
            with times.timing("compose"):
                picture = convert(i, torch.cat((full, exact[i].to(full)), dim=1)[0])
            yield picture
            continue
        key = full if planes is None else torch.cat((full.flatten(), torch.from_numpy(planes[2][i]).flatten()))  # held: the same luma too
        picture = held.repeat_of(key, ab[i : i + 1]) if held is not None else None
        if picture is None:
            with times.timing("upsample"):
                ab_full = guided_upsample(ab[i : i + 1], small[i : i + 1], full)
            with times.timing("compose"):
                picture = convert(i, torch.cat((full, ab_full), dim=1)[0])
            if held is not None:
                held.remember(key, ab[i : i + 1], picture)
        yield picture


def colorize_lightness(
    colorizer: Colorizer, lightness: torch.Tensor, reference: Any | None, smoother: Any | None = None
) -> Iterator[np.ndarray]:
    """``predict_chroma`` then ``compose_frames``: RGB ``(H, W, 3)`` uint8 per frame of ``lightness``."""
    small = work_lightness(colorizer, lightness)
    return compose_frames(lightness, small, predict_chroma(colorizer, small, reference, smoother)[0])
