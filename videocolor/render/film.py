"""The three kinds of work of a film, as plain functions of plain data (so any engine of ``jobs`` can run them).

``analyse`` finds shots and references and plans the segments; ``render`` colorizes a run of segments into
segment files; ``mux`` joins the segments and the source's other streams into the final film. For an image
sequence output (``job["output"]`` a pattern such as ``out/frame_%06d.png``) a segment's frames go straight into
the work folder's ``frames/`` and ``mux`` renames that folder into place.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..analysis.film import analyse as analyse_film
from ..analysis.film import shot_table
from ..config import Settings
from ..errors import InputError
from ..io.decode import VideoSource, has_alpha
from ..io.encode import check_encodable, choose_pix_fmt
from ..io.encoders import for_output
from ..io.segments import SEGMENT_SUFFIX, SegmentSink, mux_segments
from ..io.sequence import FrameSequence, Source, is_pattern
from ..io.sequence_sink import SequenceSink, output_pix_fmt, pix_fmt_bits, publish_frames
from ..io.timeline import Clock
from ..models.build import build_colorizer, resolve_device, resolve_model_name
from ..records import ReferenceChoice, Shot
from . import composition
from .composition import plane_composition
from .devices import refs_per_shot, use_device
from .pipeline import Renderer
from .temporal import make_smoother

log = logging.getLogger("videocolor")

MIN_SEGMENT_SECONDS = 2.0
FIRST_NUMBER = 1  # the number of a film's first frame in an image sequence made from a video (FFmpeg's own default)

_RENDERERS: dict[str, Renderer] = {}  # a worker process keeps its last renderer (model loaded once)


@dataclass(frozen=True)
class SegmentResult:
    """A rendered segment: its index, the pts of its first frame, its frames, corrupt packets and gray frames
    met while rendering it, the seconds it took, and the seconds of each stage (``timings.STAGES``)."""

    index: int
    first_pts: int
    frames: int
    bad_packets: int
    gray_frames: int
    seconds: float
    stage_seconds: dict[str, float]


def plan_segments(shots: list[Shot], min_seconds: float = MIN_SEGMENT_SECONDS) -> list[dict[str, Any]]:
    """Runs of whole shots, each at least ``min_seconds`` long (the last may be shorter); ``end_pts`` exclusive."""
    segments: list[dict[str, Any]] = []
    run: list[Shot] = []
    for shot in shots:
        run.append(shot)
        if run[-1].end.seconds - run[0].start.seconds >= min_seconds:
            segments.append(_segment(len(segments), run))
            run = []
    if run:
        segments.append(_segment(len(segments), run))
    for segment, following in zip(segments, segments[1:]):
        segment["end_pts"] = following["start_pts"]
    segments[-1]["end_pts"] = None
    return segments


def _segment(index: int, run: list[Shot]) -> dict[str, Any]:
    return {
        "index": index,
        "first_shot": run[0].index,
        "last_shot": run[-1].index,
        "start_pts": run[0].start.pts,
        "end_pts": None,
        "frames": sum(s.num_frames for s in run),
    }


def segment_path(job: dict[str, Any], index: int) -> Path:
    return Path(job["work_dir"]) / f"seg-{index:05d}{SEGMENT_SUFFIX}"


def frames_folder(job: dict[str, Any]) -> Path:
    """Where the frames of an image sequence output are written until the last segment is done."""
    return Path(job["work_dir"]) / "frames"


def source_of(job: dict[str, Any]) -> Source:
    """The film ``job`` reads: its file, or its ``FrameSequence``."""
    return FrameSequence.from_dict(job["sequence"]) if job.get("sequence") else Path(job["input"])


def analyse(job: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """Shots and reference choices of ``job``'s film (as JSON data), its planned segments, and the seconds taken.

    Also how the output is written: ``deep`` (frames composed at 16 bits: a source and an output format of more
    than 8 bits), ``planes`` (the plane composition's coding, ``None`` for the Lab composition: ``render.composition``
    decides, here and only here), and for an image sequence its ``pix_fmt`` and ``first_number`` (the input
    sequence's, or 1).
    """
    started = time.perf_counter()
    settings = Settings.from_dict(job["settings"])
    device = use_device(settings)
    source, output, encode = source_of(job), Path(job["output"]), settings.encoding(gpu=device.type == "cuda")
    with VideoSource(source) as film:
        first = next(film.decoded_frames(), None)  # the display rotation is read from the first frame
        info = film.info
    if is_pattern(output):
        pix_fmt = output_pix_fmt(output, info)
        if info.rotation:
            log.warning("%s: image files cannot hold the film's display rotation (%d degrees); frames are written as stored", output, info.rotation)
    else:
        check_encodable(output, info, encode)
        pix_fmt = encode.pix_fmt
        out_pix_fmt = choose_pix_fmt(for_output(encode, output.suffix), info.width, info.height, info.path)
    width, height = info.width, info.height
    work_size = getattr(settings.models.get(resolve_model_name(settings.model)), "work_size", None)
    if work_size and work_size > max(width, height):
        log.warning("%s: work size %d is larger than the %dx%d frame; chroma is predicted at the frame size", job["input"], work_size, width, height)
    if has_alpha(info.pix_fmt):
        log.warning("%s: its frames have an alpha channel (%s); the colorized frames have none: transparency is not kept", job["input"], info.pix_fmt)
    result = analyse_film(
        source,
        ref=job["ref"],
        ref_dir=job["ref_dir"],
        overrides=job["overrides"],
        keyframes=job.get("keyframes"),
        cuts=job.get("cuts"),
        refs_per_shot=refs_per_shot(settings.refs_per_shot),
        device=device,
        quiet=settings.quiet,
    )
    planes = plane_composition(info, first, None if is_pattern(output) else out_pix_fmt, device, settings.keep_luma)
    table = {
        "time_base": str(result.time_base),
        "shots": result.to_json(),
        "clock": [str(result.clock.time_base), result.clock.start, result.clock.step] if result.clock else None,
        "deep": info.high_bit_depth and pix_fmt_bits(pix_fmt) > 8,
        "pix_fmt": pix_fmt,
        "first_number": source.start if isinstance(source, FrameSequence) else FIRST_NUMBER,
        "planes": composition.to_json(planes),
    }
    return table, plan_segments(result.shots, job["segment_seconds"]), time.perf_counter() - started


def clock_of(table: dict[str, Any]) -> Clock | None:
    """The rebuilt clock stored by ``analyse`` (``None``: the film's own timestamps are used)."""
    if not table.get("clock"):
        return None
    time_base, start, step = table["clock"]
    return Clock(Fraction(time_base), start, step)


def shots_of(table: dict[str, Any]) -> tuple[list[Shot], list[ReferenceChoice]]:
    """The shots and choices stored by ``analyse``."""
    return shot_table(table["shots"], Fraction(table["time_base"]))


def _renderer(settings: Settings, keep: bool) -> Renderer:
    """A renderer for ``settings``; with ``keep`` it stays loaded for the next task of this worker process."""
    key = repr(settings.replace(quiet=True))
    if key not in _RENDERERS or not keep:
        device = resolve_device(settings.device)
        renderer = Renderer(
            build_colorizer(settings, device),
            make_smoother(settings.temporal, device, settings.carry),
            batch_size=settings.batch_size,
        )
        if not keep:
            return renderer
        _RENDERERS.clear()
        _RENDERERS[key] = renderer
    return _RENDERERS[key]


def render(
    job: dict[str, Any],
    table: dict[str, Any],
    segments: list[dict[str, Any]],
    on_done: Callable[[SegmentResult], None] | None = None,
    keep_model: bool = False,
) -> list[SegmentResult]:
    """Render ``segments`` (rows of the state) to their segment files; ``on_done`` is called as each one lands.

    ``keep_model`` keeps the model loaded in this process for the next call (worker processes).
    """
    settings = Settings.from_dict(job["settings"])
    renderer = _renderer(settings, keep_model)
    shots, choices = shots_of(table)
    results = []
    bar = tqdm(
        total=sum(s["frames"] for s in segments),
        unit="frame",
        desc=Path(job["input"]).name,
        disable=settings.quiet or keep_model or not sys.stderr.isatty(),  # worker processes show no bars
        dynamic_ncols=True,
    )
    try:
        for segment in segments:
            results.append(_render_segment(job, table, renderer, shots, choices, segment, bar.update))
            if on_done is not None:
                on_done(results[-1])
    finally:
        bar.close()
    return results


def _render_segment(
    job: dict[str, Any], table: dict[str, Any], renderer: Renderer, shots: list[Shot], choices: list[ReferenceChoice], segment: dict[str, Any],
    progress: Callable[[int], Any],
) -> SegmentResult:
    started = time.perf_counter()
    output = Path(job["output"])
    if is_pattern(output):  # numbered from the segment's first frame in the film
        first = table["first_number"] + shots[segment["first_shot"]].start_frame
        open_sink = lambda info: SequenceSink(frames_folder(job), output.name, first, info, table["pix_fmt"])  # noqa: E731
    else:
        encoding = Settings.from_dict(job["settings"]).encoding(gpu=renderer.colorizer.device.type == "cuda")
        encode = for_output(encoding, output.suffix)  # the final output's encoding
        open_sink = lambda info: SegmentSink(segment_path(job, segment["index"]), info, encode)  # noqa: E731
    done = renderer.render_range(
        source_of(job), shots, choices, segment["start_pts"], segment["end_pts"], open_sink, progress, clock_of(table), table.get("deep", False),
        composition.from_json(table.get("planes")),
    )
    seconds = time.perf_counter() - started
    return SegmentResult(segment["index"], done.first_pts, done.frames, done.bad_packets, done.gray_frames, seconds, done.stage_seconds)


def mux(job: dict[str, Any], table: dict[str, Any], segments: list[int]) -> int:
    """Join the segments (by index) and the source's other streams into the output; returns its frames.

    An image sequence output: its frames folder is renamed into place."""
    if is_pattern(job["output"]):
        return publish_frames(frames_folder(job), Path(job["output"]))
    with VideoSource(source_of(job), clock_of(table)) as source:
        first = next(source.decoded_frames(), None)
        info = source.info
    if first is None:
        raise InputError(f"{job['input']}: video stream has no decodable frames")
    return mux_segments(info, [segment_path(job, i) for i in segments], job["output"])
