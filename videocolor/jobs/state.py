"""Job state in SQLite (WAL mode): films, their shot segments, status, attempts, errors, timings, claims.

Every claim happens in one ``BEGIN IMMEDIATE`` transaction, so two processes on the same folder never take
the same work. A claim carries a worker id (``host:pid:n``) and a heartbeat; a claim whose heartbeat is older
than the lease, or whose process on this host is gone, goes back to the queue.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LEASE_SECONDS = 120.0

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
    frames_written INTEGER, bad_packets INTEGER, gray_frames INTEGER, seconds REAL, finished REAL,
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


@dataclass
class Claim:
    """Work taken by a worker: ``kind`` is ``analyse``, ``render`` (``segments`` listed) or ``mux``."""

    kind: str
    film: int
    segments: list[int]


class State:
    """The SQLite file of a batch (or of one film's work folder)."""

    def __init__(self, path: str | Path, lease: float = LEASE_SECONDS) -> None:
        self.path = Path(path)
        self.lease = lease
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()

    @contextmanager
    def connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit off; ``immediate`` takes the write lock at once (claims)."""
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            db.close()

    def film(self, film: int) -> sqlite3.Row:
        with self.connect() as db:
            return db.execute("SELECT * FROM films WHERE id = ?", (film,)).fetchone()

    def films(self) -> list[sqlite3.Row]:
        with self.connect() as db:
            return db.execute("SELECT * FROM films ORDER BY id").fetchall()

    def segments(self, film: int) -> list[sqlite3.Row]:
        with self.connect() as db:
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
            if row["fingerprint"] != text and (row["status"] != "done" or replaced):
                log.warning("%s: input, references, settings or model changed since it was started; it is rendered again", input)
                db.execute("DELETE FROM segments WHERE film = ?", (row["id"],))
                db.execute(
                    "UPDATE films SET status='pending', analysis=NULL, error=NULL, job=?, fingerprint=? WHERE id=?",
                    (json.dumps(job), text, row["id"]),
                )
            return int(row["id"])

    def retry_failed(self) -> int:
        """Failed films go back to the queue (their finished segments are kept); returns how many."""
        with self.connect(immediate=True) as db:
            db.execute("UPDATE segments SET status='pending', error=NULL WHERE status='failed'")
            db.execute("UPDATE films SET status=CASE WHEN analysis IS NULL THEN 'pending' ELSE 'rendering' END, error=NULL WHERE status='failed'")
            return db.execute("SELECT changes()").fetchone()[0]

    def claim(self, worker: str, films: list[int], max_segments: int = 1) -> Claim | None:
        """Take the next piece of work among ``films``: segments first, then a mux, then an analysis."""
        now = time.time()
        marks = ",".join("?" * len(films))
        with self.connect(immediate=True) as db:
            self._release_stale(db, now)
            rows = db.execute(
                f"SELECT s.film, s.idx FROM segments s JOIN films f ON f.id = s.film WHERE f.status='rendering' "
                f"AND s.status='pending' AND s.film IN ({marks}) ORDER BY s.film, s.idx",
                films,
            ).fetchall()
            if rows:
                film, run = rows[0]["film"], [rows[0]["idx"]]
                for row in rows[1:]:
                    if row["film"] != film or row["idx"] != run[-1] + 1 or len(run) >= max_segments:
                        break
                    run.append(row["idx"])
                db.executemany(
                    "UPDATE segments SET status='running', worker=?, heartbeat=?, attempts=attempts+1 WHERE film=? AND idx=?",
                    [(worker, now, film, i) for i in run],
                )
                return Claim("render", film, run)
            row = db.execute(
                f"SELECT id FROM films f WHERE status='rendering' AND id IN ({marks}) AND NOT EXISTS "
                f"(SELECT 1 FROM segments s WHERE s.film=f.id AND s.status!='done') ORDER BY id LIMIT 1",
                films,
            ).fetchone()
            if row is not None:
                db.execute("UPDATE films SET status='muxing', worker=?, heartbeat=? WHERE id=?", (worker, now, row["id"]))
                return Claim("mux", row["id"], [])
            row = db.execute(f"SELECT id FROM films WHERE status='pending' AND id IN ({marks}) ORDER BY id LIMIT 1", films).fetchone()
            if row is not None:
                db.execute(
                    "UPDATE films SET status='analysing', worker=?, heartbeat=?, attempts=attempts+1, started=COALESCE(started, ?) WHERE id=?",
                    (worker, now, now, row["id"]),
                )
                return Claim("analyse", row["id"], [])
        return None

    def _release_stale(self, db: sqlite3.Connection, now: float) -> None:
        for row in db.execute("SELECT film, idx, worker, heartbeat FROM segments WHERE status='running'").fetchall():
            if row["heartbeat"] < now - self.lease or not _alive(row["worker"]):
                db.execute("UPDATE segments SET status='pending', worker=NULL WHERE film=? AND idx=?", (row["film"], row["idx"]))
        for row in db.execute("SELECT id, status, worker, heartbeat FROM films WHERE status IN ('analysing', 'muxing')").fetchall():
            if row["heartbeat"] < now - self.lease or not _alive(row["worker"]):
                back = "pending" if row["status"] == "analysing" else "rendering"
                db.execute("UPDATE films SET status=?, worker=NULL WHERE id=?", (back, row["id"]))

    def heartbeat(self, worker: str) -> None:
        """Renew every claim of ``worker``."""
        now = time.time()
        with self.connect() as db:
            db.execute("UPDATE segments SET heartbeat=? WHERE worker=? AND status='running'", (now, worker))
            db.execute("UPDATE films SET heartbeat=? WHERE worker=? AND status IN ('analysing', 'muxing')", (now, worker))

    def analysed(self, film: int, analysis: dict[str, Any], segments: list[dict[str, Any]], seconds: float) -> None:
        """Store a film's shot table and queue its segments."""
        with self.connect(immediate=True) as db:
            db.execute("DELETE FROM segments WHERE film=?", (film,))
            db.executemany(
                "INSERT INTO segments (film, idx, first_shot, last_shot, start_pts, end_pts, frames) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(film, s["index"], s["first_shot"], s["last_shot"], s["start_pts"], s["end_pts"], s["frames"]) for s in segments],
            )
            db.execute(
                "UPDATE films SET status='rendering', analysis=?, analyse_s=?, worker=NULL WHERE id=?",
                (json.dumps(analysis), seconds, film),
            )

    def segment_done(self, film: int, result: dict[str, Any]) -> None:
        with self.connect() as db:
            db.execute(
                "UPDATE segments SET status='done', worker=NULL, error=NULL, first_pts=?, frames_written=?, bad_packets=?, "
                "gray_frames=?, seconds=?, finished=? WHERE film=? AND idx=?",
                (result["first_pts"], result["frames"], result["bad_packets"], result["gray_frames"], result["seconds"], time.time(), film, result["index"]),
            )

    def muxed(self, film: int, frames: int, seconds: float) -> None:
        with self.connect() as db:
            db.execute(
                "UPDATE films SET status='done', worker=NULL, error=NULL, frames=?, mux_s=?, finished=? WHERE id=?",
                (frames, seconds, time.time(), film),
            )

    def failed(self, claim: Claim, error: str) -> None:
        """Record an error: the film fails (its finished segments are kept for a retry)."""
        with self.connect() as db:
            for idx in claim.segments:
                db.execute("UPDATE segments SET status='failed', worker=NULL, error=? WHERE film=? AND idx=? AND status='running'", (error, claim.film, idx))
            db.execute("UPDATE films SET status='failed', worker=NULL, error=?, finished=? WHERE id=?", (error, time.time(), claim.film))
