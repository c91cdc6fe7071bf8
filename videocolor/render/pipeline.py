"""The render pass: decode -> colorize -> smooth -> upsample -> encode, with the stages overlapped.

A decoder thread fills a small bounded queue with frame batches (split at cuts), the calling thread runs
the models, and an encoder thread drains a second bounded queue, so the GPU is not idle while frames are
decoded or encoded and memory is bounded by the queue sizes, not the film's length. An exception in any
stage stops the others and is re-raised in the caller; the partial output file is removed.
"""

from __future__ import annotations

import bisect
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ..analysis.keyframes import composite
from ..errors import InputError
from ..io.decode import VideoInfo, VideoSource
from ..io.images import REFERENCE_MAX_SIDE, load_reference, read_rgba
from ..io.timeline import Clock
from ..models.base import Colorizer, FusedReference
from ..ops.color import frames_to_lightness
from ..ops.flow import FlowEstimator
from ..ops.ycbcr import YCbCrFormat
from ..records import Chroma, FrameBatch, ReferenceChoice, Shot
from .colorize import compose_frames, luma_lightness, predict_chroma, work_lightness
from .devices import PinnedStaging, apply_process_policy, auto_batch_size, mark_ready, stream_for, wait_ready
from .memory import freeze_long_lived_objects
from .propagate import KeyframeReference, Propagation, propagation_flow
from .repeats import HeldFrame, RepeatSkipper
from .stages import DONE, Stage, get, put, raise_from
from .timings import StageTimes

log = logging.getLogger("videocolor")

_QUEUE_BATCHES = 2


class FrameSink(Protocol):
    """Where ``Renderer.render_range`` writes its frames (e.g. ``io.segments.SegmentSink``).

    A render writes every frame with ``write``, or, with the plane composition (``render_range``'s ``planes``), every
    frame with ``write_planes``; only sinks of an 8-bit Y'CbCr video output have ``write_planes``.
    """

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """Encode one ``(H, W, 3)`` RGB frame (uint8; uint16 when rendered ``deep``) at ``pts`` (source time base), in order."""

    def write_planes(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], pts: int) -> None:
        """Encode one frame given as its uint8 Y ``(H, W)``, Cb and Cr planes (chroma at its own size) in the output's
        pixel format, at ``pts``, in order."""

    def finish(self) -> Any:
        """Complete the output (e.g. rename it into place)."""

    def abort(self) -> None:
        """Drop the partial output."""


@dataclass(frozen=True)
class RangeResult:
    """What ``Renderer.render_range`` wrote: the pts of its first frame, the frames written, the corrupt packets
    skipped while decoding, the frames left gray (shots without a reference), and the seconds of each stage
    (``timings.STAGES``)."""

    first_pts: int
    frames: int
    bad_packets: int
    gray_frames: int
    stage_seconds: dict[str, float]


def batches(
    source: VideoSource, shots: Sequence[Shot], batch_size: int, frames: Iterator[tuple[int, np.ndarray]] | None = None
) -> Iterator[tuple[FrameBatch, list[np.ndarray]]]:
    """Group decoded frames into batches of one shot each; the shot of a frame is found by its pts.

    ``frames`` defaults to every frame of ``source``. Yields the batch (lightness filled in later) with the
    raw RGB frames it was made from.
    """
    starts = [shot.start.pts for shot in shots]
    current: list[tuple[int, np.ndarray]] = []
    shot_of_current = -1
    started: set[int] = set()

    def flush() -> tuple[FrameBatch, list[np.ndarray]]:
        batch = FrameBatch(
            lightness=torch.empty(0),
            pts=[p for p, _ in current],
            time_base=source.info.time_base,
            shot=shot_of_current,
            starts_shot=shot_of_current not in started,
        )
        started.add(shot_of_current)
        return batch, [rgb for _, rgb in current]

    for pts, rgb in source.frames() if frames is None else frames:
        shot = max(0, bisect.bisect_right(starts, pts) - 1) if starts else 0
        if current and (shot != shot_of_current or len(current) == batch_size):
            yield flush()
            current = []
        shot_of_current = shot
        current.append((pts, rgb))
    if current:
        yield flush()


