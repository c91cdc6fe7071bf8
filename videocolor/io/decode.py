"""Streaming film decode with PyAV: frames in presentation order with their exact pts.

Memory does not grow with the film's length: frames are yielded one by one. Corrupt packets are counted
and skipped (the frames that can be decoded are kept); ``VideoSource.bad_packets`` tells how many were lost.
"""

from __future__ import annotations

import dataclasses
import logging
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import InputError
from .files import require_file
from .sequence import FrameSequence, Source
from .timeline import Clock

log = logging.getLogger("videocolor")


@dataclass(frozen=True)
class VideoInfo:
    """What the rest of the pipeline needs to know about the source video stream (``path``: the film's file, or
    its ``FrameSequence``)."""

    path: Source
    width: int
    height: int
    time_base: Fraction
    average_rate: Fraction | None
    frames: int  # from the container header (a sequence: its files); 0 when unknown
    pix_fmt: str
    high_bit_depth: bool
    colorspace: int
    color_range: int
    color_primaries: int
    color_trc: int
    rotation: int  # counter-clockwise degrees of the display matrix


def open_video(path: str | Path | FrameSequence) -> av.container.InputContainer:
    """Open a film (a file, or a ``FrameSequence``) for reading; ``InputError`` naming the file when it is not a readable video."""
    if isinstance(path, FrameSequence):
        return path.open()
    path = require_file(path, "a video file")
    if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block, and a film is read several times
        raise InputError(f"{path}: the input must be a regular, seekable file (not a pipe or device)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InputError(f"{path}: not a video file FFmpeg can read ({exc.strerror or exc})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container


def main_video_stream(container: av.container.InputContainer, path: Path, warn: bool = False) -> av.video.stream.VideoStream:
    """The film's video stream: attached pictures (cover art) never, then the longest, then FFmpeg's best pick.

    With ``warn``, every other video stream is named in a warning (only the main stream is colorized).
    """
    video = list(container.streams.video)
    films = [s for s in video if not s.disposition & av.stream.Disposition.attached_pic] or video
    best = container.streams.best("video")
    chosen = max(films, key=lambda s: (_seconds(s), s is best, s.codec_context.width * s.codec_context.height))
    if warn:
        for other in video:
            if other is not chosen:
                kind = "a cover picture" if other.disposition & av.stream.Disposition.attached_pic else "another video stream"
                log.warning("%s: video stream %d (%s) is left out; stream %d is colorized", path, other.index, kind, chosen.index)
    return chosen


def _seconds(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's length as the container announces it (0 when it does not)."""
    if stream.duration and stream.time_base:
        return stream.duration * Fraction(stream.time_base)
    if stream.frames and stream.average_rate:
        return stream.frames / Fraction(stream.average_rate)
    return Fraction(0)


class VideoSource:
    """Reads the main video stream of a film, frame by frame, as RGB arrays with exact pts.

    ``clock``: when the file's timestamps are broken (``io.timeline``), the frames are numbered in the order
    the decoder hands them out on this clock instead, and ``info.time_base`` is the clock's.

    A ``FrameSequence`` is read strictly: a frame file that cannot be read or decoded, or whose size differs
    from the first frame's, raises ``InputError`` naming that file (a lost scan frame is not skipped).

    >>> with VideoSource("film.mp4") as source:  # doctest: +SKIP
    ...     for pts, rgb in source.frames():   # rgb: (H, W, 3) uint8 or uint16
    ...         ...
    """

    def __init__(self, path: str | Path | FrameSequence, clock: Clock | None = None) -> None:
        self.path = path if isinstance(path, FrameSequence) else Path(path)
        self.clock = clock
        self.bad_packets = 0
        self._counted: tuple[int | None, int | None] = (None, None)  # pts range whose lost packets are counted
        self._rotation_read = False
        self._open()
        try:
            self.info = self._probe()
        except BaseException:
            self.container.close()
            raise

    def _open(self) -> None:
        self.container = open_video(self.path)
        self.stream = main_video_stream(self.container, self.path)
        # frame threads report a damaged picture at a later packet; a sequence's message must name the right file
        self.stream.thread_type = "SLICE" if isinstance(self.path, FrameSequence) else "AUTO"

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
            time_base=self.clock.time_base if self.clock else Fraction(self.stream.time_base or Fraction(1, 90000)),
            average_rate=Fraction(self.stream.average_rate) if self.stream.average_rate else None,
            frames=self.path.count if isinstance(self.path, FrameSequence) else self.stream.frames or 0,
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
        for pts, frame in self.video_frames(start, end):
            yield pts, self.rgb(frame)

    def rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """A decoded frame of this film (``video_frames``) as RGB ``(H, W, 3)`` uint8 (uint16 for >8-bit)."""
        kwargs = {"format": "rgb48le" if self.info.high_bit_depth else "rgb24"}
        if frame.colorspace == 1:  # BT.709 matrix; unspecified/601 use swscale's default (601)
            kwargs["src_colorspace"] = "itu709"
        if frame.color_range:
            kwargs["src_color_range"] = frame.color_range
        return frame.to_ndarray(**kwargs)

    def luma_planes(self, start: int | None = None, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(pts, Y)`` for every decodable frame of a film in an 8-bit planar Y'CbCr format (``yuv_layout``):
        ``Y`` is its luma plane ``(H, W)`` uint8, the codes as stored (no conversion). ``start``/``end``: as ``frames``."""
        for pts, frame in self.video_frames(start, end):
            if frame.format.name != self.info.pix_fmt:  # a stream whose format changes midway: back to the film's
                frame = frame.reformat(format=self.info.pix_fmt)
            yield pts, plane_array(frame, 0)

    def video_frames(self, start: int | None = None, end: int | None = None) -> Iterator[tuple[int, av.VideoFrame]]:
        """``(pts, frame)`` of ``timed_frames`` with ``start <= pts < end``, not converted (``rgb`` converts one); lost
        packets are counted in that range only."""
        self._counted = (start, end)
        for pts, frame in self.timed_frames(start):
            if start is not None and pts < start:
                continue
            if end is not None and pts >= end:
                return
            yield pts, frame

    def timed_frames(self, start: int | None = None) -> Iterator[tuple[int, av.VideoFrame]]:
        """``(pts, frame)`` for every decodable frame, pts increasing (from the keyframe before ``start``).

        With a ``clock`` the frames are numbered from the first; without, a frame whose pts does not follow
        the previous one's could not be written in order and is counted in ``bad_packets``.
        """
        if self.clock is not None:  # the file's pts are unusable, so is seeking: count from the first frame
            for index, frame in enumerate(self.decoded_frames()):
                yield self.clock.pts(index), frame
            return
        last = None
        for frame in self.decoded_frames(start):
            pts = frame.pts if frame.pts is not None else (0 if last is None else last + 1)
            if last is not None and pts <= last:
                self.bad_packets += self._in_counted_range(pts)
                log.debug("%s: frame at pts %d after pts %d left out", self.path, pts, last)
                continue
            last = pts
            yield pts, frame

    def decoded_frames(self, start: int | None = None) -> Iterator[av.VideoFrame]:
        """Every decodable ``av.VideoFrame`` (from the keyframe before pts ``start`` when given).

        Packets that fail to decode are counted in ``bad_packets``. A seek that lands after ``start`` (an
        imprecise index) falls back to decoding from the file's start (reopened: the first frames of a
        stream may have negative pts, e.g. after an MPEG-TS clock wrap), so no frame of the range is missed.
        """
        frames = self._decode()
        if start is not None and self._seek(start):
            first = next(frames, None)
            if first is None or (first.pts is not None and first.pts > start):
                self.container.close()
                self._open()
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
        sequence = self.path if isinstance(self.path, FrameSequence) else None
        for packet in self._packets():
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                if sequence is not None and packet.pts is not None:
                    raise InputError(f"{sequence.file(packet.pts)}: cannot be decoded ({exc.strerror or exc}); replace or rescan this frame") from None
                self.bad_packets += self._in_counted_range(packet.pts)
                log.debug("%s: undecodable packet at pts %s: %s", self.path, packet.pts, exc)
                continue
            if sequence is not None and packet.size and not frames:  # an image decoder holds no frame back
                raise InputError(f"{sequence.file(packet.pts)}: holds no picture FFmpeg can decode; replace or rescan this frame")
            for frame in frames:
                if not self._rotation_read:
                    self.info = _with_rotation(self.info, frame.rotation)
                    self._rotation_read = True
                if sequence is not None:
                    _check_like_first(sequence, frame, self.info)
                yield frame

    def _packets(self) -> Iterator[av.Packet]:
        """The video stream's packets; for a sequence, every frame file from the first one read to the last of the
        sequence, in order: a file that cannot be read, or that the reader passed over, is an ``InputError`` naming it."""
        packets = self.container.demux(self.stream)
        if not isinstance(self.path, FrameSequence):
            yield from packets
            return
        following = None  # the index of the frame file read next (the first after a seek is wherever it lands)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                raise InputError(f"{self.path.file(following or 0)}: cannot be read ({exc.strerror or exc})") from None
            if packet.pts is not None:  # not the empty packet that flushes the decoder at the end
                if following is not None and packet.pts != following:
                    raise InputError(f"{self.path.file(following)}: passed over by FFmpeg's image reader; replace or rescan this frame")
                following = packet.pts + 1
            yield packet
        if (following or 0) != self.path.count:
            raise InputError(f"{self.path.file(following or 0)}: FFmpeg's image reader stops here, {self.path.count - (following or 0)} frame(s) "
                             "before the end of the numbering (an empty or unreadable file?); replace or rescan this frame")

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


def _check_like_first(sequence: FrameSequence, frame: av.VideoFrame, info: VideoInfo) -> None:
    """``InputError`` naming the frame's file when its size or bit depth is not the first frame's (``info``): a film's frames
    all have one size, and one depth (else an 8-bit first frame would make a 16-bit scan come out 8-bit)."""
    if (frame.width, frame.height) != (info.width, info.height):
        raise InputError(
            f"{sequence.file(frame.pts)}: {frame.width}x{frame.height}, but the sequence's first frame is "
            f"{info.width}x{info.height}; every frame of a film must have the same size"
        )
    bits = pix_fmt_bits(frame.format.name)
    if info.pix_fmt != "unknown" and bits != pix_fmt_bits(info.pix_fmt):
        raise InputError(
            f"{sequence.file(frame.pts)}: {bits} bits per channel, but {sequence.file(0)} has {pix_fmt_bits(info.pix_fmt)}; "
            "every frame of a scan must have the same bit depth: rescan or convert the odd frames"
        )


def has_alpha(pix_fmt: str) -> bool:
    """Whether ``pix_fmt`` carries an alpha channel (``rgba``, ``ya8``, ``yuva420p``; ``unknown``: no)."""
    return pix_fmt != "unknown" and any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)


def pix_fmt_bits(pix_fmt: str) -> int:
    """Bits per component of ``pix_fmt`` (``rgb48le``: 16, ``gray``: 8)."""
    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def _with_rotation(info: VideoInfo, rotation: float | int | None) -> VideoInfo:
    return dataclasses.replace(info, rotation=int(round(rotation or 0)) % 360)


def yuv_layout(pix_fmt: str) -> tuple[int, int] | None:
    """``(x, y)``, log2 of the chroma subsampling of an 8-bit planar Y'CbCr format of three planes (``yuv420p``:
    (1, 1), ``yuvj422p``: (1, 0), ``yuv444p``: (0, 0)); ``None`` for any other format (RGB, gray, alpha, NV12, deep)."""
    try:
        fmt = av.VideoFormat(pix_fmt, 64, 64)
    except ValueError:
        return None
    parts = fmt.components
    if fmt.is_rgb or len(parts) != 3 or [c.plane for c in parts] != [0, 1, 2] or any(c.bits != 8 for c in parts) or not parts[0].is_luma:
        return None
    return (64 // parts[1].width).bit_length() - 1, (64 // parts[1].height).bit_length() - 1


def plane_array(frame: av.VideoFrame, index: int) -> np.ndarray:
    """A copy of plane ``index`` of an 8-bit planar frame: ``(h, w)`` uint8 without the line padding."""
    plane = frame.planes[index]
    rows = np.frombuffer(plane, np.uint8)[: plane.height * plane.line_size].reshape(plane.height, plane.line_size)
    return np.ascontiguousarray(rows[:, : plane.width])
