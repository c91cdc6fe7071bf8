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
import stat
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import InputError

IMAGE_SUFFIXES = (".dpx", ".exr", ".png", ".tif", ".tiff")  # what FFmpeg's image2 reads and writes here, verified
DEFAULT_RATE = Fraction(25)  # FFmpeg image2's own default, for a sequence given without --fps
# Measured through the render (3 frames into MP4, MOV, MKV and PNG frames): 1/10000 to 1000 fps come out frame for
# frame everywhere; at 1/1000000 MP4 and MOV refuse the time base, above 1000 Matroska's millisecond clock gives two
# frames one time, and at 10000 MP4 and MOV hold no decodable frame. 1/1000 (a frame every 16 2/3 minutes) is ample.
MIN_RATE, MAX_RATE = Fraction(1, 1000), Fraction(1000)
NTSC_RATES = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120, 240))  # 23.976, 29.97, ..., 239.76
MAX_NUMBER = 2**31 - 2  # the largest frame number FFmpeg's image2 reads (measured: one more is "No such file")
_AV_INT = 2**31 - 1  # FFmpeg keeps a rate as a fraction of two 32-bit ints, and rounds any larger one
_TOKEN = re.compile(r"%%|%(0\d+)?d|%")  # printf's, as image2 reads a name: a literal %, the number, or a stray %
_NUMBERED = re.compile(r"^(.*?)(\d+)([^\d]*)$")  # the last run of digits in a file name is its frame number
_NTSC_TOLERANCE = Fraction(1, 200)  # 23.976 and 23.98 both mean 24000/1001


def parse_rate(text: str | float | Fraction) -> Fraction:
    """A frame rate as given on the command line, exact: ``24``, ``24000/1001``, or a decimal, from ``MIN_RATE``
    (1/1000) to ``MAX_RATE`` (1000) frames per second.

    A decimal within 0.005 of an NTSC rate (``NTSC_RATES``: 24, 30, 48, 60, 120 or 240 times 1000/1001) is that
    rate (``23.976`` and ``23.98`` are ``24000/1001``, ``29.97`` is ``30000/1001``); other decimals are taken as
    written (``16.5`` is ``33/2``, ``0.004`` is ``1/250``). Raises ``InputError`` for anything else: not a number,
    out of range, or more digits than FFmpeg keeps (a numerator or denominator of 2**31 or more).
    """
    written = str(text).strip()
    exponent = re.fullmatch(r"[^eE]*[eE][+-]?0*(\d+)", written)
    if exponent and (len(exponent.group(1)) > 2 or int(exponent.group(1)) > 30):  # Fraction("1e999999999") would work out a billion digits
        raise InputError(f"--fps {text}: a frame rate must be between 1/1000 and 1000 frames per second")
    try:
        rate = Fraction(written)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise InputError(f"--fps {text}: not a frame rate; give e.g. 24, 18, 24000/1001 or 23.976") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(f"--fps {text}: a frame rate must be between 1/1000 and 1000 frames per second")
    if "." in written and rate.denominator != 1:
        ntsc = min(NTSC_RATES, key=lambda candidate: abs(candidate - rate))
        if abs(rate - ntsc) < _NTSC_TOLERANCE:
            return ntsc
    if rate.numerator > _AV_INT or rate.denominator > _AV_INT:
        raise InputError(f"--fps {text}: more digits than FFmpeg keeps exactly; round it, or give a fraction such as 24000/1001")
    return rate


def is_pattern(path: str | Path) -> bool:
    """Whether ``path`` names numbered image files (``frame_%06d.dpx``): one ``%d``/``%0Nd`` in an image file name,
    where ``%%`` stands for a ``%`` of the files' names (``100%%_%04d.png`` names ``100%_0001.png``)."""
    path = Path(path)
    tokens = [token.group(0) for token in _TOKEN.finditer(path.name)]
    return path.suffix.lower() in IMAGE_SUFFIXES and "%" not in tokens and sum(t != "%%" for t in tokens) == 1