class Renderer:
    """Colorizes a film given its shots and one reference choice per shot.

    Args:
        colorizer: any ``models.base.Colorizer``.
        smoother: a ``temporal.TemporalSmoother`` or ``None`` (no temporal stage).
        batch_size: frames per forward pass (batches never straddle a cut); 0 chooses it from the device and
            the frame size (``devices.auto_batch_size``).

    Making one applies the process-wide policy (``devices.apply_process_policy``) and freezes the objects then
    alive out of the cyclic garbage collector (``memory.freeze_long_lived_objects``).
    """

    def __init__(
        self,
        colorizer: Colorizer,
        smoother: Any | None = None,
        *,
        batch_size: int = 0,
    ) -> None:
        apply_process_policy(colorizer.device)
        freeze_long_lived_objects()
        self.colorizer = colorizer
        self.smoother = smoother
        self.skipper = RepeatSkipper()
        self.batch_size = batch_size
        self._references: dict[tuple[Path, int | None], Any] = {}
        self._flow: FlowEstimator | None = None  # optical flow of keyframe propagation, on the model's thread
        self._propagation: Propagation | None = None

    def reference_for(self, choice: ReferenceChoice) -> Any | None:
        """The prepared reference of a shot (computed once per distinct picture), ``None`` for a gray shot.

        A colorist's keyframes (``choice.keyframes``) give a list of ``propagate.KeyframeReference``, sorted by pts;
        a choice with ``fused`` references gives a ``fusion.FusedReference``, unless the model is recurrent (it
        takes the first).
        """
        if choice.path is None:
            return None
        if choice.keyframes:
            return [self._prepared(path, pts) for path, pts in choice.keyframes]
        found = tuple(self._prepared(path) for path in (choice.path, *(choice.fused if not self.colorizer.recurrent else ())))
        return FusedReference(found) if len(found) > 1 else found[0]

    def _prepared(self, path: Path, pts: int | None = None) -> Any:
        """A reference picture prepared once: a colored keyframe of the frame at ``pts`` (transparent areas keep no
        color) as a ``KeyframeReference``, any other picture (``pts=None``) as the colorizer prepares it."""
        if (path, pts) not in self._references:
            picture = load_reference(path) if pts is None else composite(read_rgba(path, REFERENCE_MAX_SIDE))
            prepared = self.colorizer.prepare_reference(picture)
            self._references[path, pts] = prepared if pts is None else KeyframeReference(prepared, path, pts)
        return self._references[path, pts]

    def colorize_batch(
        self, batch: FrameBatch, reference: Any | None, film: str | Path | None = None, times: StageTimes | None = None
    ) -> Chroma:
        """``predict_chroma`` for one batch (``small`` and ``motion`` filled in), resetting state at a shot's start.

        A list of ``KeyframeReference`` (a shot's colored keyframes, ``reference_for``) is propagated through its shot
        (``propagate.Propagation``, which reads frames again from ``film``) and adds each keyframe's exact chroma to
        the result.
        ``times``: where the seconds of the model and the temporal stage are added.
        """
        times = times or StageTimes()
        if batch.starts_shot:
            self.colorizer.reset()
            self.skipper.reset()
            if self.smoother is not None:
                self.smoother.reset()
            if isinstance(reference, list):
                self._flow = self._flow or propagation_flow(self.colorizer.device)
                self._propagation = Propagation(self.colorizer, reference, film, batch, self._flow, len(batch))
        if isinstance(reference, list):
            with times.timing("model"):
                return self._propagation.colorize(batch)
        return Chroma(*predict_chroma(self.colorizer, batch.small, reference, self.smoother, batch.motion, self.skipper, times))

    def render_range(
        self,
        source_path: str | Path,
        shots: Sequence[Shot],
        choices: Sequence[ReferenceChoice],
        start: int,
        end: int | None,
        open_sink: Callable[[VideoInfo], FrameSink],
        progress: Callable[[int], None] | None = None,
        clock: Clock | None = None,
        deep: bool = False,
        planes: YCbCrFormat | None = None,
    ) -> RangeResult:
        """Colorize the frames with ``start <= pts < end`` (``end=None``: to the end) into ``open_sink(info)``.

        The range must begin at a shot's first frame. The sink (e.g. ``io.segments.SegmentSink``) is finished
        here, or aborted on error. ``progress(n)`` is called as frames are written (e.g. ``tqdm.update``).
        ``clock``: the analysis's rebuilt clock for a film whose timestamps are broken. ``deep``: uint16 frames out.
        ``planes``: the plane composition (``render.composition``, the film's coding): lightness from the source's
        luma planes, frames composed as planes (chroma at its own size, ``ops.ycbcr.compose_planes``) for
        ``sink.write_planes``.
        """
        source = VideoSource(source_path, clock)
        times = StageTimes()
        sink: FrameSink | None = None
        first_pts = frames_written = 0

        def write(pts: int, picture: np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
            nonlocal sink, first_pts, frames_written
            if sink is None:
                sink = open_sink(source.info)
                first_pts = pts
            with times.timing("encode"):
                if planes is not None:
                    sink.write_planes(picture, pts)
                else:
                    sink.write(picture, pts)
            frames_written += 1

        try:
            size = self.batch_size or auto_batch_size(self.colorizer.device, source.info.height, source.info.width)
            decoded = source.luma_planes(start, end) if planes is not None else source.frames(start, end)
            frames = batches(source, shots, size, decoded)
            gray = _Stages(self, source.path, write, progress, deep, times, planes).run(frames, choices)
            if sink is None:
                raise InputError(f"{source_path}: no decodable frame between pts {start} and {end}")
            with times.timing("encode"):
                sink.finish()
        except BaseException:
            if sink is not None:
                sink.abort()
            raise
        finally:
            source.close()
        return RangeResult(first_pts, frames_written, source.bad_packets, gray, times.seconds())


class _Stages:
    """One ``Renderer.render_range``'s three stages, each in its own thread, joined by small bounded queues.

    ``decode`` (a thread): full-resolution lightness, its work-resolution copy and the temporal stage's optical
    flow -> ``decoded`` -> ``colorize`` (the caller's thread): the model at the work resolution -> ``colored`` ->
    ``compose`` (a thread): full-resolution chroma joined to the lightness, then ``write(pts, rgb)``. With ``planes``
    the frames are luma planes, the lightness and chroma are at the chroma planes' resolution, and ``write`` takes
    ``(Y, Cb, Cr)``. Spreading
    the full-resolution work over the other two threads keeps the model's thread, and the GPU when there is
    one, busy. ``progress`` is called with the number of frames of each batch written; ``stop`` ends them all.
    Each stage adds its seconds, and those it spends blocked on a queue, to ``times``.
    """

    def __init__(
        self,
        renderer: Renderer,
        film: Path,
        write: Callable[[int, Any], None],
        progress: Callable[[int], None] | None,
        deep: bool,
        times: StageTimes,
        planes: YCbCrFormat | None = None,
    ) -> None:
        self.renderer, self.film, self.write, self.progress, self.deep, self.times = renderer, film, write, progress, deep, times
        self.planes = planes
        self.device = renderer.colorizer.device
        self.stop = threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        self.colored: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)

    def run(self, items: Iterator[tuple[FrameBatch, list[np.ndarray]]], choices: Sequence[ReferenceChoice]) -> int:
        """Decode ``items`` (``batches``), colorize them with ``choices`` and compose them; returns the frames left gray."""
        decoder = Stage(lambda: self.decode(items), "videocolor-decode", self.stop)
        composer = Stage(self.compose, "videocolor-encode", self.stop)
        decoder.start()
        composer.start()
        try:
            gray = self.colorize(choices, composer)
            raise_from(decoder)
            put(self.colored, DONE, self.stop)
            raise_from(composer)
        except BaseException:
            self.stop.set()
            decoder.wait()
            composer.wait()
            raise
        return gray

    def decode(self, items: Iterator[tuple[FrameBatch, list[np.ndarray]]]) -> None:
        colorizer, smoother = self.renderer.colorizer, self.renderer.smoother
        previous = None  # the last work-resolution frame of the current shot
        staging = PinnedStaging(self.device) if self.device.type == "cuda" else None
        try:
            with stream_for(self.device):
                while True:
                    with self.times.timing("decode"):
                        batch, frames = next(items, (None, None))
                    if batch is None:
                        break
                    with self.times.timing("lightness"):
                        if self.planes is not None:
                            batch.lightness, means, batch.small = luma_lightness(colorizer, frames, self.planes)
                            batch.luma = (frames, means)
                        else:
                            batch.lightness = frames_to_lightness(frames, self.device, staging)
                            batch.small = work_lightness(colorizer, batch.lightness)
                    if smoother is not None:  # optical flow needs only lightness: done here, off the model's thread
                        with self.times.timing("temporal"):
                            batch.motion = smoother.flow.estimate(batch.small, None if batch.starts_shot else previous)
                    previous = batch.small[-1:]
                    batch.ready = mark_ready(self.device)
                    with self.times.timing("wait decode"):
                        if not put(self.decoded, batch, self.stop):
                            return
        finally:
            put(self.decoded, DONE, self.stop)

    def colorize(self, choices: Sequence[ReferenceChoice], composer: Stage) -> int:
        choice_of = {choice.shot: choice for choice in choices}
        gray = 0
        while True:
            with self.times.timing("wait model"):
                batch = get(self.decoded, self.stop)
            if batch is DONE:
                break
            reference = self.renderer.reference_for(choice_of.get(batch.shot, ReferenceChoice(batch.shot, None)))
            gray += len(batch) if reference is None else 0
            wait_ready(batch.ready, (batch.lightness, batch.small, *(batch.motion or ())))
            chroma = self.renderer.colorize_batch(batch, reference, self.film, self.times)
            with self.times.timing("wait model"):
                put(self.colored, (batch, chroma, mark_ready(self.device)), self.stop)
            if composer.error is not None:
                raise composer.error
        return gray

    def compose(self) -> None:
        staging = PinnedStaging(self.device) if self.device.type == "cuda" else None
        held = HeldFrame() if staging is None else None  # a staged GPU frame is only valid until the next
        with stream_for(self.device):
            while True:
                with self.times.timing("wait encode"):
                    item = get(self.colored, self.stop)
                if item is DONE:
                    break
                batch, chroma, ready = item
                wait_ready(ready, (batch.lightness, batch.small, chroma.ab, chroma.confidence))
                planes = None if self.planes is None else (self.planes, *batch.luma)
                composed = compose_frames(
                    batch.lightness, batch.small, chroma.ab, chroma.exact, staging=staging, deep=self.deep, held=held, times=self.times, planes=planes
                )
                for pts, picture in zip(batch.pts, composed):
                    self.write(pts, picture)
                if self.progress is not None:
                    self.progress(len(batch))
