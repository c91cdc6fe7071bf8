"""Cuts from an editing application instead of detection: an EDL, OTIO or FCP XML timeline, or a plain list.

OpenTimelineIO reads the timelines, through its adapters (``FORMATS``: CMX 3600 EDL, FCP 7 XML, FCP X XML and its
own JSON). A timeline's cuts are where its items (clips, and gaps such as black leader) start on the record side,
its one video track: the record timecodes of a conform of this film, counted from the track's first event, or
from the film's own start timecode when the track starts later than it, inside the film. A timeline that does not
fit the film (another frame rate, another length) is refused with one line saying how it differs.

A plain text list (any other extension) holds one cut per line, the first frame of a new shot: a frame number
(``240``), a SMPTE timecode of the film's source clock (``01:00:10:00``, ``;`` for drop frame: the film's start
timecode, when it has one, is frame 0), or seconds from the start (``10.5``, ``00:00:10.500``). ``#`` starts a comment.

>>> cuts = read_cuts("conform.edl", frame_rate=Fraction(24000, 1001), num_frames=2400, timecode="01:00:00:00")  # doctest: +SKIP
>>> cuts[:3]                                                                                                      # doctest: +SKIP
[96, 311, 702]
"""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from ..errors import InputError, one_line
from ..io.decode import main_video_stream, open_video
from ..io.files import require_file
from ..io.sequence import FrameSequence
from ..io.timeline import read_timeline, source_timecode
from ..timecode import parse_timecode

log = logging.getLogger("videocolor")

FORMATS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml", ".fcpxml": "fcpx_xml"}  # extension: OTIO adapter
RATE_TOLERANCE = 0.005  # fps: 23.976 (three decimals, as XML timelines write it) is 24000/1001, 24 is not
_SMPTE = re.compile(r"^\d{1,2}:\d{2}:\d{2}[:;]\d{2}$")


def fps_text(rate: Fraction | float) -> str:
    """A frame rate for people: ``25``, ``23.976``, ``29.97``."""
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def start_time(timecode: str | None, frame_rate: Fraction) -> otio.opentime.RationalTime:
    """The film's source timecode start as a ``RationalTime`` in frames at ``frame_rate``: 0 without one, and 0 with a
    warning when the tag does not read as a timecode at that rate (the film's frames are still right)."""
    if timecode:
        try:
            return otio.opentime.from_timecode(timecode, float(frame_rate))
        except Exception as exc:  # OTIO raises ValueError, or its own error types for a drop-frame mismatch
            rate = fps_text(frame_rate)
            log.warning("the film's timecode tag %r does not read at %s fps (%s); timecodes count from 00:00:00:00", timecode, rate, one_line(exc))
    return otio.opentime.RationalTime(0, float(frame_rate))


def read_cuts(path: str | Path, *, frame_rate: Fraction, num_frames: int, timecode: str | None = None) -> list[int]:
    """The first frame of every shot but the first, ascending, each in ``1 .. num_frames - 1``.

    ``path``: a timeline (``FORMATS``) or a plain text list; ``frame_rate``, ``num_frames`` and ``timecode`` (its
    source timecode start) describe the film. Raises ``InputError`` with one line naming ``path`` and the problem.
    """
    path = require_file(path, "a cut list")
    adapter = FORMATS.get(path.suffix.lower())
    cuts = _timeline_cuts(path, adapter, frame_rate, num_frames, timecode) if adapter else _listed_cuts(path, frame_rate, num_frames, timecode)
    return sorted(set(cuts) - {0})


def cuts_in_folder(folder: str | Path, film: str | Path) -> Path | None:
    """The cut list for ``film`` in ``folder``: the one file named ``<film stem>`` with a timeline's extension
    (``FORMATS``) or ``.txt``; ``None`` when there is none, ``InputError`` when there are several."""
    found = [p for ext in (*FORMATS, ".txt") if (p := Path(folder) / f"{Path(film).stem}{ext}").is_file()]
    if len(found) > 1:
        raise InputError(f"{film}: several cut lists in {folder} ({', '.join(p.name for p in found)}); keep one")
    return found[0] if found else None


def check_cuts(film: str | Path | FrameSequence, path: str | Path) -> list[int]:
    """``read_cuts`` of ``path`` against ``film`` (a video file or a ``FrameSequence``), checked before any work starts:
    a demux-only pass counts the film's frames."""
    if isinstance(film, FrameSequence):
        return read_cuts(path, frame_rate=film.rate, num_frames=film.count)
    with open_video(film) as container:
        stream = main_video_stream(container, Path(film))
        timeline = read_timeline(Path(film), container, stream)
        timecode = source_timecode(container, stream)
    return read_cuts(path, frame_rate=timeline.rate, num_frames=len(timeline.pts), timecode=timecode)


