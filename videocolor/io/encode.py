"""Encoding with PyAV: the video stream's settings, frames out at their source pts, copied streams.

Audio, subtitle and data packets are read from a second handle on the source and interleaved by time as
the video advances (``CopiedStreams``), so memory stays bounded however long the film; ``io.segments``
uses these pieces to write shot segments and mux the final film atomically.
"""

from __future__ import annotations

import functools
import io
import logging
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import InputError, OutputError
from .decode import VideoInfo, open_video
from .encoders import AUTO_CODECS, EncodeSettings, codec_time_base, encoder_options, for_output, preset_problem, takes_pix_fmt

_READ_BACK_FRAMES = 12  # enough for an encoder's B-frame reordering to show

log = logging.getLogger("videocolor")

_SUBSAMPLED = ("420", "422", "411", "410", "440")
_AUDIO_CODECS = {"webm": "libopus"}  # FFmpeg's default for WebM is its experimental native Opus encoder


def partial_path(output: Path) -> Path:
    """The hidden file a render writes before it is renamed to ``output`` (same extension, same folder)."""
    return output.with_name(f".{output.stem}.videocolor-part{output.suffix}")


def choose_pix_fmt(settings: EncodeSettings, width: int, height: int, path: Path) -> str:
    """Keep odd sizes exact: where the encoder needs even sizes for chroma-subsampled formats (x264, x265, NVENC
    do; MPEG-4 Part 2 and VP9 do not), switch to 4:4:4 and say so."""
    pix_fmt = settings.pix_fmt
    full = pix_fmt.replace("420", "444").replace("422", "444")
    if (width % 2 or height % 2) and any(tag in pix_fmt for tag in _SUBSAMPLED) and takes_pix_fmt(settings.codec, full):
        log.warning("%s: odd size %dx%d cannot use %s; writing %s to keep the exact size", path, width, height, pix_fmt, full)
        return full
    return pix_fmt


def container_accepts_copy(format_name: str, stream: av.stream.Stream) -> bool:
    """Whether a container of ``format_name`` can take ``stream``'s packets unchanged (tried in memory)."""
    try:
        with av.open(io.BytesIO(), "w", format=format_name) as probe:
            probe.add_stream_from_template(stream, opaque=True)
            probe.start_encoding()
        return True
    except (av.FFmpegError, ValueError, NotImplementedError):
        return False


def _standard_layout(channels: int) -> str:
    """FFmpeg's default layout name for a channel count (encoders refuse "unknown order" layouts)."""
    return {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}.get(channels, "stereo")


