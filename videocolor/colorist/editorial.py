"""A film's shots as a timeline for an editing application: OpenTimelineIO, CMX 3600 EDL, FCP 7 XML or FCP X XML.

One video track, one clip per shot: its exact source range (whole frames at the film's rational rate, from the
film's source timecode start when it has one), a green marker at each of the shot's keyframes (the analysis'
suggestions) and a red one at each of a colorist's colored keyframes, and the shot's reference,
score and candidates as the clip's ``videocolor`` metadata. OpenTimelineIO's adapters write each format; what a
format cannot hold is lost there, not here (an EDL keeps the clip names and markers as comments, no metadata).
``analysis.cuts.read_cuts`` reads any of them back, exact to the frame.

>>> analysis = analyse("film.mov", ref_dir="refs/")          # doctest: +SKIP
>>> export_timeline("film.mov", analysis, "shots.otio")      # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from ..analysis.cuts import FORMATS, fps_text, start_time
from ..analysis.film import Analysis
from ..errors import OutputError
from ..io.atomic import write_atomic
from ..io.sequence import FrameSequence

_EMPTY_FRAME_DURATION = 'frameDuration=""'


def check_timeline_output(path: str | Path) -> Path:
    """``path`` as a ``Path`` when its extension names a timeline format (``FORMATS``), else an ``OutputError``."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise OutputError(f"{path}: cannot write a timeline as {path.suffix or 'a file without an extension'}; use {', '.join(FORMATS)}")
    return path


def build_timeline(film: str | Path | FrameSequence, analysis: Analysis) -> otio.schema.Timeline:
    """The OpenTimelineIO timeline of ``analysis``'s shots of ``film`` (see the module's docstring)."""
    rate = float(analysis.frame_rate)
    start = start_time(analysis.timecode, analysis.frame_rate)
    media = Path(film.pattern if isinstance(film, FrameSequence) else film).absolute()
    available = otio.opentime.TimeRange(start, otio.opentime.RationalTime(analysis.num_frames, rate))
    timeline = otio.schema.Timeline(name=media.stem, global_start_time=start)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for shot, choice in zip(analysis.shots, analysis.choices):
        source = otio.opentime.TimeRange(start + otio.opentime.RationalTime(shot.start_frame, rate), otio.opentime.RationalTime(shot.num_frames, rate))
        name = choice.path.name if choice.path else "gray"
        clip = otio.schema.Clip(
            name=f"shot {shot.index} {name}",
            media_reference=otio.schema.ExternalReference(target_url=media.as_uri(), available_range=available),
            source_range=source,
        )
        clip.metadata["videocolor"] = {
            "shot": shot.index,
            "start_frame": shot.start_frame,
            "end_frame": shot.end_frame,
            "time_base": str(analysis.time_base),
            "start_pts": shot.start.pts,
            "end_pts": shot.end.pts,
            "reference": str(choice.path) if choice.path else None,
            "score": choice.score,
            "source": choice.source,
            "fused": [str(p) for p in choice.fused],
            "candidates": [{"reference": str(p), "score": s} for p, s in choice.candidates],
        }
        marks = [(f, "keyframe", otio.schema.MarkerColor.GREEN) for f in analysis.keyframes.get(shot.index, [])]
        for _, pts in choice.keyframes if choice.source == "keyframe" else ():  # a colorist's colored keyframes, by their pts
            frame = shot.start_frame + round((pts - shot.start.pts) * analysis.time_base * analysis.frame_rate)
            marks.append((min(max(frame, shot.start_frame), shot.end_frame), "colored keyframe", otio.schema.MarkerColor.RED))
        for frame, kind, color in marks:
            marker = otio.schema.Marker(
                name=f"{kind} {frame}",
                marked_range=otio.opentime.TimeRange(start + otio.opentime.RationalTime(frame, rate), otio.opentime.RationalTime(0, rate)),
                color=color,
                metadata={"videocolor": {"frame": frame, "shot": shot.index}},
            )
            clip.markers.append(marker)
        track.append(clip)
    return timeline


def export_timeline(film: str | Path | FrameSequence, analysis: Analysis, path: str | Path) -> Path:
    """Write ``analysis``'s shots of ``film`` to ``path`` in the format its extension names (``FORMATS``), atomically.

    Raises ``OutputError`` naming ``path`` (an unknown extension, a rate the format's adapter cannot write, a
    folder that cannot be written).
    """
    path = check_timeline_output(path)
    adapter = FORMATS[path.suffix.lower()]
    rate = analysis.frame_rate
    try:
        text = otio.adapters.write_to_string(build_timeline(film, analysis), adapter)
    except Exception as exc:  # each adapter raises its own errors for what its format cannot hold
        raise OutputError(f"{path}: cannot write the timeline as {adapter} ({exc})") from None
    if adapter == "fcpx_xml" and _EMPTY_FRAME_DURATION in text:
        # The FCP X adapter (1.0.0) knows no frame duration for 23.976 or 29.97 (nor 48, ...), and reads NTSC rates
        # back as 23 and 29: fixing it by hand would mean a second FCP X reader and writer. FCP 7 XML keeps them.
        raise OutputError(f"{path}: FCP X XML cannot hold {fps_text(rate)} fps; write .xml (FCP 7), .edl or .otio")
    return write_atomic(path, text)
