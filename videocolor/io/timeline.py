"""A film's timeline: the pts of every frame, whether the file's timestamps can be trusted, what is missing.

Read once per film by the analysis pass (a demux-only pass over the video packets plus the decode of the first
frames), so a broken clock is noticed before rendering starts:

- packets without timestamps (a raw ``.h264`` stream, H.264 in MPEG-PS),
- decode times that go back (two captures joined end to end, timestamps restarting),
- repeated timestamps, or the first frames leaving the decoder out of timestamp order (B-frames in AVI,
  whose index stores decode order only).

Then the frames are numbered in the order the decoder hands them out, at the stream's frame rate
(``Clock``). Damage the demuxer hides (a lost cluster drops its packets without a decode error) shows as
gaps in otherwise regular timestamps; ``missing_ranges`` finds them so they can be reported as timecodes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError
from ..timecode import format_seconds

log = logging.getLogger("videocolor")

_TAG_DURATION = re.compile(r"^(\d+):(\d+):(\d+(?:\.\d+)?)$")
_DECODE_CHECK = 48  # frames decoded to check that the decoder's output order follows the timestamps


@dataclass(frozen=True)
class Clock:
    """Rebuilt timestamps: frame ``i`` (in decoder output order) is at ``start + i * step`` ticks of ``time_base``."""

    time_base: Fraction
    start: int
    step: int

    def pts(self, index: int) -> int:
        return self.start + index * self.step


def rebuilt_clock(stream: av.video.stream.VideoStream, rate: Fraction) -> Clock:
    """The clock of frames at ``rate`` from the stream's start, in the stream's time base when it counts frames exactly."""
    time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
    ticks = 1 / (rate * time_base)
    if ticks.denominator != 1:
        return Clock(1 / rate, 0, 1)
    return Clock(time_base, stream.start_time or 0, int(ticks))


def frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's declared frame rate (average, else FFmpeg's guess, else 25), exact."""
    return Fraction(stream.average_rate or stream.guessed_rate or 25)


@dataclass(frozen=True)
class Timeline:
    """Every frame's pts in presentation order and how they were obtained.

    Attributes:
        pts: one per video packet, sorted (for a rebuilt clock: the clock's first ``len`` values).
        time_base: the time base of ``pts``.
        rate: the stream's frame rate.
        rebuilt: the file's timestamps are broken; ``pts`` come from the frame rate (``why`` says what was wrong).
        end: where the container says the stream ends, in seconds on the pts' scale (``None``: it does not say).
    """

    pts: list[int]
    time_base: Fraction
    rate: Fraction
    rebuilt: bool = False
    why: str = ""
    end: Fraction | None = None


def read_timeline(path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Timeline:
    """The timeline of ``stream`` (the container is read to its end, then reopened by the caller if needed)."""
    rate = frame_rate(stream)
    stamps = []
    try:
        for packet in container.demux(stream):
            if packet.size:
                stamps.append((packet.pts, packet.dts))
    except av.FFmpegError as exc:
        raise InputError(f"{path}: cannot read the film ({exc.strerror or exc})") from None
    if not stamps:
        raise InputError(f"{path}: the video stream holds no frames")
    why = _broken(stamps) or _decoded_out_of_order(path, stream)
    if why:
        clock = rebuilt_clock(stream, rate)
        return Timeline([clock.pts(i) for i in range(len(stamps))], clock.time_base, rate, True, why)
    time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
    return Timeline(sorted(pts for pts, _ in stamps), time_base, rate, end=_announced_end(stream, time_base))


def _announced_end(stream: av.video.stream.VideoStream, time_base: Fraction) -> Fraction | None:
    """The stream's end from its header: its duration, or Matroska's ``DURATION`` tag, after its start."""
    start = (stream.start_time or 0) * time_base
    if stream.duration:
        return start + stream.duration * time_base
    match = _TAG_DURATION.match(stream.metadata.get("DURATION", ""))
    if match:
        hours, minutes, seconds = match.groups()
        return start + int(hours) * 3600 + int(minutes) * 60 + Fraction(seconds)
    return None


def _broken(stamps: list[tuple[int | None, int | None]]) -> str:
    """What is wrong with packet ``(pts, dts)`` pairs in decode order, or ``""``."""
    if any(pts is None for pts, _ in stamps):
        return "packets without timestamps"
    decode_times = [dts for _, dts in stamps if dts is not None]
    if any(b <= a for a, b in zip(decode_times, decode_times[1:])):
        return "timestamps that go back or restart"
    if len({pts for pts, _ in stamps}) != len(stamps):
        return "repeated timestamps"
    return ""


def _decoded_out_of_order(path: Path, stream: av.video.stream.VideoStream) -> str:
    """Decode the first frames: their pts must increase in the order the decoder hands them out."""
    with av.open(str(path), metadata_errors="ignore") as container:
        decoded = []
        for packet in container.demux(container.streams[stream.index]):
            try:
                decoded += [frame.pts for frame in packet.decode()]
            except av.FFmpegError:  # damage is counted by the render; only the order matters here
                continue
            if len(decoded) >= _DECODE_CHECK:
                break
    if any(p is None for p in decoded) or any(b <= a for a, b in zip(decoded, decoded[1:])):
        return "frames decoded out of timestamp order"
    return ""


def source_timecode(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> str | None:
    """The film's source timecode start (``01:00:00:00``; ``;`` before the frames for drop frame), from the video
    stream's ``timecode`` tag (MOV/MP4's timecode track), else the container's (Matroska's ``TIMECODE``), else ``None``."""
    for tags in (stream.metadata, container.metadata, *(s.metadata for s in container.streams.data)):
        for key, value in tags.items():
            if key.lower() == "timecode" and value.strip():
                return value.strip()
    return None


def missing_ranges(timeline: Timeline) -> list[tuple[Fraction, Fraction, int]]:
    """Gaps in a regular timeline: ``(first missing second, end second, about how many frames)`` each.

    Only for films whose timestamps advance by one frame duration at least 90% of the time (a variable
    frame rate is not damage); a step over 1.5 frame durations is a gap, and so is an end more than 1.5
    frame durations before the one the container announces (a file cut short, or a demuxer that stopped).
    """
    steps = [b - a for a, b in zip(timeline.pts, timeline.pts[1:])]
    if len(steps) < 2:
        return []
    usual = max(set(steps), key=steps.count)
    if usual <= 0 or steps.count(usual) < 0.9 * len(steps):
        return []
    gaps = []
    for pts, step in zip(timeline.pts, steps):
        if step * 2 > usual * 3:
            gaps.append(((pts + usual) * timeline.time_base, (pts + step) * timeline.time_base, round(step / usual) - 1))
    last_end, frame = (timeline.pts[-1] + usual) * timeline.time_base, usual * timeline.time_base
    if timeline.end is not None and (timeline.end - last_end) * 2 > frame * 3:
        gaps.append((last_end, timeline.end, round((timeline.end - last_end) / frame)))
    return gaps


def describe_gaps(path: Path, gaps: list[tuple[Fraction, Fraction, int]]) -> str:
    """One line naming the missing ranges as timecodes."""
    ranges = ", ".join(f"{format_seconds(a)}-{format_seconds(b)} ({n} frame{'s' * (n != 1)})" for a, b, n in gaps)
    return f"{path}: frames missing from the file (damaged or cut): {ranges}; the output has the same gaps"
