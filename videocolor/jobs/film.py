"""One film through the segment machinery: what the API's ``colorize_video`` runs.

With one worker everything runs in this process; with more, its shot segments are rendered by that many local
worker processes (``engines.FilmEngine``: a batch's ``LocalEngine``), each with its own interpreter and share of
the cores, and the output is the same. Its state and segments live in ``.videocolor-work/<output name>/`` beside the output (an image sequence
output: beside its folder), removed once the output is written; an interrupted run continues from the
segments there when resumed.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config import Settings
from ..errors import InputError, OutputError, VideocolorError
from ..io.atomic import exclusive
from ..io.images import reference_files
from ..io.sequence import FrameSequence, Source, is_pattern
from ..models.build import resolve_model_name
from ..render.film import MIN_SEGMENT_SECONDS
from ..render.timings import StageTimes
from .engines import Engine, FilmEngine, check_workers
from .runner import Outcome, drive
from .state import State, Status

log = logging.getLogger("videocolor")

WORK_NAME = ".videocolor-work"
_LOCK_NAME = ".lock"


@dataclass(frozen=True)
class FilmResult:
    """The totals of one rendered film: frames written, corrupt packets skipped, frames left gray, segments,
    shots, the wall-clock seconds of the render, the model that colored it, and the seconds of each render
    stage (``render.timings.STAGES``) and of the analysis and mux passes, summed over the segments."""

    frames: int
    bad_packets: int
    gray_frames: int
    segments: int
    shots: int
    seconds: float
    model: str
    stage_seconds: dict[str, float]


def fingerprint(
    input: Source, settings: Settings, ref: Any = None, ref_dir: Any = None, overrides: Any = None, keyframes: Any = None, cuts: Any = None
) -> dict[str, Any]:
    """What a film's segments depend on: the input file (or frames), the references, keyframes, overrides, cuts, settings, model."""
    if isinstance(input, FrameSequence):
        source = input.identity()
    else:
        stat = input.stat()
        source = {"input": str(input.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    render = settings.replace(quiet=False).to_dict()
    pictures = reference_files(ref_dir) if ref_dir else []
    pictures += sorted(p for p in Path(keyframes).iterdir() if p.is_file()) if keyframes else []
    return {**source, "settings": render,
            "model": resolve_model_name(settings.model), "version": __version__,
            "references": [_identity(p) for p in ([Path(ref)] if ref else pictures)],
            "overrides": _identity(Path(overrides)) if overrides else None,
            "cuts": _identity(Path(cuts)) if cuts else None}


def _identity(path: Path) -> list[Any]:
    """A file's path, size and modification time: changes when the file is replaced or edited."""
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def make_job(
    input: Source, output: Path, work_dir: Path, ref: Any, ref_dir: Any, overrides: Any, settings: Settings, segment_seconds: float,
    keyframes: Any = None, cuts: Any = None,
) -> dict[str, Any]:
    """A film's job as plain JSON data: everything a worker needs to analyse, render and mux it."""
    return {
        "input": str(input), "sequence": input.to_dict() if isinstance(input, FrameSequence) else None,
        "output": str(output), "work_dir": str(work_dir), "ref": str(ref) if ref else None,
        "ref_dir": str(ref_dir) if ref_dir else None, "overrides": str(overrides) if overrides else None,
        "keyframes": str(keyframes) if keyframes else None, "cuts": str(Path(cuts).absolute()) if cuts else None,
        "settings": settings.to_dict(), "segment_seconds": segment_seconds,
    }


def work_folder(output: Path) -> Path:
    """``.videocolor-work/<output name>/`` beside ``output``; for an image sequence, beside its folder (made last)."""
    named = output.parent if is_pattern(output) else output
    return named.parent / WORK_NAME / named.name


def colorize_film(
    input: Source, output: Path, *, ref: Any, ref_dir: Any, overrides: Any, settings: Settings, resume: bool,
    segment_seconds: float = MIN_SEGMENT_SECONDS, keyframes: Any = None, cuts: Any = None, workers: int | None = None,
) -> FilmResult:
    """One film (a file or a ``FrameSequence``) through the segment machinery; ``resume`` continues an interrupted
    run. ``output``: a film file, or an image sequence's pattern in a folder that does not exist yet. ``workers``:
    processes rendering its segments (``None``: ``engines.default_workers``; 1: all in this process). Segments are
    runs of whole shots (``render.film.plan_segments``), so a film of one shot is one segment, whatever ``workers``.

    Raises what the render raised.
    """
    workers = check_workers(workers)
    input, output = input.absolute(), output.absolute()  # the work's state holds paths valid from any folder
    work_dir = work_folder(output)
    stamp = fingerprint(input, settings, ref, ref_dir, overrides, keyframes, cuts)
    job = make_job(input, output, work_dir, ref, ref_dir, overrides, settings, segment_seconds, keyframes, cuts)
    try:
        with work_lock(work_dir, output):
            if not resume and any(p.name != _LOCK_NAME for p in work_dir.iterdir()):
                log.warning("%s: discarding the unfinished work of an earlier run (pass --resume to continue it)", work_dir)
                _empty(work_dir)
            state = None
            try:
                state = State(work_dir / "state.sqlite")
                result = _run(state, input, output, job, stamp, workers)
            except BaseException:
                if state is None or not _segments_done(state):  # nothing worth resuming: no folder left behind
                    if state is not None:
                        state.remove()
                    shutil.rmtree(work_dir, ignore_errors=True)
                raise
            state.remove()
            shutil.rmtree(work_dir, ignore_errors=True)
    finally:
        remove_if_empty(work_dir.parent)
    return result


def _segments_done(state: State) -> bool:
    """Whether the state records a finished segment (``False`` too when it cannot be read)."""
    try:
        return any(s["status"] == Status.DONE for s in state.segments())
    except (VideocolorError, OSError):
        return False


def _run(state: State, input: Path, output: Path, job: dict[str, Any], stamp: dict[str, Any], workers: int) -> FilmResult:
    previous = state.films()
    if previous and json.loads(previous[0]["fingerprint"]) != stamp:
        before = json.loads(previous[0]["fingerprint"])
        if before.get("version") != stamp["version"]:  # its settings may name other knobs: none to point at
            raise InputError(f"{input}: the run to resume was made by videocolor {before.get('version', 'of another version')}, this is "
                             f"{stamp['version']}; its segments cannot be reused: drop --resume to start over")
        changed = sorted(k for k, v in stamp["settings"].items() if before["settings"].get(k) != v)
        changed += [k for k in ("references", "overrides", "cuts") if before.get(k) != stamp[k]]
        what = f"settings {', '.join(changed)}" if changed else "input file or model"
        raise InputError(f"{input}: the run to resume used other {what}; use the same, or drop --resume to start over")
    film = state.add_film(output.name, str(input), str(output), job, stamp)
    if previous and previous[0]["status"] == Status.FAILED:
        state.retry_failed()
    started = time.perf_counter()
    left = sum(s["status"] != Status.DONE for s in state.segments(film))  # a resumed run's film is analysed already
    outcome = _drive(state, film, FilmEngine(workers, left))
    segments = state.segments(film)
    if outcome is not None and outcome.status == Status.FAILED:
        done = sum(s["status"] == Status.DONE for s in segments)
        if done:
            log.warning("%s: %d segment(s) kept; run again with --resume to continue", Path(job["work_dir"]), done)
        raise outcome.exception or VideocolorError(f"{input}: {outcome.error}")
    return FilmResult(
        frames=sum(s["frames_written"] or 0 for s in segments),
        bad_packets=sum(s["bad_packets"] or 0 for s in segments),
        gray_frames=sum(s["gray_frames"] or 0 for s in segments),
        segments=len(segments),
        shots=len(json.loads(state.film(film)["analysis"])["shots"]),
        seconds=time.perf_counter() - started,
        model=stamp["model"],
        stage_seconds=_stage_seconds(state.film(film), segments),
    )


def _drive(state: State, film: int, engine: Engine) -> Outcome | None:
    """Run ``film`` on ``engine``, closed at the end (a local pool waits for the segments in flight, as a batch's
    does on Ctrl-C); what became of it."""
    try:
        return drive(state, [film], engine, quiet_errors=True).get(film)
    finally:
        engine.close()


def _stage_seconds(film: sqlite3.Row, segments: list[sqlite3.Row]) -> dict[str, float]:
    """The render's stage times summed over ``segments`` (those rendered by an earlier, resumed run too), with
    the film's analysis and mux passes."""
    times = StageTimes({"analysis": film["analyse_s"] or 0.0, "mux": film["mux_s"] or 0.0})
    for segment in segments:
        times.merge(json.loads(segment["stages"] or "{}"))
    return times.seconds()


@contextmanager
def work_lock(work_dir: Path, output: Path) -> Iterator[None]:
    """Hold ``work_dir`` (made if missing) for this process: a second run on the same output is refused
    (``io.atomic.exclusive`` on a file inside it)."""
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{work_dir}: cannot make the work folder ({exc.strerror or exc})") from None
    with exclusive(work_dir / _LOCK_NAME, f"{output}: another videocolor process is writing it (its work folder {work_dir} is locked)"):
        yield


def _empty(folder: Path) -> None:
    """Delete what ``folder`` holds except its lock file."""
    for item in folder.iterdir():
        if item.name == _LOCK_NAME:
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it holds nothing (a work folder's parent once the last film is finished)."""
    try:
        folder.rmdir()
    except OSError:
        pass