class CopiedStreams:
    """Packets of the source's non-video streams, copied (or transcoded) in time order as the video advances.

    Timestamps that go back (two captures joined end to end, a clock restart) are shifted to continue where
    the stream was, as a muxer needs increasing times.
    """

    def __init__(self, source: Path, output: av.container.OutputContainer, name: Path | None = None, before_zero: bool = True) -> None:
        self.input = open_video(source)
        self.output = output
        self.name = name or Path(output.name)  # the file messages name (not the hidden one being written)
        self.before_zero = before_zero  # False: packets from before time 0 (AAC's priming packet) are left out
        self.routes: dict[int, tuple[av.stream.Stream, av.AudioResampler | None]] = {}
        for stream in self.input.streams:
            if stream.type == "video":
                continue
            self._add(stream)
        selected = [s for s in self.input.streams if s.index in self.routes]
        self.packets: Iterator[av.Packet] = self.input.demux(selected) if selected else iter(())
        self.pending: av.Packet | None = None
        self.pending_ts: int | None = None  # the pending packet's decode time, shifted
        self.shift: dict[int, int] = {}  # input stream index -> ticks added to its timestamps
        self.end: dict[int, int] = {}  # input stream index -> shifted end of its last packet

    def _add(self, stream: av.stream.Stream) -> None:
        fmt = self.output.format.name.split(",")[0]
        path = self.name
        # FFmpeg's AVI muxer keeps the block size another AVI file gave compressed audio, and its timestamps then
        # stop moving (the ffmpeg command does the same): such audio is encoded again, in its own codec
        avi_audio = fmt == "avi" and self.input.format.name == "avi" and stream.type == "audio" and not stream.codec_context.name.startswith("pcm_")
        own = stream.codec_context.name
        codec = own if avi_audio and own in av.codecs_available else _AUDIO_CODECS.get(fmt, self.output.default_audio_codec)
        if stream.type in ("audio", "subtitle", "data") and not avi_audio and container_accepts_copy(fmt, stream):
            self.routes[stream.index] = (self.output.add_stream_from_template(stream, opaque=True), None)
        elif stream.type == "audio" and codec != "none":  # "none": a container without sound (GIF)
            layout = _standard_layout(len(stream.layout.channels))
            rates = av.Codec(codec, "w").audio_rates  # Opus: 48 kHz and a few lower rates only
            rate = stream.rate if not rates or stream.rate in rates else min((r for r in rates if r >= stream.rate), default=max(rates))
            out = self.output.add_stream(codec, rate=rate, layout=layout)
            formats = out.codec_context.codec.audio_formats
            resampler = av.AudioResampler(format=formats[0].name if formats else "fltp", layout=layout, rate=rate)
            self.routes[stream.index] = (out, resampler)
            why = "would lose the timing of copied" if avi_audio else "cannot hold"
            log.warning("%s: %s container %s %s audio; transcoding stream %d to %s", path, fmt, why, own, stream.index, codec)
        else:
            log.warning("%s: %s stream %d (%s) cannot be stored in a %s file; it is left out", path, stream.type, stream.index, stream.codec_context.name, fmt)

    def mux_until(self, seconds: Fraction | None) -> None:
        """Mux every packet whose decode time is at most ``seconds`` (all remaining ones for ``None``)."""
        while True:
            if self.pending is None:
                self.pending = next(self.packets, None)
                if self.pending is None:
                    return
                if self.pending.size == 0 or (not self.before_zero and (self.pending.pts or 0) < 0):  # flush packets carry nothing
                    self.pending = None
                    continue
                self.pending_ts = self._continuous(self.pending)
            packet, ts = self.pending, self.pending_ts
            if seconds is not None and ts is not None and ts * packet.time_base > seconds:
                return
            self.pending = None
            self._mux(packet)

    def _continuous(self, packet: av.Packet) -> int | None:
        """The packet's decode time, its timestamps shifted once its stream's time has gone back."""
        index = packet.stream.index
        ts = packet.dts if packet.dts is not None else packet.pts
        if ts is None:
            return None
        if index in self.end and ts + self.shift.get(index, 0) < self.end[index] - (packet.duration or 0):
            self.shift[index] = self.end[index] - ts
        shift = self.shift.get(index, 0)
        if shift:
            packet.dts = None if packet.dts is None else packet.dts + shift
            packet.pts = None if packet.pts is None else packet.pts + shift
        self.end[index] = ts + shift + (packet.duration or 0)
        return ts + shift

    def _mux(self, packet: av.Packet) -> None:
        out, resampler = self.routes[packet.stream.index]
        if resampler is None:
            packet.stream = out
            self.output.mux(packet)
            return
        for frame in packet.decode():
            for resampled in resampler.resample(frame):
                self.output.mux(out.encode(resampled))

    def flush(self) -> None:
        self.mux_until(None)
        for out, resampler in self.routes.values():
            if resampler is not None:
                for resampled in resampler.resample(None):
                    self.output.mux(out.encode(resampled))
                self.output.mux(out.encode(None))

    def close(self) -> None:
        self.input.close()


