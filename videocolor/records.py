"""The things that travel between stages: frame batches, their chroma, shots, reference choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from .timecode import Timecode


@dataclass
class FrameBatch:
    """Consecutive decoded frames of one shot, in presentation order.

    Attributes:
        lightness: Lab lightness ``(B, 1, H, W)`` float32 in [0, 100], full resolution (with the plane composition:
            the chroma planes' resolution, ``luma``).
        pts: presentation timestamp of each frame, in ``time_base`` ticks (exact, never renumbered).
        time_base: the source video stream's time base.
        shot: index of the shot these frames belong to.
        starts_shot: the first frame of this batch is the first frame of its shot (temporal state resets).
        small: the lightness at the model's work resolution ``(B, 1, h, w)``, once computed.
        motion: the temporal stage's flow for these frames (``FlowEstimator.estimate``), once computed.
        ready: on a GPU, the CUDA event after which the tensors above are computed (``render.devices.mark_ready``).
        luma: with the plane composition, the source's luma planes ``(H, W)`` uint8 and their mean codes at the
            chroma planes' resolution ``(B, h, w)`` float32 (``lightness`` is then at that resolution too).
    """

    lightness: torch.Tensor
    pts: list[int]
    time_base: Fraction
    shot: int = 0
    starts_shot: bool = True
    small: torch.Tensor | None = None
    motion: Any = None
    ready: Any = None
    luma: tuple[list[Any], Any] | None = None

    def __len__(self) -> int:
        return len(self.pts)


@dataclass(frozen=True)
class Shot:
    """A run of frames between two cuts; ``end_frame`` is inclusive."""

    index: int
    start_frame: int
    end_frame: int
    start: Timecode
    end: Timecode

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame + 1



@dataclass
class Chroma:
    """A batch's predicted chroma at the work resolution, as the model's stage hands it to the compose stage.

    Attributes:
        ab: ``(B, 2, h, w)`` Lab a/b in about [-110, 110].
        confidence: ``(B, 1, h, w)`` in [0, 1].
        exact: full-resolution ab ``(1, 2, H, W)`` used as it is, by position in the batch (a colorist's keyframe).
    """

    ab: torch.Tensor
    confidence: torch.Tensor
    exact: dict[int, torch.Tensor] = field(default_factory=dict)

@dataclass
class ReferenceChoice:
    """The reference picked for one shot.

    Attributes:
        shot: shot index.
        path: the reference image, or ``None`` to leave the shot gray (``skip``).
        score: retrieval distance of ``path`` (lower is better), ``None`` when chosen by a person.
        candidates: the ranked candidates ``(path, score)``, best first.
        source: ``"retrieval"``, ``"override"``, ``"user"`` (a single ``--ref`` for the whole film) or
            ``"none"`` (analysis without references: cuts only) or ``"keyframe"`` (a colorist's colored keyframe).
        keyframe: for ``"keyframe"``, the pts of the film frame that ``path`` is a colored copy of.
        fused: further references colorized beside ``path`` and fused with it per pixel (``ops.fusion``):
            the next-ranked candidates (``refs_per_shot`` above 1), or those an override file names.
        keyframes: for ``"keyframe"``, every colored keyframe of the shot as ``(picture, pts of its frame)``, sorted by
            pts; ``path`` and ``keyframe`` are its first. Given either way (``keyframes``, or ``path`` and
            ``keyframe`` for a single one), the other is filled in.
    """

    shot: int
    path: Path | None
    score: float | None = None
    candidates: list[tuple[Path, float]] = field(default_factory=list)
    source: str = "retrieval"
    keyframe: int | None = None
    fused: tuple[Path, ...] = ()
    keyframes: tuple[tuple[Path, int], ...] = ()

    def __post_init__(self) -> None:
        if self.keyframes:
            self.keyframes = tuple(sorted(self.keyframes, key=lambda key: key[1]))
            self.path, self.keyframe = self.keyframes[0]
        elif self.keyframe is not None and self.path is not None:
            self.keyframes = ((self.path, self.keyframe),)
