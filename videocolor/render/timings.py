"""Where a render's time goes: seconds per stage, summed over the pipeline's threads.

The render's three threads overlap, so the stages add up to more than the wall-clock time; what tells the
bottleneck is the ``wait`` of each thread: the busiest thread is the one that waits least.

>>> times = StageTimes()
>>> with times.timing("model"):
...     pass
>>> sorted(times.seconds())[:3]
['analysis', 'compose', 'decode']
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

STAGES = (
    "analysis",  # the film's analysis pass (cuts, references), before the render
    "decode",  # demux, decode, RGB frames (the decoder thread)
    "lightness",  # Lab L at full and work resolution
    "model",  # the colorizer at the work resolution
    "temporal",  # optical flow and the blend along it
    "upsample",  # guided upsampling of chroma to full resolution
    "compose",  # L joined to chroma, Lab to the sink's pixels
    "encode",  # the sink: pixel format conversion, encoder, muxer
    "wait decode",  # the decoder thread blocked on a full queue: the model is slower
    "wait model",  # the model's thread blocked: decoding or composing is slower
    "wait encode",  # the encoder thread blocked on an empty queue: the model is slower
    "mux",  # the segments and the source's other streams joined into the output, after the render
)


class StageTimes:
    """Seconds per stage (``STAGES``) of one or more renders; safe to add to from several threads."""

    def __init__(self, seconds: Mapping[str, float] | None = None) -> None:
        self._seconds = dict.fromkeys(STAGES, 0.0)
        self._lock = threading.Lock()
        for stage, value in (seconds or {}).items():
            self.add(stage, value)

    def add(self, stage: str, seconds: float) -> None:
        if stage not in self._seconds:
            raise KeyError(f"unknown render stage {stage!r}; one of {', '.join(STAGES)}")
        with self._lock:
            self._seconds[stage] += seconds

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        """Add the wall-clock time of the ``with`` body to ``stage``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def seconds(self) -> dict[str, float]:
        """A copy: stage -> seconds, in ``STAGES`` order."""
        with self._lock:
            return dict(self._seconds)

    def merge(self, other: Mapping[str, float]) -> None:
        """Add another render's ``seconds()`` (e.g. a segment's, read back from the job state)."""
        for stage, value in other.items():
            self.add(stage, value)