def add_video_stream(container: av.container.OutputContainer, info: VideoInfo, settings: EncodeSettings, output: Path) -> av.video.stream.VideoStream:
    """Add the encoded video stream of resolved ``settings`` (``for_output``): source size, time base, color metadata
    and rotation; ``OutputError`` naming the codec and the file type when the container cannot hold that codec."""
    rate = info.average_rate or Fraction(25)
    try:
        stream = container.add_stream(settings.codec, rate=rate)
    except (av.FFmpegError, ValueError) as exc:
        raise OutputError(_cannot_hold(output, settings.codec, exc)) from None
    stream.width, stream.height = info.width, info.height
    stream.pix_fmt = choose_pix_fmt(settings, info.width, info.height, info.path)
    stream.time_base = info.time_base
    stream.codec_context.time_base = codec_time_base(settings.codec, info.time_base, info.average_rate)
    stream.options = encoder_options(settings)
    ctx = stream.codec_context
    if not settings.b_frames:
        ctx.max_b_frames = 0
    ctx.colorspace, ctx.color_range = info.colorspace, info.color_range
    ctx.color_primaries, ctx.color_trc = info.color_primaries, info.color_trc
    if info.rotation:
        stream.set_display_rotation(info.rotation)
    return stream


def _cannot_hold(output: Path, codec: str, exc: Exception) -> str:
    suffix = output.suffix.lower() or "raw"
    auto = AUTO_CODECS.get(suffix, ("libx264",))[0]
    advice = f"set codec = \"auto\" ({auto} for {suffix}) or write a .mkv" if auto != codec else "write a .mkv, .mp4 or .mov"
    return f"{output}: a {suffix} file cannot hold {codec} video ({exc}); {advice}"


def encode_rgb(stream: av.video.stream.VideoStream, info: VideoInfo, rgb: np.ndarray, pts: int) -> list[av.Packet]:
    """Encode one ``(H, W, 3)`` RGB frame (uint8, or uint16 for a deep output) at ``pts`` (source time base),
    converted like the source's colors."""
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le" if rgb.dtype == np.uint16 else "rgb24")
    kwargs = {"format": stream.pix_fmt}
    if info.colorspace == 1:
        kwargs["dst_colorspace"] = "itu709"
    if info.color_range:
        kwargs["dst_color_range"] = info.color_range
    frame = frame.reformat(**kwargs)
    frame.pts = pts
    frame.time_base = info.time_base
    return stream.encode(frame)


def encode_planes(stream: av.video.stream.VideoStream, info: VideoInfo, planes: tuple[np.ndarray, ...], pts: int) -> list[av.Packet]:
    """Encode one frame given as the planes of ``stream.pix_fmt`` (8-bit planar Y'CbCr: ``(H, W)`` Y, then Cb and Cr
    at the chroma planes' size, uint8) at ``pts`` (source time base): no conversion, the codes go in as they are."""
    frame = av.VideoFrame(info.width, info.height, stream.pix_fmt)
    for plane, data in zip(frame.planes, planes):
        rows = np.frombuffer(plane, np.uint8)[: plane.height * plane.line_size].reshape(plane.height, plane.line_size)
        rows[:, : plane.width] = data
    frame.colorspace, frame.color_range = info.colorspace, info.color_range
    frame.pts = pts
    frame.time_base = info.time_base
    return stream.encode(frame)


