"""Job state in SQLite (WAL mode): films, their shot segments, status, attempts, errors, timings, claims.

Every claim happens in one ``BEGIN IMMEDIATE`` transaction, so two processes on the same folder never take
the same work. A claim carries a worker id (``host:pid:n``) and a heartbeat; a claim whose heartbeat is older
than the lease, or whose process on this host is gone, goes back to the queue.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, OutputError
from ..home import cache_dir

if TYPE_CHECKING:  # the render side imports torch, which `videocolor status` never needs
    from ..render.film import SegmentResult

STATE_NAME = "videocolor-jobs.sqlite"  # a batch's state, in its out dir
LEASE_SECONDS = 120.0
_SQLITE_MAX_PATH = 480  # SQLite opens no file whose absolute path is over 512 bytes (its -wal file adds 4)


class Status(str, Enum):
    """Where a film or a segment stands; stored as these words in SQLite and the JSON report.

    A film goes ``pending`` -> ``analysing`` -> ``rendering`` -> ``muxing`` -> ``done``; a segment goes
    ``pending`` -> ``running`` -> ``done``. Either can end ``failed``.
    """

    PENDING = "pending"
    ANALYSING = "analysing"
    RENDERING = "rendering"
    MUXING = "muxing"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


FINISHED = (Status.DONE, Status.FAILED)

log = logging.getLogger("videocolor")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS films (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, input TEXT NOT NULL, output TEXT NOT NULL,
    job TEXT NOT NULL, fingerprint TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, analysis TEXT, worker TEXT, heartbeat REAL,
    created REAL, started REAL, finished REAL, analyse_s REAL, mux_s REAL, frames INTEGER
);
CREATE TABLE IF NOT EXISTS segments (
    film INTEGER NOT NULL REFERENCES films(id), idx INTEGER NOT NULL, first_shot INTEGER, last_shot INTEGER,
    start_pts INTEGER NOT NULL, end_pts INTEGER, frames INTEGER, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, heartbeat REAL, error TEXT, first_pts INTEGER,
    frames_written INTEGER, bad_packets INTEGER, gray_frames INTEGER, seconds REAL, finished REAL, stages TEXT,
    PRIMARY KEY (film, idx)
);
"""


def worker_id() -> str:
    """``host:pid`` naming one claimer."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str | None) -> bool:
    """False only when ``worker`` is a process of this host that no longer exists."""
    if not worker:
        return False
    host, _, rest = worker.partition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(rest.split(":")[0]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _openable(path: Path) -> Path:
    """``path``, or for a path SQLite cannot open (too long) a stand-in in the cache folder named by its digest."""
    if len(os.fsencode(path)) <= _SQLITE_MAX_PATH:
        return path
    folder = cache_dir() / "job-state"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: path too long for SQLite, and no cache folder for it ({exc.strerror or exc})") from None
    log.debug("%s: path too long for SQLite; its database is %s", path, folder)
    return folder / f"{hashlib.sha1(os.fsencode(path)).hexdigest()}-{path.name}"


@dataclass
class Claim:
    """Work taken by a worker: ``kind`` is ``analyse``, ``render`` (``segments`` listed) or ``mux``."""

    kind: str
    film: int
    segments: list[int]


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a state written by an earlier version up to the schema (columns added since: ``segments.stages``)."""
    if "stages" not in {row[1] for row in db.execute("PRAGMA table_info(segments)")}:
        try:
            db.execute("ALTER TABLE segments ADD COLUMN stages TEXT")
        except sqlite3.OperationalError as exc:  # another process of the batch added it first
            if "duplicate column" not in str(exc):
                raise


