"""Cheap low-resolution read of a whole film for the analysis pass: small gray frames with exact pts.

Pixels come from decord, which decodes and scales in native code, and fall back to PyAV where decord is
missing or disagrees with FFmpeg about the frame count. Timestamps always come from PyAV: a demux-only
pass collects every video packet's pts (no decoding), sorted into presentation order, so frame ``i`` of
the analysis is frame ``i`` of the full-resolution decode and carries its exact pts. When the file's
timestamps are broken (``io.timeline``), they are rebuilt from the frame rate, with one warning, and
PyAV numbers the frames in decoder order, exactly as the render will. A frame sequence's timeline is known
without reading its files: frame ``i`` is at pts ``i`` of ``1 / rate``, and its pixels come from PyAV.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import InputError
from .decode import VideoSource, main_video_stream, open_video
from .library_logs import decord_messages
from .sequence import FrameSequence
from .timeline import Clock, Timeline, describe_gaps, missing_ranges, read_timeline, rebuilt_clock, source_timecode

log = logging.getLogger("videocolor")

ANALYSIS_WIDTH = 256
_DECORD_CHUNK = 32


class AnalysisReader:
    """Iterate over a film as ``(index, pts, gray)``: ``gray`` is uint8 ``(h, w)`` about ``width`` px wide.

    Attributes:
        path: the film.
        time_base: the video stream's time base; ``pts`` are exact ticks of it.
        frame_rate: the stream's average frame rate (exact ``Fraction``).
        pts: presentation timestamps of every frame in presentation order (from a demux-only pass).
        clock: the rebuilt clock when the file's timestamps are broken, else ``None``.
        timecode: the film's source timecode start (``io.timeline.source_timecode``), ``None`` when it has none.
        size: ``(h, w)`` of the yielded frames (even numbers, the source's display aspect).
    """

    def __init__(self, path: str | Path | FrameSequence, width: int = ANALYSIS_WIDTH, *, quiet: bool = False) -> None:
        self.path = path if isinstance(path, FrameSequence) else Path(path)
        self.quiet = quiet
        with open_video(self.path) as container:
            stream = main_video_stream(container, self.path, warn=True)
            src_w, src_h = stream.codec_context.width, stream.codec_context.height
            sar = stream.sample_aspect_ratio or Fraction(1)
            timeline = _sequence_timeline(self.path) if isinstance(self.path, FrameSequence) else read_timeline(self.path, container, stream)
            self.clock: Clock | None = rebuilt_clock(stream, timeline.rate) if timeline.rebuilt else None
            self.timecode = None if isinstance(self.path, FrameSequence) else source_timecode(container, stream)
            # decord reads FFmpeg's pick, maybe another stream, and no image sequences
            self._decord_ok = len(container.streams.video) == 1 and not isinstance(self.path, FrameSequence)
        self.time_base, self.frame_rate, self.pts = timeline.time_base, timeline.rate, timeline.pts
        if timeline.rebuilt:
            log.warning("%s: %s; timestamps rebuilt from the frame rate (%s fps)", self.path, timeline.why, _rate_text(timeline.rate))
        elif gaps := missing_ranges(timeline):
            log.warning(describe_gaps(self.path, gaps))
        if not src_w:
            raise InputError(f"{self.path}: video stream has no picture size (corrupt header?)")
        display_w = src_w * Fraction(sar)
        w = min(width, int(display_w)) // 2 * 2
        self.size = (max(2, round(w * src_h / display_w / 2) * 2), max(2, w))

    def __len__(self) -> int:
        return len(self.pts)

    def __iter__(self) -> Iterator[tuple[int, int, np.ndarray]]:
        bar = tqdm(
            total=len(self.pts), desc="analysing", unit="frame", disable=self.quiet or not sys.stderr.isatty(), leave=False
        )
        try:
            for index, (pts, gray) in enumerate(self._frames()):
                bar.update(1)
                yield index, pts, gray
        finally:
            bar.close()

    def _frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(pts, gray)`` in presentation order: decord while it can, PyAV for the rest."""
        # decord would order frames by broken pts, or read another stream than ours
        reader = self._decord_reader() if self.clock is None and self._decord_ok else None
        done = 0
        if reader is not None:
            try:
                for start in range(0, len(reader), _DECORD_CHUNK):
                    indices = list(range(start, min(start + _DECORD_CHUNK, len(reader))))
                    with decord_messages():
                        pictures = reader.get_batch(indices).asnumpy()
                    for index, rgb in zip(indices, pictures):
                        yield self.pts[index], cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
                        done += 1
                return
            except Exception as exc:  # decord gives up on damaged data; PyAV skips the bad packets
                log.debug("decord failed on %s after %d frames (%s); continuing with PyAV", self.path, done, exc)
        last = self.pts[done - 1] if done else None
        for pts, gray in self._pyav_frames():
            if last is None or pts > last:
                yield pts, gray

    def _decord_reader(self):  # -> decord.VideoReader | None
        try:
            with decord_messages():
                import decord

                decord.logging.set_level(decord.logging.QUIET)  # its own FFmpeg's messages, printed from its threads
                reader = decord.VideoReader(str(self.path), width=self.size[1], height=self.size[0], num_threads=0)
        except Exception as exc:  # decord missing or unable to open this file: PyAV reads it
            log.debug("decord cannot read %s (%s); using PyAV", self.path, exc)
            return None
        if len(reader) != len(self.pts):
            log.debug("decord counts %d frames in %s, FFmpeg %d; using PyAV", len(reader), self.path, len(self.pts))
            return None
        return reader

    def _pyav_frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """Every decodable frame as ``(pts, gray)``; undecodable packets are skipped, as in the render pass."""
        height, width = self.size
        with VideoSource(self.path, self.clock) as source:
            for pts, frame in source.timed_frames():
                yield pts, frame.reformat(width=width, height=height, format="gray").to_ndarray()


def _sequence_timeline(sequence: FrameSequence) -> Timeline:
    """Frame ``i`` at pts ``i`` in ticks of ``1 / rate`` (image2's own timestamps), without reading the files."""
    return Timeline(list(range(sequence.count)), 1 / sequence.rate, sequence.rate)


def _rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}"
