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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import OutputError
from .decode import VideoInfo, open_video

_READ_BACK_FRAMES = 12  # enough for an encoder's B-frame reordering to show

log = logging.getLogger("videocolor")

_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1"}
_NVENC_CODECS = {"h264_nvenc", "hevc_nvenc", "av1_nvenc"}
_NVENC_PRESETS = {f"p{i}" for i in range(1, 8)}
_SUBSAMPLED = ("420", "422", "411", "410", "440")


@dataclass(frozen=True)
class EncodeSettings:
    """Video encoder choice: FFmpeg codec name, CRF and preset (x264/x265 family), pixel format."""

    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"


def resolve_codec(codec: str, device_type: str) -> str:
    """The encoder a ``codec`` setting names: ``auto`` is NVENC H.264 when rendering on a GPU whose driver
    PyAV's FFmpeg can reach, else libx264; any other name is used as it is."""
    if codec != "auto":
        return codec
    return "h264_nvenc" if device_type == "cuda" and nvenc_works() else "libx264"


@functools.lru_cache(maxsize=1)
def nvenc_works() -> bool:
    """Whether FFmpeg's h264_nvenc opens here: PyAV's wheel lists it, but it needs the NVIDIA driver's encoder."""
    if "h264_nvenc" not in av.codecs_available:
        return False
    try:
        context = av.CodecContext.create("h264_nvenc", "w")
        context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
        context.time_base = Fraction(1, 25)
        context.open()
    except (av.FFmpegError, ValueError, OSError) as exc:
        log.debug("h264_nvenc cannot open (%s); using libx264", exc)
        return False
    return True


def encoder_options(settings: EncodeSettings) -> dict[str, str]:
    """FFmpeg options for the encoder: CRF and preset for x264-like codecs, constant quality for NVENC."""
    if settings.codec in _CRF_CODECS:
        return {"crf": str(settings.crf), "preset": settings.preset}
    if settings.codec in _NVENC_CODECS:  # -cq is NVENC's CRF; x264 preset names map to its middle preset
        preset = settings.preset if settings.preset in _NVENC_PRESETS else "p4"
        return {"rc": "vbr", "cq": str(settings.crf), "b": "0", "preset": preset}
    return {}


def partial_path(output: Path) -> Path:
    """The hidden file a render writes before it is renamed to ``output`` (same extension, same folder)."""
    return output.with_name(f".{output.stem}.videocolor-part{output.suffix}")


def choose_pix_fmt(pix_fmt: str, width: int, height: int, path: Path) -> str:
    """Keep odd sizes exact: chroma-subsampled formats need even sizes, so switch to 4:4:4 and say so."""
    if (width % 2 or height % 2) and any(tag in pix_fmt for tag in _SUBSAMPLED):
        full = pix_fmt.replace("420", "444").replace("422", "444")
        log.warning("%s: odd size %dx%d cannot use %s; writing %s to keep the exact size", path, width, height, pix_fmt, full)
        return full
    return pix_fmt


