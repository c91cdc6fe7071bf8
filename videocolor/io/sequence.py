"""Film scans as numbered image files (DPX, TIFF, PNG, EXR): found, checked and read as one video stream.

FFmpeg's image2 demuxer, through PyAV, reads the files: frame ``i`` of a sequence (the file numbered
``start + i``) has pts ``i`` in the time base ``1 / rate``. Before anything is read, the numbering is checked:
a missing number is a missing frame of the film, so a sequence with gaps is refused with the missing numbers
(fill or rescan them), never closed up, which would shift every later frame against the sound.

>>> sequence = find_sequence("scans/", parse_rate("24000/1001"))  # doctest: +SKIP
>>> str(sequence), sequence.start, sequence.count                  # doctest: +SKIP
('scans/frame_%06d.dpx', 86400, 1440)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import InputError

IMAGE_SUFFIXES = (".dpx", ".exr", ".png", ".tif", ".tiff")  # what FFmpeg's image2 reads and writes here, verified
DEFAULT_RATE = Fraction(25)  # FFmpeg image2's own default, for a sequence given without --fps
_PATTERN = re.compile(r"%(0\d+)?d")
_NUMBERED = re.compile(r"^(.*?)(\d+)([^\d]*)$")  # the last run of digits in a file name is its frame number
_NTSC_TOLERANCE = Fraction(1, 200)  # 23.976 and 23.98 both mean 24000/1001


def parse_rate(text: str | float | Fraction) -> Fraction:
    """A frame rate as given on the command line, exact: ``24``, ``24000/1001``, or a decimal.

    A decimal within 0.005 of an NTSC rate ``N * 1000/1001`` is that rate (``23.976`` and ``23.98`` are
    ``24000/1001``, ``29.97`` is ``30000/1001``); other decimals are taken as written (``16.5`` is ``33/2``).
    Raises ``InputError`` for anything that is not a positive number.
    """
    try:
        rate = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--fps {text}: not a frame rate; give e.g. 24, 18, 24000/1001 or 23.976") from None
    if rate <= 0 or rate > 1000:
        raise InputError(f"--fps {text}: a frame rate must be above 0 and at most 1000")
    if "." in str(text) and rate.denominator != 1:
        ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
        if abs(rate - ntsc) < _NTSC_TOLERANCE:
            return ntsc
    return rate


def is_pattern(path: str | Path) -> bool:
    """Whether ``path`` names numbered image files (``frame_%06d.dpx``): a ``%d``/``%0Nd`` in an image file name."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and len(_PATTERN.findall(path.name)) == 1


def numbered(pattern: Path, number: int) -> Path:
    """The file ``pattern`` names for frame ``number`` (``frame_%06d.dpx``, 7 -> ``frame_000007.dpx``)."""
    return pattern.with_name(_PATTERN.sub(lambda spec: spec.group(0) % number, pattern.name))


def ffmpeg_pattern(pattern: Path) -> str:
    """``pattern`` for FFmpeg's image2: a ``%`` in the folder's path is escaped, so only the file name's counts."""
    return os.path.join(str(pattern.parent).replace("%", "%%"), pattern.name)