class State:
    """The SQLite file of a batch (or of one film's work folder); the only place that reads or writes it.

    ``readonly`` opens an existing file without writing anything (``videocolor status``, also on a read-only
    share). Every SQLite failure becomes one line naming the file: a corrupt file is an ``InputError``, a full
    disk or an unwritable folder an ``OutputError``. A path too long for SQLite is stood in for by a file of the
    same name's digest in videocolor's cache folder.
    """

    def __init__(self, path: str | Path, lease: float = LEASE_SECONDS, readonly: bool = False) -> None:
        self.path = _openable(Path(path).absolute())
        self.shown = Path(path)
        self.lease = lease
        self.readonly = readonly
        if readonly:
            with self.connect() as db:
                db.execute("SELECT 1 FROM films LIMIT 1")
            return
        with self._errors():
            db = sqlite3.connect(self.path, timeout=60)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                _add_missing_columns(db)
            finally:
                db.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if isinstance(exc, sqlite3.OperationalError) and "malformed" not in text:
                raise OutputError(f"{self.shown}: cannot write the job database ({text}); free space or choose another folder") from None
            raise InputError(f"{self.shown}: not a readable job database ({text}); move it away to start over") from None
        except OSError as exc:
            raise OutputError(f"{self.shown}: cannot write the job database ({exc.strerror or exc})") from None

    @contextmanager
    def connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit off; ``immediate`` takes the write lock at once (claims)."""
        with self._errors():
            if self.readonly:  # nothing written, not even WAL bookkeeping, when the folder is read-only
                immutable = "&immutable=1" if not os.access(self.path.parent, os.W_OK) else ""
                db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro{immutable}", uri=True, timeout=60, isolation_level=None)
            else:
                db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.row_factory = sqlite3.Row
            try:
                db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:  # not after a COMMIT that a Ctrl-C (KeyboardInterrupt) followed at once
                        db.execute("ROLLBACK")
                    raise
            finally:
                db.close()

    def remove(self) -> None:
        """Delete the database file (and its WAL files): the work it tracked is finished."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def film(self, film: int) -> sqlite3.Row:
        with self.connect() as db:
            return db.execute("SELECT * FROM films WHERE id = ?", (film,)).fetchone()

    def films(self) -> list[sqlite3.Row]:
        with self.connect() as db:
            return db.execute("SELECT * FROM films ORDER BY id").fetchall()

    def segments(self, film: int | None = None) -> list[sqlite3.Row]:
        """The segments of ``film`` in order, or of every film."""
        with self.connect() as db:
            if film is None:
                return db.execute("SELECT * FROM segments ORDER BY film, idx").fetchall()
            return db.execute("SELECT * FROM segments WHERE film = ? ORDER BY idx", (film,)).fetchall()

    def add_film(self, key: str, input: str, output: str, job: dict[str, Any], fingerprint: dict[str, Any]) -> int:
        """Register a film (or find it); a film whose fingerprint changed and is not done starts over."""
        text = json.dumps(fingerprint, sort_keys=True)
        with self.connect(immediate=True) as db:
            row = db.execute("SELECT id, fingerprint, status FROM films WHERE key = ?", (key,)).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO films (key, input, output, job, fingerprint, created) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, input, output, json.dumps(job), text, time.time()),
                )
                return int(cur.lastrowid)
            before = json.loads(row["fingerprint"])
            replaced = any(before.get(k) != fingerprint.get(k) for k in ("input", "size", "mtime_ns"))
            if row["fingerprint"] != text and (row["status"] != Status.DONE or replaced):
                log.warning("%s: input, references, settings or model changed since it was started; it is rendered again", input)
                db.execute("DELETE FROM segments WHERE film = ?", (row["id"],))
                db.execute(
                    "UPDATE films SET status=?, analysis=NULL, error=NULL, job=?, fingerprint=? WHERE id=?",
                    (Status.PENDING, json.dumps(job), text, row["id"]),
                )
            return int(row["id"])

    def retry_failed(self) -> int:
        """Failed films go back to the queue (their finished segments are kept); returns how many."""
        with self.connect(immediate=True) as db:
            db.execute("UPDATE segments SET status=?, error=NULL WHERE status=?", (Status.PENDING, Status.FAILED))
            db.execute(
                "UPDATE films SET status=CASE WHEN analysis IS NULL THEN ? ELSE ? END, error=NULL WHERE status=?",
                (Status.PENDING, Status.RENDERING, Status.FAILED),
            )
            return db.execute("SELECT changes()").fetchone()[0]

    def refuse(self, film: int, error: str) -> None:
        """A film that cannot start (its input is gone) fails without being tried."""
        with self.connect() as db:
            db.execute("UPDATE films SET status=?, error=? WHERE id=?", (Status.FAILED, error, film))

    def claim(self, worker: str, films: list[int], max_segments: int = 1) -> Claim | None:
        """Take the next piece of work among ``films``: segments first, then a mux, then an analysis."""
        now = time.time()
        marks = ",".join("?" * len(films))
        with self.connect(immediate=True) as db:
            self._release_stale(db, now)
            rows = db.execute(
                f"SELECT s.film, s.idx FROM segments s JOIN films f ON f.id = s.film WHERE f.status=? "
                f"AND s.status=? AND s.film IN ({marks}) ORDER BY s.film, s.idx",
                (Status.RENDERING, Status.PENDING, *films),
            ).fetchall()
            if rows:
                film, run = rows[0]["film"], [rows[0]["idx"]]
                for row in rows[1:]:
                    if row["film"] != film or row["idx"] != run[-1] + 1 or len(run) >= max_segments:
                        break
                    run.append(row["idx"])
                db.executemany(
                    "UPDATE segments SET status=?, worker=?, heartbeat=?, attempts=attempts+1 WHERE film=? AND idx=?",
                    [(Status.RUNNING, worker, now, film, i) for i in run],
                )
                return Claim("render", film, run)
            row = db.execute(
                f"SELECT id FROM films f WHERE status=? AND id IN ({marks}) AND NOT EXISTS "
                f"(SELECT 1 FROM segments s WHERE s.film=f.id AND s.status!=?) ORDER BY id LIMIT 1",
                (Status.RENDERING, *films, Status.DONE),
            ).fetchone()
            if row is not None:
                db.execute("UPDATE films SET status=?, worker=?, heartbeat=? WHERE id=?", (Status.MUXING, worker, now, row["id"]))
                return Claim("mux", row["id"], [])
            row = db.execute(
                f"SELECT id FROM films WHERE status=? AND id IN ({marks}) ORDER BY id LIMIT 1", (Status.PENDING, *films)
            ).fetchone()
            if row is not None:
                db.execute(
                    "UPDATE films SET status=?, worker=?, heartbeat=?, attempts=attempts+1, started=COALESCE(started, ?) WHERE id=?",
                    (Status.ANALYSING, worker, now, now, row["id"]),
                )
                return Claim("analyse", row["id"], [])
        return None

    def _release_stale(self, db: sqlite3.Connection, now: float) -> None:
        rows = db.execute("SELECT film, idx, worker, heartbeat FROM segments WHERE status=?", (Status.RUNNING,)).fetchall()
        for row in rows:
            if row["heartbeat"] < now - self.lease or not _alive(row["worker"]):
                db.execute("UPDATE segments SET status=?, worker=NULL WHERE film=? AND idx=?", (Status.PENDING, row["film"], row["idx"]))
        rows = db.execute(
            "SELECT id, status, worker, heartbeat FROM films WHERE status IN (?, ?)", (Status.ANALYSING, Status.MUXING)
        ).fetchall()
        for row in rows:
            if row["heartbeat"] < now - self.lease or not _alive(row["worker"]):
                back = Status.PENDING if row["status"] == Status.ANALYSING else Status.RENDERING
                db.execute("UPDATE films SET status=?, worker=NULL WHERE id=?", (back, row["id"]))

    def heartbeat(self, worker: str) -> None:
        """Renew every claim of ``worker``."""
        now = time.time()
        with self.connect() as db:
            db.execute("UPDATE segments SET heartbeat=? WHERE worker=? AND status=?", (now, worker, Status.RUNNING))
            db.execute(
                "UPDATE films SET heartbeat=? WHERE worker=? AND status IN (?, ?)", (now, worker, Status.ANALYSING, Status.MUXING)
            )

    def analysed(self, film: int, analysis: dict[str, Any], segments: list[dict[str, Any]], seconds: float) -> None:
        """Store a film's shot table and queue its segments."""
        with self.connect(immediate=True) as db:
            db.execute("DELETE FROM segments WHERE film=?", (film,))
            db.executemany(
                "INSERT INTO segments (film, idx, first_shot, last_shot, start_pts, end_pts, frames) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(film, s["index"], s["first_shot"], s["last_shot"], s["start_pts"], s["end_pts"], s["frames"]) for s in segments],
            )
            db.execute(
                "UPDATE films SET status=?, analysis=?, analyse_s=?, worker=NULL WHERE id=?",
                (Status.RENDERING, json.dumps(analysis), seconds, film),
            )

    def segment_done(self, film: int, result: SegmentResult) -> None:
        with self.connect() as db:
            db.execute(
                "UPDATE segments SET status=:status, worker=NULL, error=NULL, first_pts=:first_pts, frames_written=:frames, "
                "bad_packets=:bad_packets, gray_frames=:gray_frames, seconds=:seconds, stages=:stages, finished=:finished "
                "WHERE film=:film AND idx=:index",
                asdict(result) | {"status": Status.DONE, "finished": time.time(), "film": film, "stages": json.dumps(result.stage_seconds)},
            )

    def muxed(self, film: int, frames: int, seconds: float) -> None:
        with self.connect() as db:
            db.execute(
                "UPDATE films SET status=?, worker=NULL, error=NULL, frames=?, mux_s=?, finished=? WHERE id=?",
                (Status.DONE, frames, seconds, time.time(), film),
            )

    def unclaim(self, claim: Claim) -> None:
        """Undo ``claim`` for work that never started (its engine could not take it): no attempt is counted."""
        with self.connect(immediate=True) as db:
            if claim.kind == "render":
                db.executemany(
                    "UPDATE segments SET status=?, worker=NULL, attempts=attempts-1 WHERE film=? AND idx=?",
                    [(Status.PENDING, claim.film, idx) for idx in claim.segments],
                )
            elif claim.kind == "mux":
                db.execute("UPDATE films SET status=?, worker=NULL WHERE id=?", (Status.RENDERING, claim.film))
            else:
                db.execute("UPDATE films SET status=?, worker=NULL, attempts=attempts-1 WHERE id=?", (Status.PENDING, claim.film))

    def release(self, claim: Claim, error: str, max_attempts: int) -> bool:
        """Put ``claim``'s work back in the queue (its worker died), unless it was tried ``max_attempts`` times:
        then it fails with ``error``. Returns whether it went back."""
        with self.connect(immediate=True) as db:
            if claim.kind == "render":
                marks = ",".join("?" * len(claim.segments))
                tries = db.execute(
                    f"SELECT MAX(attempts) FROM segments WHERE film=? AND idx IN ({marks})", (claim.film, *claim.segments)
                ).fetchone()[0]
            else:
                tries = db.execute("SELECT attempts FROM films WHERE id=?", (claim.film,)).fetchone()[0]
            if claim.kind == "mux" or (tries or 0) >= max_attempts:
                back = False
            else:
                back = True
                for idx in claim.segments:
                    db.execute("UPDATE segments SET status=?, worker=NULL, error=? WHERE film=? AND idx=?", (Status.PENDING, error, claim.film, idx))
                if claim.kind == "analyse":
                    db.execute("UPDATE films SET status=?, worker=NULL WHERE id=?", (Status.PENDING, claim.film))
        if not back:
            self.failed(claim, error)
        return back

    def failed(self, claim: Claim, error: str) -> None:
        """Record an error: the film fails (its finished segments are kept for a retry)."""
        with self.connect() as db:
            for idx in claim.segments:
                db.execute(
                    "UPDATE segments SET status=?, worker=NULL, error=? WHERE film=? AND idx=? AND status=?",
                    (Status.FAILED, error, claim.film, idx, Status.RUNNING),
                )
            db.execute("UPDATE films SET status=?, worker=NULL, error=?, finished=? WHERE id=?", (Status.FAILED, error, time.time(), claim.film))
