"""Streaming film decode with PyAV: frames in presentation order with their exact pts.

Memory does not grow with the film's length: frames are yielded one by one. Corrupt packets are counted
and skipped (the frames that can be decoded are kept); ``VideoSource.bad_packets`` tells how many were lost.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..checks import require_file
from ..errors import InputError

log = logging.getLogger("videocolor")


@dataclass(frozen=True)
class VideoInfo:
    """What the rest of the pipeline needs to know about the source video stream."""

    path: Path
    width: int
    height: int
    time_base: Fraction
    average_rate: Fraction | None
    frames: int  # from the container header; 0 when unknown
    pix_fmt: str
    high_bit_depth: bool
    colorspace: int
    color_range: int
    color_primaries: int
    color_trc: int
    rotation: int  # counter-clockwise degrees of the display matrix



def open_video(path: str | Path) -> av.container.InputContainer:
    """Open a film for reading; raises ``InputError`` naming the file when it is not a readable video."""
    path = require_file(path, "a video file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InputError(f"{path}: not a video file FFmpeg can read ({exc.strerror or exc})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container


class VideoSource:
    """Reads the first video stream of a film, frame by frame, as RGB arrays with exact pts.

    >>> with VideoSource("film.mp4") as source:  # doctest: +SKIP
    ...     for pts, rgb in source.frames():   # rgb: (H, W, 3) uint8 or uint16
    ...         ...
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.container = open_video(self.path)
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.bad_packets = 0
        self._counted: tuple[int | None, int | None] = (None, None)  # pts range whose lost packets are counted
        self._rotation_read = False
        try:
            self.info = self._probe()
        except BaseException:
            self.container.close()
            raise

    def _probe(self) -> VideoInfo:
        ctx = self.stream.codec_context
        if not ctx.width or not ctx.height:
            raise InputError(f"{self.path}: video stream has no picture size (corrupt header?)")
        fmt = ctx.format
        high_bit = fmt is not None and max((c.bits for c in fmt.components), default=8) > 8
        return VideoInfo(
            path=self.path,
            width=ctx.width,
            height=ctx.height,
            time_base=Fraction(self.stream.time_base) if self.stream.time_base else Fraction(1, 90000),
            average_rate=Fraction(self.stream.average_rate) if self.stream.average_rate else None,
            frames=self.stream.frames or 0,
            pix_fmt=fmt.name if fmt is not None else "unknown",
            high_bit_depth=high_bit,
            colorspace=int(ctx.colorspace),
            color_range=int(ctx.color_range),
            color_primaries=int(ctx.color_primaries),
            color_trc=int(ctx.color_trc),
            rotation=0,
        )

    def frames(self, start: int | None = None, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(pts, rgb)`` for every decodable frame; ``rgb`` is ``(H, W, 3)`` uint8 (uint16 for >8-bit).

        ``start``/``end`` (pts, ``end`` exclusive) restrict the frames to ``start <= pts < end``; decoding then
        begins at the keyframe before ``start`` (a seek), so a range costs at most one GOP of extra decoding.
        """
        rgb_format = "rgb48le" if self.info.high_bit_depth else "rgb24"
        last_pts = None
        self._counted = (start, end)
        for frame in self.decoded_frames(start):
            pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + 1)
            last_pts = pts
            if start is not None and pts < start:
                continue
            if end is not None and pts >= end:
                return
            kwargs = {"format": rgb_format}
            if frame.colorspace == 1:  # BT.709 matrix; unspecified/601 use swscale's default (601)
                kwargs["src_colorspace"] = "itu709"
            if frame.color_range:
                kwargs["src_color_range"] = frame.color_range
            yield pts, frame.to_ndarray(**kwargs)

    def decoded_frames(self, start: int | None = None) -> Iterator[av.VideoFrame]:
        """Every decodable ``av.VideoFrame`` (from the keyframe before pts ``start`` when given).

        Packets that fail to decode are counted in ``bad_packets``. A seek that lands after ``start`` (an
        imprecise index) falls back to decoding from the beginning, so no frame of the range is ever missed.
        """
        frames = self._decode()
        if start is not None and self._seek(start):
            first = next(frames, None)
            if first is None or (first.pts is not None and first.pts > start):
                self.container.seek(0, stream=self.stream, backward=True, any_frame=False)
                self.bad_packets = 0
                frames = self._decode()
            else:
                yield first
        yield from frames

    def _seek(self, pts: int) -> bool:
        try:
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            log.debug("%s: seek to pts %d failed (%s); decoding from the start", self.path, pts, exc)
            return False
        return True

    def _decode(self) -> Iterator[av.VideoFrame]:
        for packet in self.container.demux(self.stream):
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                self.bad_packets += self._in_counted_range(packet.pts)
                log.debug("%s: undecodable packet at pts %s: %s", self.path, packet.pts, exc)
                continue
            for frame in frames:
                if not self._rotation_read:
                    self.info = _with_rotation(self.info, frame.rotation)
                    self._rotation_read = True
                yield frame

    def _in_counted_range(self, pts: int | None) -> bool:
        """Whether a lost packet belongs to the range being read (a seek's lead-in belongs to the range before)."""
        start, end = self._counted
        return pts is None or ((start is None or pts >= start) and (end is None or pts < end))

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with_rotation(info: VideoInfo, rotation: float | int | None) -> VideoInfo:
    return dataclasses.replace(info, rotation=int(round(rotation or 0)) % 360)
