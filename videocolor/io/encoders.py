"""Video encoders: which one an output container gets, its speed presets, and the options it is opened with.

``codec = "auto"`` lets the output container choose (``AUTO_CODECS``): H.264 for MP4, MOV, Matroska and the rest
(NVENC on a GPU whose driver FFmpeg can use), VP9 for WebM, MPEG-4 Part 2 for AVI, MPEG-2 for MPEG program
streams (``.mpg``, ``.mpeg``). AVI stores decode times only,
so its video is written without B-frames whatever the codec (``DECODE_ORDER_ONLY``): frames that an encoder
reorders would come back out of order. Measured with PyAV 18 and Debian's ffprobe 5.1: MPEG-4 Part 2 in AVI reads
back at its exact times in both; H.264 in AVI, even without B-frames, has no frame pts in ffprobe and comes out of
PyAV's demuxer one frame late (pts 1, 2, ... for 0, 1, ...), so it is only the fallback for formats MPEG-4 lacks;
VP9 in WebM reads back exactly (at Matroska's 1 ms clock).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from dataclasses import dataclass
from fractions import Fraction

import av

log = logging.getLogger("videocolor")

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
# The first that takes the pixel format (else the last, in a format it takes); MPEG program streams get MPEG-2
# (H.264 in them reads back out of order); YUV4MPEG holds raw frames; Ogg wants Theora, which PyAV's FFmpeg lacks.
AUTO_CODECS = {
    ".webm": ("libvpx-vp9",),
    ".avi": ("mpeg4", "libx264"),
    ".mpg": ("mpeg2video",),
    ".mpeg": ("mpeg2video",),
    ".gif": ("gif",),
    ".y4m": ("rawvideo",),
    ".ogv": ("libtheora",),
}
DECODE_ORDER_ONLY = {".avi"}  # containers without presentation times: no B-frames

_X264_LIKE = {"libx264", "libx264rgb", "libx265"}
_NVENC = {"h264_nvenc", "hevc_nvenc", "av1_nvenc"}
_QSCALE = {"mpeg4", "mpeg2video", "mpeg1video", "mjpeg", "msmpeg4", "msmpeg4v2"}  # a fixed quantizer, 1 to 31
_FF_QP2LAMBDA = 118  # FFmpeg's scale between a quantizer and global_quality
# The x264 speed scale, ultrafast to placebo, in each encoder's own terms.
_NVENC_LEVELS = ("p1", "p1", "p2", "p3", "p3", "p4", "p5", "p6", "p7", "p7")
_VP9_LEVELS = tuple(zip(("realtime",) * 2 + ("good",) * 6 + ("best",) * 2, ("8", "7", "5", "4", "3", "2", "1", "0", "0", "0")))
_SVTAV1_LEVELS = ("12", "11", "10", "9", "8", "6", "5", "4", "2", "1")


@dataclass(frozen=True)
class EncodeSettings:
    """The video encoding of an output.

    Attributes:
        codec: FFmpeg encoder name, or ``auto`` (the output container chooses: ``for_output``).
        crf: constant quality, 0 to 63 (lower is better): x264/x265/VP9/AV1 CRF, NVENC's cq, crf / 6 as the
            quantizer of MPEG-4 Part 2 and MJPEG.
        preset: ``auto`` (the encoder's middle speed) or a speed preset of the encoder (``presets``).
        pix_fmt: pixel format; odd sizes switch a subsampled one to 4:4:4 where the encoder needs even sizes.
        gpu: ``auto`` may choose NVENC (the render runs on a GPU).
        b_frames: whether the encoder may reorder frames (off for containers that keep decode order only).
    """

    codec: str = "auto"
    crf: int = 18
    preset: str = "auto"
    pix_fmt: str = "yuv420p"
    gpu: bool = False
    b_frames: bool = True


def presets(codec: str) -> dict[str, dict[str, str]]:
    """The speed presets of encoder ``codec`` and the FFmpeg options each sets (empty: it has none).

    x264 and x265 take their own names; NVENC ``p1``..``p7`` and VP9/SVT-AV1 their numbers, and all three the
    x264 names too, mapped onto their own speed scale (``medium`` is NVENC ``p4``, VP9 ``good`` at ``cpu-used`` 2).
    """
    if codec in _X264_LIKE:
        return {name: {"preset": name} for name in X264_PRESETS}
    if codec in _NVENC:
        named = {name: {"preset": level} for name, level in zip(X264_PRESETS, _NVENC_LEVELS)}
        return {**named, **{f"p{i}": {"preset": f"p{i}"} for i in range(1, 8)}}
    if codec == "libvpx-vp9":
        return {name: {"deadline": deadline, "cpu-used": speed} for name, (deadline, speed) in zip(X264_PRESETS, _VP9_LEVELS)}
    if codec == "libsvtav1":
        named = {name: {"preset": level} for name, level in zip(X264_PRESETS, _SVTAV1_LEVELS)}
        return {**named, **{str(i): {"preset": str(i)} for i in range(14)}}
    return {}


def preset_problem(codec: str, preset: str) -> str | None:
    """Why setting ``preset`` cannot go with encoder ``codec`` (``auto``: any that the container may choose), or ``None``."""
    if preset == "auto":
        return None
    if codec == "auto":
        if preset in X264_PRESETS:
            return None
        return f"setting preset {preset!r} must be auto or an x264 speed preset with codec auto ({', '.join(X264_PRESETS)})"
    table = presets(codec)
    if not table:
        return f"setting preset {preset!r}: encoder {codec} has no speed presets; set preset = \"auto\""
    if preset not in table:
        return f"setting preset {preset!r} is not a preset of {codec}; choose one of {', '.join(table)}"
    return None


def takes_pix_fmt(codec: str, pix_fmt: str) -> bool:
    """Whether encoder ``codec`` encodes ``pix_fmt`` (an encoder that lists no formats takes any)."""
    formats = av.codec.Codec(codec, "w").video_formats
    return not formats or pix_fmt in {f.name for f in formats}


def for_output(settings: EncodeSettings, suffix: str) -> EncodeSettings:
    """``settings`` for an output file of extension ``suffix``: ``auto`` resolved to the encoder that container gets
    (``AUTO_CODECS``, else NVENC H.264 on a GPU that has it, else libx264), B-frames off where it keeps decode order
    only. Other encoders are kept as they are named (``check_encodable`` says when a container cannot hold one)."""
    suffix = suffix.lower()
    codec = settings.codec
    if codec == "auto":
        h264 = "h264_nvenc" if settings.gpu and nvenc_works() else "libx264"
        candidates = AUTO_CODECS.get(suffix, (h264,))
        if candidates[-1] not in av.codecs_available:  # check_encodable names the missing encoder
            return dataclasses.replace(settings, codec=candidates[-1])
        codec = next((c for c in candidates if takes_pix_fmt(c, settings.pix_fmt)), candidates[-1])
        if not takes_pix_fmt(codec, settings.pix_fmt):  # the container's own encoder, in a format it takes (GIF: rgb8)
            settings = dataclasses.replace(settings, pix_fmt=av.codec.Codec(codec, "w").video_formats[0].name)
    return dataclasses.replace(settings, codec=codec, b_frames=settings.b_frames and suffix not in DECODE_ORDER_ONLY)


def codec_time_base(codec: str, time_base: Fraction, rate: Fraction | None) -> Fraction:
    """The clock encoder ``codec`` counts in: the source's ``time_base``, except for MPEG-4 Part 2, whose 16-bit
    clock takes at most 1/65535 (MPEG-TS's 1/90000 is refused), which then counts frames of the average ``rate``,
    and MPEG-1 and MPEG-2 video, which count frames of the average ``rate``."""
    if codec in ("mpeg1video", "mpeg2video"):
        return 1 / (rate or Fraction(25))
    if codec == "mpeg4" and time_base.denominator > 65535:
        return (1 / (rate or Fraction(25))).limit_denominator(65535)
    return time_base


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
    """FFmpeg options of a resolved encoder (not ``auto``): its constant quality and its speed preset.

    With ``preset = "auto"`` an encoder that has presets gets its ``medium``; one without presets gets none (the
    checks of ``Settings`` refuse a named preset for it, unless ``codec = "auto"`` chose it).
    """
    codec, crf = settings.codec, settings.crf
    table = presets(codec)
    speed = table.get("medium" if settings.preset == "auto" else settings.preset, {})
    if codec == "libx265":  # x265 prints its banner and settings at INFO to stderr, --quiet or not
        return {"crf": str(crf), "x265-params": "log-level=error", **speed}
    if codec == "libsvtav1":
        # SVT-AV1 logs straight to stderr at the level its SVT_LOG variable names (read when an encoder opens;
        # FFmpeg has no option for it): errors only (its warnings are about its own tuning), unless the user's environment says otherwise.
        os.environ.setdefault("SVT_LOG", "1")
        return {"crf": str(crf), **speed}
    if codec in _X264_LIKE:
        return {"crf": str(crf), **speed}
    if codec == "libvpx-vp9":  # constant quality needs the bit rate at 0
        return {"crf": str(crf), "b": "0", "row-mt": "1", **speed}
    if codec in _NVENC:  # -cq is NVENC's CRF
        return {"rc": "vbr", "cq": str(crf), "b": "0", **speed}
    if codec in _QSCALE:
        return {"flags": "+qscale", "global_quality": str(min(31, max(1, round(crf / 6))) * _FF_QP2LAMBDA)}
    return {}
