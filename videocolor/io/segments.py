"""Shot segments on disk: video-only segment files, and the final film muxed from them.

A segment holds the encoded frames of a run of shots (a NUT file, at the source's exact pts) and, beside it, the exact pts and dts
(and duration) the encoder gave each packet in the source's time base (``<segment>.ts.json``): containers shift or
rebuild decode times of reordered frames (MOV, NUT and Matroska all do, differently), so the timestamps
are kept outside them. Both are written to hidden temporary names and renamed when complete (the
timestamps first), so a killed process never leaves a half segment under the final name. The final film
is the segments' packets in order, unchanged, at those timestamps, plus the source's audio, subtitle and
data packets, renamed into place atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import OutputError
from .decode import VideoInfo
from .encode import CopiedStreams, EncodeSettings, add_video_stream, encode_planes, encode_rgb, partial_path
from .encoders import DECODE_ORDER_ONLY

SEGMENT_SUFFIX = ".nut"
HOLD_NEGATIVE_TIMES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".ts", ".m2ts", ".avi"}  # tried: negative times kept


def timestamps_path(segment: Path) -> Path:
    """The file beside a segment holding its packets' exact ``[pts, dts, duration]``."""
    return segment.with_name(segment.name + ".ts.json")


class SegmentSink:
    """Encodes frames of one segment into a video-only file, written atomically.

    Call ``write`` (RGB) or ``write_planes`` (the output's own planes) for each frame in presentation order, then ``finish`` (rename into place) or ``abort``.
    """

    def __init__(self, path: str | Path, info: VideoInfo, settings: EncodeSettings) -> None:
        self.path = Path(path)
        self.part = self.path.with_name(f".{self.path.stem}.{os.getpid()}.part{self.path.suffix}")
        self.info = info
        self.settings = settings
        self.timestamps: list[tuple[int, int, int]] = []
        self.container: av.container.OutputContainer | None = None  # opened at the first frame (``_open``)

    def _open(self, first_pts: int) -> None:
        """Open the file and its encoder. NUT holds negative decode times (the encoder's reordering delay) but no
        negative pts: unless the first frame has one (an MPEG-TS clock wrap), FFmpeg is kept from shifting every
        timestamp by that delay, so the file holds the source's exact pts."""
        options = {"avoid_negative_ts": "disabled"} if first_pts >= 0 else {}
        try:
            self.container = av.open(str(self.part), "w", format="nut", options=options)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"{self.path}: cannot write a segment file ({exc})") from None
        try:
            self.stream = add_video_stream(self.container, self.info, self.settings, self.path)
        except BaseException:
            self.abort()
            raise

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """Encode one ``(H, W, 3)`` uint8 RGB frame at ``pts`` (source time base); frames come in presentation order."""
        if self.container is None:
            self._open(pts)
        self._mux(encode_rgb(self.stream, self.info, rgb, pts))

    def write_planes(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], pts: int) -> None:
        """Encode one frame given as its Y, Cb and Cr planes in the output's pixel format (``encode.encode_planes``)."""
        if self.container is None:
            self._open(pts)
        self._mux(encode_planes(self.stream, self.info, planes, pts))

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            pts, dts = packet.pts, packet.dts if packet.dts is not None else packet.pts
            if packet.time_base != self.info.time_base:  # an encoder with a clock of its own (``codec_time_base``)
                pts, dts = (round(t * packet.time_base / self.info.time_base) for t in (pts, dts))
            self.timestamps.append((pts, dts, round((packet.duration or 0) * packet.time_base / self.info.time_base)))
            self.container.mux(packet)

    def finish(self) -> Path:
        """Flush, close and rename the segment into place; returns its path."""
        try:
            if self.container is None:
                self._open(0)
            self._mux(self.stream.encode(None))
            self.container.close()
            stamps = timestamps_path(self.part)
            stamps.write_text(json.dumps(fill_durations(self.timestamps, self.info)), encoding="utf-8")
            os.replace(stamps, timestamps_path(self.path))
            os.replace(self.part, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Close and delete the partial segment."""
        try:
            if self.container is not None:
                self.container.close()
        except Exception:  # a half-written file may fail to close; it is deleted anyway
            pass
        self.part.unlink(missing_ok=True)
        timestamps_path(self.part).unlink(missing_ok=True)


def fill_durations(stamps: Sequence[tuple[int, int, int]], info: VideoInfo) -> list[tuple[int, int, int]]:
    """``[pts, dts, duration]`` per packet with every zero duration filled in: the gap to the next frame's pts.

    Some encoders (FFV1, the intra-only ones) leave packet durations at 0; MP4 and MOV then end the track at
    the last frame's pts, and players and decoders drop that frame. The last frame of a segment lasts one
    frame of the source's average rate, as x264 itself gives it.
    """
    frame = round(1 / ((info.average_rate or Fraction(25)) * info.time_base)) or 1
    order = sorted(pts for pts, _, _ in stamps)
    following = {pts: later for pts, later in zip(order, order[1:])}
    return [(pts, dts, duration or (following[pts] - pts if pts in following else frame)) for pts, dts, duration in stamps]


def exact_time_options(output: Path, info: VideoInfo, first_pts: int) -> dict[str, str]:
    """Muxer options that keep the source's exact pts in ``output`` (whose first frame is at ``first_pts``).

    By default FFmpeg shifts every stream when one starts before 0 (AAC's priming packet does, at -1024/44100 s):
    MKV, NUT and MPEG-TS films came out 23 ms late. The containers here hold negative times, except NUT negative
    pts (``CopiedStreams`` then leaves out other streams' packets from before 0, unless the film itself starts
    there). MP4 and MOV write the start of the first frame in an edit list at the movie's time scale, 1/1000 s
    unless told the source's (pts 7777 at 1/90000 came back as 7740). Matroska's clock is 1/1000 s whatever is
    asked: use MP4, MOV, NUT or MPEG-TS for finer time bases.
    """
    suffix = output.suffix.lower()
    if suffix not in HOLD_NEGATIVE_TIMES | {".nut"} or (suffix == ".nut" and first_pts < 0):
        return {}
    options = {"avoid_negative_ts": "disabled"}
    if suffix in (".mp4", ".m4v", ".mov") and info.time_base.denominator < 2**31:
        options["movie_timescale"] = str(info.time_base.denominator)
    return options


def _read_stamps(path: Path) -> list[list[int]]:
    try:
        return json.loads(timestamps_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: segment timestamps unreadable ({exc}); delete the segment to render it again") from None


def _segment_packets(path: Path) -> Iterator[tuple[av.stream.Stream, av.Packet, list[int]]]:
    """Yield the video packets of a segment in decode order with their exact source ``[pts, dts, duration]``."""
    stamps = _read_stamps(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = (p for p in container.demux(stream) if p.size)
        n = -1
        for n, packet in enumerate(packets):
            if n >= len(stamps) or (n == 0 and not packet.is_keyframe):
                raise OutputError(f"{path}: segment does not match its timestamps; delete it to render it again")
            yield stream, packet, stamps[n]
        if not stamps or n + 1 != len(stamps):
            raise OutputError(f"{path}: segment is shorter than its timestamps; delete it to render it again")


def mux_segments(info: VideoInfo, segments: Sequence[Path], output: str | Path) -> int:
    """Write ``output`` from the segment files in order plus the source's other streams.

    Video packets are copied unchanged at their exact source pts; every segment must come from the same
    encoder settings (same codec parameters). The file appears atomically. Returns the video packets written.
    """
    output = Path(output)
    part = partial_path(output)
    try:
        first_pts = min((pts for pts, _, _ in _read_stamps(segments[0])), default=0)
        container = av.open(str(part), "w", options=exact_time_options(output, info, first_pts))
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise OutputError(f"{output}: cannot write this kind of file ({exc})") from None
    copies = None
    written = 0
    try:
        template = av.open(str(segments[0]))
        out = container.add_stream_from_template(template.streams.video[0], opaque=True)  # a copy: AV1 reads back through libdav1d, no encoder
        extradata = template.streams.video[0].codec_context.extradata
        template.close()
        out.time_base = info.time_base if output.suffix.lower() not in DECODE_ORDER_ONLY else 1 / (info.average_rate or Fraction(25))
        if info.rotation:
            out.set_display_rotation(info.rotation)
        negative = output.suffix.lower() != ".nut" or first_pts < 0
        copies = CopiedStreams(info.path, container, output, before_zero=negative)
        container.metadata.update(
            {k: v for k, v in copies.input.metadata.items() if k.lower() not in ("encoder", "major_brand", "minor_version", "compatible_brands")}
        )
        last_dts = None
        for path in segments:
            for stream, packet, (pts, dts, duration) in _segment_packets(path):
                if stream.codec_context.extradata != extradata:
                    raise OutputError(f"{path}: segment was encoded with other settings than the first; delete it to render it again")
                if last_dts is not None and dts <= last_dts:
                    dts = last_dts + 1
                last_dts = dts
                packet.stream = out
                packet.time_base = info.time_base
                packet.pts, packet.dts, packet.duration = pts, dts, duration
                copies.mux_until(dts * info.time_base)
                container.mux(packet)
                written += 1
        copies.flush()
        container.close()
        copies.close()
        os.replace(part, output)
    except BaseException:
        for close in (getattr(copies, "close", None), container.close):
            if close is not None:
                try:
                    close()
                except Exception:  # closing a half-written file may fail; it is deleted anyway
                    pass
        part.unlink(missing_ok=True)
        raise
    return written