def _timeline_cuts(path: Path, adapter: str, frame_rate: Fraction, num_frames: int, timecode: str | None) -> list[int]:
    try:
        extra = {"rate": float(frame_rate)} if adapter == "cmx_3600" else {}  # an EDL does not say its rate
        timeline = otio.adapters.read_from_file(str(path), adapter_name=adapter, **extra)
    except Exception as exc:  # each adapter raises its own errors (XML, JSON, EDL syntax) on a damaged file
        raise InputError(f"{path}: not a readable {adapter} timeline ({one_line(exc)})") from None
    tracks = [t for t in timeline.video_tracks() if t.enabled] if isinstance(timeline, otio.schema.Timeline) else []
    if not tracks or not any(isinstance(item, otio.schema.Clip) for item in tracks[0]):
        raise InputError(f"{path}: the timeline holds no clips on a video track")
    track = tracks[0]
    starts, end = [], 0
    for index, item in enumerate(track):
        if isinstance(item, otio.schema.Transition):
            continue  # a dissolve overlaps its neighbours; the cut is where the incoming item starts
        placed = track.range_of_child_at_index(index)
        starts.append(_frames(path, placed.start_time, frame_rate))
        end = _frames(path, placed.end_time_exclusive(), frame_rate)
    offset = _record_offset(timeline, track, frame_rate, num_frames, timecode)
    if offset + end != num_frames:
        start = f" from frame {offset}" if offset else ""
        raise InputError(
            f"{path}: the timeline is {end} frames long{start}, the film {num_frames} frames at {fps_text(frame_rate)} fps; "
            "it must cover the film exactly"
        )
    return [offset] + [offset + s for s in starts]


def _record_offset(timeline: otio.schema.Timeline, track: otio.schema.Track, frame_rate: Fraction, num_frames: int, timecode: str | None) -> int:
    """Frames between the film's start timecode and the track's first event, when that lies inside the film; else 0.

    The record start is the timeline's global start time (OTIO and XML timelines) or the first event's record in
    (an EDL: the CMX 3600 adapter puts it, negated, as the track's start).
    """
    if timecode is None:
        return 0
    record = timeline.global_start_time
    if record is None and track.source_range is not None:
        record = otio.opentime.RationalTime(0, track.source_range.start_time.rate) - track.source_range.start_time
    if record is None:
        return 0
    offset = round(record.value_rescaled_to(float(frame_rate))) - round(start_time(timecode, frame_rate).value)
    return offset if 0 < offset < num_frames else 0


def _frames(path: Path, time: otio.opentime.RationalTime, frame_rate: Fraction) -> int:
    """``time`` as a whole number of frames at ``frame_rate``; ``InputError`` when it runs at another rate."""
    if abs(time.rate - float(frame_rate)) > RATE_TOLERANCE:
        raise InputError(f"{path}: the timeline runs at {fps_text(time.rate)} fps, the film at {fps_text(frame_rate)} fps")
    return round(time.value_rescaled_to(float(frame_rate)))


def _listed_cuts(path: Path, frame_rate: Fraction, num_frames: int, timecode: str | None) -> list[int]:
    """The cuts of a plain text list. Read here by hand: OpenTimelineIO has no adapter for a bare list of cuts (it is
    no timeline), but its ``from_timecode`` reads the SMPTE timecodes, drop frame included."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable cut list ({one_line(exc)})") from None
    start = round(start_time(timecode, frame_rate).value)
    cuts = []
    for number, line in enumerate(lines, 1):
        for token in line.split("#", 1)[0].replace(",", " ").split():
            cut = listed_frame(token, frame_rate, start)
            if cut is None:
                raise InputError(f"{path}: line {number}: {token!r} is not a frame number, a timecode (HH:MM:SS:FF) or seconds")
            if not 0 <= cut < num_frames:
                where = f"before the film's start timecode {timecode}" if cut < 0 else f"past the film's last frame {num_frames - 1}"
                raise InputError(f"{path}: line {number}: {token} is frame {cut}, {where}")
            cuts.append(cut)
    if not cuts:
        raise InputError(f"{path}: holds no cuts (one frame number or timecode a line; 0 alone for a single shot)")
    return cuts


def listed_frame(token: str, frame_rate: Fraction, start: int) -> int | None:
    """The film frame (from 0) ``token`` names, or ``None`` when it names none: a frame number, a SMPTE timecode
    ``HH:MM:SS:FF`` (``;`` for drop frame) on the film's timecode starting at frame ``start``, or a time in seconds
    (``HH:MM:SS.mmm`` or ``SS.mmm``) from the film's start, at ``frame_rate``. What a cut list's entries are."""
    if token.isdigit():
        return int(token)
    if _SMPTE.match(token):
        try:
            return round(otio.opentime.from_timecode(token, float(frame_rate)).value) - start
        except Exception:  # OTIO's own error types for a frame count past the rate, or a bad drop-frame label
            return None
    try:
        return round(parse_timecode(token) * frame_rate)
    except ValueError:
        return None
