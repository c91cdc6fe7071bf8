"""Exact time: a presentation timestamp in a rational time base, like PySceneDetect's ``FrameTimecode``.

Cutting and muxing never use float seconds; seconds are only formatted for people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_TIMECODE = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")


@dataclass(frozen=True, order=True)
class Timecode:
    """A point in time: ``pts`` ticks of ``time_base`` seconds (both exact)."""

    pts: int
    time_base: Fraction

    @property
    def seconds(self) -> Fraction:
        return self.pts * self.time_base

    def __str__(self) -> str:
        return format_seconds(self.seconds)


def format_seconds(seconds: Fraction) -> str:
    """``HH:MM:SS.mmm`` of an exact number of seconds (rounded to the millisecond for display only)."""
    millis = round(Fraction(seconds) * 1000)
    sign = "-" if millis < 0 else ""
    millis = abs(millis)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def parse_timecode(text: str) -> Fraction:
    """Parse ``HH:MM:SS.mmm``, ``MM:SS.mmm`` or ``SS.mmm`` into exact seconds; raises ``ValueError``."""
    match = _TIMECODE.match(text.strip())
    if not match:
        raise ValueError(f"bad timecode {text!r}: expected HH:MM:SS.mmm")
    first, second, last = match.groups()
    parts = [p for p in (first, second) if p is not None]
    hours, minutes = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (0, int(parts[0]) if parts else 0)
    seconds = Fraction(last)
    if (parts and seconds >= 60) or (len(parts) == 2 and minutes >= 60):
        raise ValueError(f"bad timecode {text!r}: minutes and seconds must be below 60")
    return hours * 3600 + minutes * 60 + seconds
