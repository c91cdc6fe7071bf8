"""The driver: claims work from the state, hands it to an engine, records what came back."""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import threading
import time
import traceback
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from ..errors import VideocolorError, one_line
from ..render.film import analyse, mux, render
from .engines import Engine
from .state import FINISHED, Claim, State, Status, worker_id

log = logging.getLogger("videocolor")

_POLL_SECONDS = 0.5
_WORKER_DEATHS = 2  # a piece of work in flight when this many workers died fails


@dataclass
class Outcome:
    """What became of one film in this run; ``exception`` is kept for the in-process single-film call."""

    film: int
    status: Status
    error: str | None = None
    exception: BaseException | None = None


class _Heartbeat(threading.Thread):
    def __init__(self, state: State, worker: str) -> None:
        super().__init__(name="videocolor-heartbeat", daemon=True)
        self.state, self.worker, self.stop = state, worker, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.state.lease / 4):
            self.state.heartbeat(self.worker)


def drive(state: State, films: list[int], engine: Engine, quiet_errors: bool = False) -> dict[int, Outcome]:
    """Work on ``films`` until each is done or failed (also by another process on the same state).

    ``quiet_errors``: a failure is logged only at debug level, for a caller that reports it itself (one film).
    """
    me = worker_id()
    outcomes: dict[int, Outcome] = {}
    inflight: dict[cf.Future, Claim] = {}
    beat = _Heartbeat(state, me)
    beat.start()
    try:
        while True:
            while len(inflight) < engine.slots:
                claim = state.claim(me, films, max_segments=10**9 if engine.inline else 1)
                if claim is None:
                    break
                try:
                    inflight[_submit(state, engine, claim)] = claim
                except BrokenProcessPool:  # a worker died since the last wait; this claim never ran
                    state.unclaim(claim)
                    if not inflight:  # else the failed futures of the work in flight come next, then the restart
                        engine.restart()
                    break
            if not inflight:
                if all(row["status"] in FINISHED or row["id"] in outcomes for row in state.films() if row["id"] in films):
                    break
                time.sleep(_POLL_SECONDS)  # another process holds the remaining work
                continue
            finished, _ = cf.wait(inflight, timeout=_POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                claim = inflight.pop(future)
                if isinstance(future.exception(), BrokenProcessPool):
                    _worker_died(state, claim, outcomes, quiet_errors)
                else:
                    _record(state, claim, future, outcomes, quiet_errors)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in finished):
                for future in list(inflight):  # the whole pool went down with the dead worker
                    cf.wait([future])
                    _worker_died(state, inflight.pop(future), outcomes, quiet_errors)
                engine.restart()
    finally:
        beat.stop.set()
        for future in inflight:
            future.cancel()
    return outcomes


def _submit(state: State, engine: Engine, claim: Claim) -> cf.Future:
    row = state.film(claim.film)
    job = json.loads(row["job"])
    if claim.kind == "analyse":
        return engine.submit("analyse", analyse, job)
    if claim.kind == "render":
        table = json.loads(row["analysis"])
        segments = [dict(s) | {"index": s["idx"]} for s in state.segments(claim.film) if s["idx"] in claim.segments]
        on_done = (lambda result: state.segment_done(claim.film, result)) if engine.inline else None
        return engine.submit("render", render, job, table, segments, on_done, not engine.inline)
    done = [s["idx"] for s in state.segments(claim.film)]
    return engine.submit("mux", _timed_mux, job, json.loads(row["analysis"]), done)


def _timed_mux(job: dict[str, Any], table: dict[str, Any], segments: list[int]) -> tuple[int, float]:
    started = time.perf_counter()
    return mux(job, table, segments), time.perf_counter() - started


def job_output(state: State, claim: Claim) -> str:
    """The output file of ``claim``'s film as the job states it."""
    return json.loads(state.film(claim.film)["job"])["output"]


def _worker_died(state: State, claim: Claim, outcomes: dict[int, Outcome], quiet_errors: bool) -> None:
    """A worker process died (killed, or out of memory) with ``claim`` in flight: the work goes back to the queue
    once; work that was in flight at a second death fails with that error (logged unless ``quiet_errors``)."""
    text = "a worker process died (killed, or out of memory) while this ran"
    if state.release(claim, text, max_attempts=_WORKER_DEATHS):
        log.warning("%s: %s; it is tried again in a new worker", state.film(claim.film)["input"], text)
        return
    log.log(logging.DEBUG if quiet_errors else logging.ERROR, "%s: failed: %s", state.film(claim.film)["input"], text)
    outcomes[claim.film] = Outcome(claim.film, Status.FAILED, text)


def _record(state: State, claim: Claim, future: cf.Future, outcomes: dict[int, Outcome], quiet_errors: bool) -> None:
    """Store what a finished piece of work gave; ``quiet_errors``: the caller reports failures itself."""
    exc = future.exception()
    if exc is not None:
        text = one_line(exc)
        log.debug("%s", "".join(traceback.format_exception(exc)))
        state.failed(claim, text)
        log.log(logging.DEBUG if quiet_errors else logging.ERROR, "%s: failed: %s", state.film(claim.film)["input"], text)
        outcomes[claim.film] = Outcome(claim.film, Status.FAILED, text, exc)
        return
    result = future.result()
    if claim.kind == "analyse":
        table, segments, seconds = result
        state.analysed(claim.film, table, segments, seconds)
    elif claim.kind == "render":
        for item in result:
            state.segment_done(claim.film, item)
    else:
        frames, seconds = result
        try:
            state.muxed(claim.film, frames, seconds)
        except (VideocolorError, OSError) as exc:  # the film is complete and in place; only the record of it is lost
            log.warning("%s: the output is complete, but recording it in %s failed (%s)", job_output(state, claim), state.shown, one_line(exc))
        outcomes[claim.film] = Outcome(claim.film, Status.DONE)