def pattern_problem(path: str | Path) -> str | None:
    """Why ``path``, an image file name with a ``%`` that names no file, is not a pattern (``is_pattern``), else ``None``."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES or "%" not in path.name or is_pattern(path) or path.exists():
        return None
    return f"{path}: not a frame pattern; write one %d or %0Nd for the frame number, and a % of the files' names as %%"


def numbered(pattern: Path, number: int) -> Path:
    """The file ``pattern`` names for frame ``number`` (``frame_%06d.dpx``, 7 -> ``frame_000007.dpx``)."""
    return pattern.with_name(_TOKEN.sub(lambda spec: spec.group(0) % number if spec.group(0) != "%%" else "%", pattern.name))


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

    @property
    def name(self) -> str:
        """The files' pattern without its folder (``frame_%06d.dpx``), as a film file's ``Path.name``."""
        return self.pattern.name

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

    def names_a_frame(self, path: str | Path) -> bool:
        """Whether writing ``path`` would write a frame of this film: a file of its folder (directly or through a
        link) that its pattern numbers, whatever the number (a new one would join the film at the next read)."""
        prefix, width, suffix = _parts(self.pattern.name)
        folder = self.pattern.parent.resolve()
        for target in (Path(path).absolute(), Path(path).resolve()):
            digits = _digits(target.name, prefix, suffix)
            if digits is not None and _padded(digits, width) and target.parent.resolve() == folder:
                return True
        return False

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
    is ``DEFAULT_RATE``. Raises ``InputError`` (one line naming the path or the frame's file) when nothing
    matches; when the folder holds several patterns, or one numbering in two paddings (``f_1.png`` beside
    ``f_0004.png``); when numbers are missing between the first and the last frame or run past ``MAX_NUMBER``;
    and when a frame is not a non-empty regular file it may read (see ``check_frame_file``).
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
    if numbers[-1] > MAX_NUMBER:
        last = numbered(pattern, numbers[-1])
        raise InputError(f"{last}: frame number {numbers[-1]} is past {MAX_NUMBER}, the largest FFmpeg reads; renumber the frames (e.g. from 1)")
    for number in numbers:
        check_frame_file(numbered(pattern, number))
    return FrameSequence(pattern, numbers[0], len(numbers), rate or DEFAULT_RATE)


def check_frame_file(path: Path) -> None:
    """``InputError`` naming ``path`` unless it is a non-empty regular file that can be read (a link is followed).

    FFmpeg's image reader ends the film at an empty file without a word (``/dev/zero`` counts as empty), and
    waits forever on a pipe; so each frame is checked before anything is read.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); replace or rescan this frame") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: is a folder, not an image file; every frame must be an image file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: is not a regular file (a device, pipe or socket); every frame must be an image file")
    if info.st_size == 0:
        raise InputError(f"{path}: is empty (0 bytes); rescan this frame or fill it with a copy of its neighbour")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot be read (permission denied)")


def _numbers(pattern: Path) -> list[int]:
    """The sorted frame numbers of the files in ``pattern``'s folder that the pattern names.

    ``InputError`` when the folder also numbers files of the same name with another padding (``f_1.png`` beside
    ``f_%04d.png``'s ``f_0004.png``): which of them make the film would be a guess.
    """
    prefix, width, suffix = _parts(pattern.name)
    numbers, others = [], []
    for entry in os.scandir(pattern.parent):
        digits = _digits(entry.name, prefix, suffix)
        if digits is not None and _padded(digits, width):
            numbers.append(int(digits))
        elif digits is not None:
            others.append(digits)
    if numbers and others:
        other = min(others, key=lambda digits: (len(digits), digits))
        raise InputError(
            f"{pattern.parent}: holds frames of two paddings, {pattern.name} and {_padding(prefix, other, suffix)} (e.g. "
            f"{prefix}{other}{suffix} and {numbered(pattern, min(numbers)).name}); rename them to one padding"
        )
    return sorted(numbers)


def _parts(name: str) -> tuple[str, int, str]:
    """A pattern's file name as (what comes before the number, its width, what comes after), as the files' names
    spell them: ``f_%04d.png`` -> ``("f_", 4, ".png")``, ``5%%_%d.png`` -> ``("5%_", 0, ".png")``; width 0 for ``%d``."""
    spec = next(token for token in _TOKEN.finditer(name) if token.group(0) != "%%")
    return name[: spec.start()].replace("%%", "%"), int(spec.group(1) or "0"), name[spec.end() :].replace("%%", "%")


def _digits(name: str, prefix: str, suffix: str) -> str | None:
    """The frame number's digits of a file ``name`` numbered between ``prefix`` and ``suffix``, else ``None``."""
    if not (name.startswith(prefix) and name.endswith(suffix)) or len(name) <= len(prefix) + len(suffix):
        return None
    digits = name[len(prefix) : len(name) - len(suffix)]
    return digits if digits.isdigit() and digits.isascii() else None


def _padded(digits: str, width: int) -> bool:
    """Whether ``%0<width>d`` writes a number as ``digits`` (width 0: ``%d``)."""
    return len(digits) == width or (len(digits) > width and (digits == "0" or digits[0] != "0"))


def _padding(prefix: str, digits: str, suffix: str) -> str:
    """The pattern of a numbered file name's padding: ``f_``, ``0004``, ``.png`` -> ``f_%04d.png``; ``1`` -> ``f_%d.png``.
    A ``%`` of the name is written ``%%``."""
    prefix, suffix = prefix.replace("%", "%%"), suffix.replace("%", "%%")
    return f"{prefix}%0{len(digits)}d{suffix}" if len(digits) > 1 and digits[0] == "0" else f"{prefix}%d{suffix}"


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
        pattern = folder / _padding(prefix, min(padded, key=len) if padded else "1", suffix)
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