def check_encodable(output: Path, info: VideoInfo, settings: EncodeSettings) -> None:
    """Fail now, before hours of rendering, if ``output`` cannot be written with ``settings`` (resolved for its
    container by ``for_output``).

    One line names what is at fault: a preset the encoder lacks (the setting), an encoder that does not open for
    this film's frames (the codec or pixel format setting), a container that cannot hold the encoder (the file type),
    or a pair FFmpeg writes but cannot read back frame for frame (``read_back_problem``).
    """
    problem = preset_problem(settings.codec, settings.preset)  # named codecs strictly; auto's choice takes what it has
    settings = for_output(settings, output.suffix)
    if settings.codec not in av.codecs_available:
        problem = f"a {output.suffix} file holds {settings.codec} video, an encoder this FFmpeg (PyAV's) does not have; write a .mkv, .mp4 or .webm"
    problem = problem or _open_problem(info, settings)
    if problem:
        raise InputError(f"{output}: {problem}")
    with tempfile.TemporaryDirectory(prefix="videocolor-probe-") as folder:
        probe_path = Path(folder) / f"probe{output.suffix}"
        try:
            container = av.open(str(probe_path), "w")
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(f"{output}: cannot write this kind of file ({exc}); use e.g. .mp4, .mkv or .mov") from None
        try:
            add_video_stream(container, info, settings, output)
            container.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(_cannot_hold(output, settings.codec, exc)) from None
        finally:
            try:
                container.close()
            except av.FFmpegError:  # a header-only probe may fail to finalise; the folder is deleted anyway
                pass
    problem = read_back_problem(output.suffix.lower(), settings)
    if problem:
        raise OutputError(f"{output}: FFmpeg writes {settings.codec} video into {output.suffix} files but {problem}; use .mkv or .mp4")


def _open_problem(info: VideoInfo, settings: EncodeSettings) -> str | None:
    """Why the encoder does not open for ``info``'s frames on its own (no container involved), or ``None``."""
    context = av.CodecContext.create(settings.codec, "w")
    context.width, context.height = info.width, info.height
    context.pix_fmt = choose_pix_fmt(settings, info.width, info.height, info.path)
    context.time_base = codec_time_base(settings.codec, info.time_base, info.average_rate)
    context.framerate = info.average_rate or Fraction(25)  # as add_video_stream: SVT-AV1 takes 1/time_base otherwise
    context.color_range = info.color_range
    context.options = encoder_options(settings)
    if not settings.b_frames:
        context.max_b_frames = 0
    try:
        context.open()
    except (av.FFmpegError, ValueError) as exc:
        size = f"{info.width}x{info.height} {context.pix_fmt}"
        return f"setting codec {settings.codec}: the encoder does not open for {size} video ({exc}); choose another codec or pix_fmt"
    return None


@functools.cache
def read_back_problem(suffix: str, settings: EncodeSettings) -> str:
    """Why FFmpeg cannot read back a ``suffix`` file of ``settings``' video frame for frame, in order ("" when it can).

    ``settings`` are resolved for the container first (``for_output``). A few tiny frames are encoded, written and
    decoded again: some pairs are written without complaint and then lose their video stream (H.264 in MPEG-PS)
    or their frame order (B-frames in a container that keeps decode order only).
    """
    settings = for_output(settings, suffix)
    info = VideoInfo(Path("probe"), 64, 48, Fraction(1, 25), Fraction(25), 0, "yuv420p", False, 2, 0, 2, 2, 0)
    with tempfile.TemporaryDirectory(prefix="videocolor-probe-") as folder:
        probe = Path(folder) / f"probe{suffix}"
        try:
            with av.open(str(probe), "w") as container:
                stream = add_video_stream(container, info, settings, probe)
                for i in range(_READ_BACK_FRAMES):
                    container.mux(encode_rgb(stream, info, np.full((48, 64, 3), 20 * i, np.uint8), i))
                container.mux(stream.encode(None))
            with av.open(str(probe)) as container:
                if not container.streams.video:
                    return "cannot find the video stream in them again"
                pts = [frame.pts for frame in container.decode(container.streams.video[0])]
        except (av.FFmpegError, ValueError, OutputError) as exc:
            return f"cannot read them back ({exc})"
    if len(pts) != _READ_BACK_FRAMES:
        return f"reads back {len(pts)} of {_READ_BACK_FRAMES} frames"
    if any(p is None for p in pts) or any(b <= a for a, b in zip(pts, pts[1:])):
        return "reads their frames back out of order"
    return ""
