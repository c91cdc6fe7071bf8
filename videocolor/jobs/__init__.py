"""Archive jobs: films cut into shot segments, rendered by any engine, resumable, tracked in SQLite.

>>> from videocolor.jobs import run_batch
>>> report = run_batch(["a.mp4", "b.mkv"], ref_dir="refs/", out_dir="colored/")   # doctest: +SKIP
>>> report.failed                                                                  # doctest: +SKIP

A batch keeps ``videocolor-jobs.sqlite`` and ``videocolor-report.json`` in the out dir and its unfinished
segments under ``.videocolor-work/``. One film from the command line keeps its state and segments in
``.videocolor-work/<output name>/`` beside the output, removed once the output is written.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import InputError, OutputError
from .engines import make_engine
from .runner import drive
from .state import State
from .work import MIN_SEGMENT_SECONDS

log = logging.getLogger("videocolor")

STATE_NAME = "videocolor-jobs.sqlite"
REPORT_NAME = "videocolor-report.json"
WORK_NAME = ".videocolor-work"
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".m4v", ".mxf", ".mpg", ".mpeg", ".ts", ".webm", ".wmv", ".flv", ".nut", ".dv"}


@dataclass
class FilmReport:
    """One film of a batch: where it went, how it ended, and what it cost."""

    input: str
    output: str
    status: str
    error: str | None = None
    frames: int | None = None
    segments: int = 0
    segments_done: int = 0
    seconds: float | None = None


@dataclass
class BatchReport:
    """Every film of a batch; ``failed`` lists the films that did not make it."""

    films: list[FilmReport] = field(default_factory=list)

    @property
    def failed(self) -> list[FilmReport]:
        return [f for f in self.films if f.status != "done"]

    def to_json(self) -> dict[str, Any]:
        return {"films": [asdict(f) for f in self.films], "failed": len(self.failed)}


def fingerprint(input: Path, settings: Settings, ref: Any = None, ref_dir: Any = None, overrides: Any = None) -> dict[str, Any]:
    """What a film's segments depend on: the input file, the references, the overrides, the settings, the model."""
    from .. import __version__
    from ..io.images import is_image_file
    from ..models import resolve_model_name

    stat = input.stat()
    render = settings.replace(quiet=False).to_dict()
    pictures = sorted(p for p in Path(ref_dir).iterdir() if is_image_file(p)) if ref_dir else []
    return {"input": str(input.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "settings": render,
            "model": resolve_model_name(settings.model), "version": __version__,
            "references": [_identity(p) for p in ([Path(ref)] if ref else pictures)],
            "overrides": _identity(Path(overrides)) if overrides else None}


def _identity(path: Path) -> list[Any]:
    """A file's path, size and modification time: changes when the file is replaced or edited."""
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _job(input: Path, output: Path, work_dir: Path, ref: Any, ref_dir: Any, overrides: Any, settings: Settings, segment_seconds: float) -> dict[str, Any]:
    return {
        "input": str(input), "output": str(output), "work_dir": str(work_dir), "ref": str(ref) if ref else None,
        "ref_dir": str(ref_dir) if ref_dir else None, "overrides": str(overrides) if overrides else None,
        "settings": settings.to_dict(), "segment_seconds": segment_seconds,
    }


def expand_inputs(inputs: Sequence[str | Path] = (), list_file: str | Path | None = None) -> list[Path]:
    """Films from paths (a folder gives its video files, sorted) and from a list file (one path a line, ``#`` comments)."""
    paths: list[Path] = []
    if list_file is not None:
        try:
            lines = Path(list_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputError(f"{list_file}: cannot read the list of films ({exc.strerror})") from None
        base = Path(list_file).parent
        paths += [base / line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    for item in map(Path, inputs):
        if item.is_dir():
            paths += sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            paths.append(item)
    if not paths:
        raise InputError("no films given: name files, a folder, or --list FILE")
    return paths


def run_batch(
    inputs: Sequence[str | Path] = (),
    *,
    out_dir: str | Path,
    list_file: str | Path | None = None,
    ref: str | Path | None = None,
    ref_dir: str | Path | None = None,
    overrides_dir: str | Path | None = None,
    settings: Settings | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    retry_failed: bool = False,
    overwrite: bool = False,
    segment_seconds: float = MIN_SEGMENT_SECONDS,
) -> BatchReport:
    """Colorize many films into ``out_dir`` as ``<stem>_color<ext>``; resumable, one failure never stops the rest.

    Films already done are skipped; failed ones are retried only with ``retry_failed``. ``overrides_dir`` holds
    ``<stem>.toml`` per film. An output file this batch did not make is replaced only with ``overwrite``. Writes ``videocolor-report.json`` in ``out_dir`` and returns the same report.
    """
    from ..api import check_references

    settings = settings or Settings()
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise OutputError(f"{out_dir}: output folder does not exist")
    check_references(ref, ref_dir)
    films = expand_inputs(inputs, list_file)
    state = State(out_dir / STATE_NAME)
    ids, seen, refused = [], {}, []
    done = {row["key"] for row in state.films() if row["status"] == "done"}
    for film in films:
        output = out_dir / f"{film.stem}_color{film.suffix}"
        if output.name in seen:
            raise InputError(f"{film}: same output name as {seen[output.name]}; rename one of them")
        seen[output.name] = film
        if output.exists() and output.name not in done and not overwrite:  # a file this batch did not make
            refused.append(FilmReport(str(film), str(output), "failed", f"{output}: already exists; pass --overwrite to replace it"))
            continue
        override = Path(overrides_dir) / f"{film.stem}.toml" if overrides_dir else None
        override = override if override and override.exists() else None
        job = _job(film, output, out_dir / WORK_NAME / output.name, ref, ref_dir, override, settings, segment_seconds)
        stamp = fingerprint(film, settings, ref, ref_dir, override) if film.is_file() else {"input": str(film), "missing": True}
        ids.append(state.add_film(output.name, str(film), str(output), job, stamp))
    if retry_failed:
        state.retry_failed()
    _fail_missing(state, ids)
    engine_ = make_engine(engine, workers, ray_address)
    for row in state.films():
        if row["id"] in ids and row["status"] not in ("done", "failed"):
            Path(json.loads(row["job"])["work_dir"]).mkdir(parents=True, exist_ok=True)
    try:
        drive(state, ids, engine_)
    finally:
        engine_.close()
    for row in state.films():
        if row["id"] in ids and row["status"] == "done":
            shutil.rmtree(json.loads(row["job"])["work_dir"], ignore_errors=True)
    report = batch_report(state, ids)
    report.films += refused
    (out_dir / REPORT_NAME).write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    return report


def _fail_missing(state: State, ids: list[int]) -> None:
    with state.connect() as db:
        for row in db.execute("SELECT id, input FROM films WHERE status != 'done'").fetchall():
            if row["id"] in ids and not Path(row["input"]).is_file():
                db.execute("UPDATE films SET status='failed', error=? WHERE id=?", (f"{row['input']}: file not found", row["id"]))


def batch_report(state: State, ids: Sequence[int] | None = None) -> BatchReport:
    """The report of the films in ``state`` (those in ``ids``, or all)."""
    report = BatchReport()
    for row in state.films():
        if ids is not None and row["id"] not in ids:
            continue
        segments = state.segments(row["id"])
        seconds = (row["finished"] - row["started"]) if row["finished"] and row["started"] else None
        report.films.append(FilmReport(
            row["input"], row["output"], row["status"], row["error"], row["frames"],
            len(segments), sum(s["status"] == "done" for s in segments), seconds,
        ))
    return report


def colorize_film(
    input: Path, output: Path, *, ref: Any, ref_dir: Any, overrides: Any, settings: Settings, resume: bool,
    segment_seconds: float = MIN_SEGMENT_SECONDS,
) -> dict[str, Any]:
    """One film in this process through the segment machinery; ``resume`` continues an interrupted run.

    Returns the film's totals (frames, bad_packets, gray_frames, seconds). Raises what the render raised.
    """
    work_dir = output.parent / WORK_NAME / output.name
    if work_dir.exists() and not resume:
        log.warning("%s: discarding the unfinished work of an earlier run (pass --resume to continue it)", work_dir)
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    state = State(work_dir / "state.sqlite")
    stamp = fingerprint(input, settings, ref, ref_dir, overrides)
    job = _job(input, output, work_dir, ref, ref_dir, overrides, settings, segment_seconds)
    previous = state.films()
    if previous and json.loads(previous[0]["fingerprint"]) != stamp:
        before = json.loads(previous[0]["fingerprint"])
        changed = sorted(k for k, v in stamp["settings"].items() if before["settings"].get(k) != v)
        changed += [k for k in ("references", "overrides") if before.get(k) != stamp[k]]
        what = f"settings {', '.join(changed)}" if changed else "input file or model"
        raise InputError(f"{input}: the run to resume used other {what}; use the same, or drop --resume to start over")
    film = state.add_film(output.name, str(input), str(output), job, stamp)
    if previous and previous[0]["status"] == "failed":
        state.retry_failed()
    started = time.perf_counter()
    outcome = drive(state, [film], make_engine("inline")).get(film)
    segments = state.segments(film)
    if outcome is not None and outcome.exception is not None:
        if not any(s["status"] == "done" for s in segments):
            shutil.rmtree(work_dir, ignore_errors=True)
            _remove_if_empty(work_dir.parent)
        else:
            log.warning("%s: %d segment(s) kept; run again with --resume to continue", work_dir, sum(s["status"] == "done" for s in segments))
        raise outcome.exception
    totals = {
        "frames": sum(s["frames_written"] or 0 for s in segments),
        "bad_packets": sum(s["bad_packets"] or 0 for s in segments),
        "gray_frames": sum(s["gray_frames"] or 0 for s in segments),
        "segments": len(segments),
        "shots": len(json.loads(state.film(film)["analysis"])["shots"]),
        "seconds": time.perf_counter() - started,
    }
    shutil.rmtree(work_dir, ignore_errors=True)
    _remove_if_empty(work_dir.parent)
    return totals


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def progress(state: State) -> dict[str, Any]:
    """Counts of films and segments by status and an ETA from the wall-clock render rate so far.

    The rate is the frames of finished segments over the time from the first segment's start to the last
    one's end, so parallel workers count as the speed-up they are.
    """
    report = batch_report(state)
    with state.connect() as db:
        rows = db.execute("SELECT status, frames, seconds, frames_written, finished FROM segments").fetchall()
    done = [r for r in rows if r["status"] == "done" and r["finished"] and r["seconds"]]
    span = max(r["finished"] for r in done) - min(r["finished"] - r["seconds"] for r in done) if done else 0
    rate = sum(r["frames_written"] or 0 for r in done) / span if span > 0 else None
    left = sum(r["frames"] or 0 for r in rows if r["status"] != "done")
    return {
        "report": report,
        "films_done": sum(f.status == "done" for f in report.films),
        "films_failed": sum(f.status == "failed" for f in report.films),
        "films_pending": sum(f.status not in ("done", "failed") for f in report.films),
        "segments_done": len(done),
        "segments": len(rows),
        "eta_seconds": left / rate if rate else None,
    }


__all__ = ["BatchReport", "FilmReport", "batch_report", "colorize_film", "expand_inputs", "fingerprint", "progress", "run_batch"]
