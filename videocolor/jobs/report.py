"""What a batch has done so far: one report line per film, and the counts and ETA of ``videocolor status``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .state import FINISHED, State, Status


@dataclass
class FilmReport:
    """One film of a batch: where it went, how it ended, and what it cost."""

    input: str
    output: str
    status: Status
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
        return [f for f in self.films if f.status != Status.DONE]

    def to_json(self) -> dict[str, Any]:
        return {"films": [asdict(f) for f in self.films], "failed": len(self.failed)}


@dataclass(frozen=True)
class Progress:
    """A batch's films by status, its segments done and in all, and the seconds left at the rate so far."""

    report: BatchReport
    films_done: int
    films_failed: int
    films_pending: int
    segments_done: int
    segments: int
    eta_seconds: float | None


def output_in_place(row: Any) -> bool:
    """A film whose output was renamed into place but whose ``done`` was never recorded (a full disk at the end):
    its output exists while it is still marked muxing. It counts as done."""
    return row["status"] == Status.MUXING and Path(row["output"]).is_file()


def batch_report(state: State, ids: Sequence[int] | None = None) -> BatchReport:
    """The report of the films in ``state`` (those in ``ids``, or all)."""
    report = BatchReport()
    for row in state.films():
        if ids is not None and row["id"] not in ids:
            continue
        segments = state.segments(row["id"])
        seconds = (row["finished"] - row["started"]) if row["finished"] and row["started"] else None
        report.films.append(FilmReport(
            row["input"], row["output"], Status.DONE if output_in_place(row) else Status(row["status"]), row["error"], row["frames"],
            len(segments), sum(s["status"] == Status.DONE for s in segments), seconds,
        ))
    return report


def progress(state: State) -> Progress:
    """Counts of films and segments by status and an ETA from the wall-clock render rate so far.

    The rate is the frames of finished segments over the time from the first segment's start to the last
    one's end, so parallel workers count as the speed-up they are.
    """
    report = batch_report(state)
    rows = state.segments()
    done = [r for r in rows if r["status"] == Status.DONE and r["finished"] and r["seconds"]]
    span = max(r["finished"] for r in done) - min(r["finished"] - r["seconds"] for r in done) if done else 0
    rate = sum(r["frames_written"] or 0 for r in done) / span if span > 0 else None
    left = sum(r["frames"] or 0 for r in rows if r["status"] != Status.DONE)
    return Progress(
        report=report,
        films_done=sum(f.status == Status.DONE for f in report.films),
        films_failed=sum(f.status == Status.FAILED for f in report.films),
        films_pending=sum(f.status not in FINISHED for f in report.films),
        segments_done=len(done),
        segments=len(rows),
        eta_seconds=left / rate if rate else None,
    )