def container_accepts_copy(format_name: str, stream: av.stream.Stream) -> bool:
    """Whether a container of ``format_name`` can take ``stream``'s packets unchanged (tried in memory)."""
    try:
        with av.open(io.BytesIO(), "w", format=format_name) as probe:
            probe.add_stream_from_template(stream)
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

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self.input = open_video(source)
        self.output = output
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
        path = self.output.name
        if stream.type in ("audio", "subtitle", "data") and container_accepts_copy(fmt, stream):
            self.routes[stream.index] = (self.output.add_stream_from_template(stream), None)
        elif stream.type == "audio":
            codec = self.output.default_audio_codec
            layout = _standard_layout(len(stream.layout.channels))
            out = self.output.add_stream(codec, rate=stream.rate, layout=layout)
            formats = out.codec_context.codec.audio_formats
            resampler = av.AudioResampler(format=formats[0].name if formats else "fltp", layout=layout, rate=stream.rate)
            self.routes[stream.index] = (out, resampler)
            log.warning("%s: %s container cannot hold %s audio; transcoding stream %d to %s", path, fmt, stream.codec_context.name, stream.index, codec)
        else:
            log.warning("%s: %s stream %d (%s) cannot be stored in a %s file; it is left out", path, stream.type, stream.index, stream.codec_context.name, fmt)

    def mux_until(self, seconds: Fraction | None) -> None:
        """Mux every packet whose decode time is at most ``seconds`` (all remaining ones for ``None``)."""
        while True:
            if self.pending is None:
                self.pending = next(self.packets, None)
                if self.pending is None:
                    return
                if self.pending.size == 0:  # demuxer flush packets carry nothing
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
    """Add the encoded video stream: source size, time base, color metadata and rotation; ``OutputError`` if no encoder."""
    rate = info.average_rate or Fraction(25)
    try:
        stream = container.add_stream(settings.codec, rate=rate)
    except (av.FFmpegError, ValueError) as exc:
        raise OutputError(f"{output}: cannot write {settings.codec} video into this file ({exc}); choose another codec or extension") from None
    stream.width, stream.height = info.width, info.height
    stream.pix_fmt = choose_pix_fmt(settings.pix_fmt, info.width, info.height, info.path)
    stream.time_base = info.time_base
    stream.codec_context.time_base = info.time_base
    stream.options = encoder_options(settings)
    ctx = stream.codec_context
    ctx.colorspace, ctx.color_range = info.colorspace, info.color_range
    ctx.color_primaries, ctx.color_trc = info.color_primaries, info.color_trc
    if info.rotation:
        stream.set_display_rotation(info.rotation)
    return stream


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


def check_encodable(output: Path, info: VideoInfo, settings: EncodeSettings) -> None:
    """Fail now, before hours of rendering, if ``output``'s container cannot hold the chosen video encoding.

    Opens the encoder and writes a header into a scratch file of the same extension, then deletes it; then
    checks that such a file reads back frame for frame (``read_back_problem``).
    """
    with tempfile.TemporaryDirectory(prefix="videocolor-probe-") as folder:
        probe_path = Path(folder) / f"probe{output.suffix}"
        try:
            container = av.open(str(probe_path), "w")
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(f"{output}: cannot write this kind of file ({exc}); use e.g. .mp4, .mkv or .mov") from None
        try:
            stream = add_video_stream(container, info, settings, output)
            container.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            fmt = container.format.name.split(",")[0]
            raise OutputError(
                f"{output}: cannot write {settings.codec} video ({stream.pix_fmt}) into a {fmt} file ({exc}); "
                "choose another codec or extension (e.g. .mkv)"
            ) from None
        finally:
            try:
                container.close()
            except av.FFmpegError:  # a header-only probe may fail to finalise; the folder is deleted anyway
                pass
    problem = read_back_problem(output.suffix.lower(), settings)
    if problem:
        raise OutputError(f"{output}: FFmpeg writes {settings.codec} video into {output.suffix} files but {problem}; use .mkv or .mp4")


@functools.cache
def read_back_problem(suffix: str, settings: EncodeSettings) -> str:
    """Why FFmpeg cannot read back a ``suffix`` file of ``settings``' video frame for frame, in order ("" when it can).

    A few tiny frames are encoded, written and decoded again: some pairs are written without complaint and
    then lose their video stream (H.264 in MPEG-PS) or their frame order (B-frames in AVI).
    """
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


def video_output(input_path: Path, settings: EncodeSettings) -> Path:
    """The default output of a film: ``<stem>_color<ext>`` beside it, in ``.mkv`` when its own container
    would not read back (``read_back_problem``), which Matroska does for every encoder FFmpeg has."""
    suffix = input_path.suffix.lower()
    if not suffix or read_back_problem(suffix, settings):
        log.info("%s: writing the colorized film as .mkv (a %s file of %s video would not read back)", input_path, suffix or "raw", settings.codec)
        suffix = ".mkv"
    return input_path.with_name(f"{input_path.stem}_color{suffix}")
