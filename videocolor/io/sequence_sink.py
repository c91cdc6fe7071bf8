"""Writing a colorized film as numbered image files, with FFmpeg's image2 muxer through PyAV.

The frames are written into a hidden work folder, one shot segment at a time (``SequenceSink``; a segment
that fails or is interrupted deletes the frames it wrote, so a resumed run finds only whole segments), and
the finished folder is renamed into place in one step (``publish_frames``): under the final name there is
either nothing or every frame.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import OutputError
from .decode import VideoInfo, pix_fmt_bits
from .sequence import ffmpeg_pattern, numbered

ENCODERS = {".dpx": "dpx", ".exr": "exr", ".png": "png", ".tif": "tiff", ".tiff": "tiff"}


def output_pix_fmt(pattern: Path, info: VideoInfo) -> str:
    """The pixel format a sequence of ``pattern``'s type gets: the source's own when its encoder takes it (10-bit DPX
    stays 10-bit), else the encoder's deepest RGB format for a source of more than 8 bits, else its shallowest.

    Only RGB formats without alpha; ``OutputError`` when FFmpeg has no encoder for the file type.
    """
    formats = []
    if pattern.suffix.lower() in ENCODERS:
        try:
            formats = av.Codec(ENCODERS[pattern.suffix.lower()], "w").video_formats or []
        except ValueError:  # av.codec.UnknownCodecError: this FFmpeg build lacks the encoder
            pass
    rgb = [f.name for f in formats if f.is_rgb and len(f.components) == 3]
    if not rgb:
        raise OutputError(f"{pattern}: FFmpeg here cannot write {pattern.suffix} images; use .png, .tif or .dpx")
    if info.pix_fmt in rgb:
        return info.pix_fmt
    depth = {name: pix_fmt_bits(name) for name in rgb}
    return max(rgb, key=depth.get) if info.high_bit_depth else min(rgb, key=depth.get)


class SequenceSink:
    """Encodes RGB frames as numbered image files in ``folder``: the first is numbered ``first_number``.

    Call ``write`` for each frame in order, then ``finish``, or ``abort`` (deletes the files written).
    """

    def __init__(self, folder: Path, name: str, first_number: int, info: VideoInfo, pix_fmt: str) -> None:
        self.pattern = folder / name
        self.first_number = first_number
        self.written = 0
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.container = av.open(ffmpeg_pattern(self.pattern), "w", format="image2", options={"start_number": str(first_number)})
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"{self.pattern}: cannot write frames here ({exc})") from None
        self.stream = self.container.add_stream(ENCODERS[self.pattern.suffix.lower()], rate=info.average_rate or Fraction(25))
        self.stream.width, self.stream.height, self.stream.pix_fmt = info.width, info.height, pix_fmt

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """Encode one ``(H, W, 3)`` RGB frame (uint8, or uint16 for a deep output) as the next numbered file."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le" if rgb.dtype == np.uint16 else "rgb24")
        frame = frame.reformat(format=self.stream.pix_fmt)
        frame.pts = self.written  # the muxer numbers files by count; the time is the frame's place in the segment
        self.written += 1
        self.container.mux(self.stream.encode(frame))

    def finish(self) -> Path:
        try:
            self.container.mux(self.stream.encode(None))
            self.container.close()
        except BaseException:
            self.abort()
            raise
        return self.pattern

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # a half-written frame may fail to close; the files are deleted anyway
            pass
        for index in range(self.written):
            numbered(self.pattern, self.first_number + index).unlink(missing_ok=True)


def publish_frames(frames: Path, output: Path) -> int:
    """Rename the folder ``frames`` to ``output``'s folder in one step; returns the frames in it.

    ``OutputError`` when that folder exists by now (it is never merged into or replaced).
    """
    folder = output.parent
    count = sum(1 for _ in os.scandir(frames))
    if folder.exists():
        raise OutputError(f"{folder}: already exists; the colorized frames are kept in {frames}")
    try:
        os.rename(frames, folder)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot move the colorized frames there ({exc.strerror or exc}); they are kept in {frames}") from None
    return count