@dataclass(frozen=True)
class FrameSequence:
    """Numbered image files read as one film.

    Attributes:
        pattern: the files, printf style (``scans/frame_%06d.dpx``).
        start: the number of the first frame.
        count: how many frames (numbered ``start`` to ``start + count - 1``, none missing).
        rate: frames per second (exact); frame ``i`` is at ``i / rate`` seconds.
    """

    pattern: Path
    start: int
    count: int
    rate: Fraction

    def __str__(self) -> str:
        return str(self.pattern)

    def file(self, index: int) -> Path:
        """The file of frame ``index`` (0-based), i.e. the one numbered ``start + index``."""
        return numbered(self.pattern, self.start + index)

    def open(self) -> av.container.InputContainer:
        """The sequence as a container of one video stream (FFmpeg's image2 demuxer); ``InputError`` if unreadable."""
        options = {"framerate": str(self.rate), "start_number": str(self.start), "pattern_type": "sequence"}
        try:
            return av.open(ffmpeg_pattern(self.pattern), format="image2", options=options)
        except av.FFmpegError as exc:
            raise InputError(f"{self.file(0)}: not an image FFmpeg can read ({exc.strerror or exc})") from None

    def absolute(self) -> FrameSequence:
        return FrameSequence(self.pattern.absolute(), self.start, self.count, self.rate)

    def identity(self) -> dict[str, Any]:
        """What changes when a frame is replaced or edited: the files' count, total size and latest change."""
        stats = [self.file(i).stat() for i in range(self.count)]
        return {"input": str(self.pattern.resolve()), "start": self.start, "count": self.count, "rate": str(self.rate),
                "size": sum(s.st_size for s in stats), "mtime_ns": max(s.st_mtime_ns for s in stats)}

    def to_dict(self) -> dict[str, Any]:
        return {"pattern": str(self.pattern), "start": self.start, "count": self.count, "rate": str(self.rate)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameSequence:
        return cls(Path(data["pattern"]), int(data["start"]), int(data["count"]), Fraction(data["rate"]))


Source = Path | FrameSequence  # a film: a video file, or a sequence of numbered image files


def find_sequence(path: str | Path, rate: Fraction | None) -> FrameSequence:
    """The sequence a pattern (``scans/frame_%06d.dpx``) or a folder of numbered frames (``scans/``) names.

    A folder must hold exactly one numbered pattern of image files (other files are ignored). ``rate`` ``None``
    is ``DEFAULT_RATE``. Raises ``InputError`` (one line naming the path) when nothing matches, when the folder
    holds several patterns, or when numbers are missing between the first and the last frame.
    """
    path = Path(path)
    if path.is_dir():
        pattern, numbers = _only_pattern(path)
    else:
        if not path.parent.is_dir():
            raise InputError(f"{path}: folder {path.parent} not found")
        numbers = _numbers(path)
        if not numbers:
            raise InputError(f"{path}: no file matches this pattern")
        pattern = path
    missing = _missing(numbers)
    if missing:
        raise InputError(f"{pattern}: frame(s) {missing} missing from the numbering; rescan them or fill each gap (e.g. with a copy of its neighbour)")
    return FrameSequence(pattern, numbers[0], len(numbers), rate or DEFAULT_RATE)


def _numbers(pattern: Path) -> list[int]:
    """The sorted frame numbers of the files in ``pattern``'s folder that the pattern names."""
    spec = _PATTERN.search(pattern.name)
    width = int(spec.group(1) or "0")
    prefix, suffix = pattern.name[: spec.start()], pattern.name[spec.end() :]
    numbers = []
    for entry in os.scandir(pattern.parent):
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffix)) or len(name) <= len(prefix) + len(suffix):
            continue
        digits = name[len(prefix) : len(name) - len(suffix)]
        if digits.isdigit() and digits.isascii() and (len(digits) == width or (len(digits) > width and (digits == "0" or digits[0] != "0"))):
            numbers.append(int(digits))
    return sorted(numbers)


def _only_pattern(folder: Path) -> tuple[Path, list[int]]:
    """The one numbered pattern of image files in ``folder`` and its numbers; ``InputError`` for none or several."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in os.scandir(folder):
        match = _NUMBERED.match(entry.name)
        if match and not entry.name.startswith(".") and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
            groups.setdefault((match.group(1), match.group(3)), []).append(match.group(2))
    patterns = {}
    for (prefix, suffix), digits in groups.items():
        padded = [d for d in digits if len(d) > 1 and d[0] == "0"]  # 0001..9999 then 10000: %04d
        pattern = folder / (f"{prefix}%0{min(map(len, padded))}d{suffix}" if padded else f"{prefix}%d{suffix}")
        patterns[pattern] = _numbers(pattern)
    patterns = {p: n for p, n in patterns.items() if n}
    if not patterns:
        raise InputError(f"{folder}: holds no numbered image files ({', '.join(IMAGE_SUFFIXES)})")
    if len(patterns) > 1:
        names = ", ".join(sorted(p.name for p in patterns))
        raise InputError(f"{folder}: holds several numbered sequences ({names}); give one as a pattern, e.g. {sorted(patterns)[0]}")
    return next(iter(patterns.items()))


def _missing(numbers: list[int]) -> str:
    """The numbers absent between the first and the last of sorted ``numbers``, as ranges (``"105, 230-232"``)."""
    gaps = [(a + 1, b - 1) for a, b in zip(numbers, numbers[1:]) if b - a > 1]
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps)
