"""Archive jobs: films cut into shot segments, rendered by any engine, resumable, tracked in SQLite.

>>> from videocolor.jobs import run_batch
>>> report = run_batch(["a.mp4", "b.mkv"], ref_dir="refs/", out_dir="colored/")   # doctest: +SKIP
>>> report.failed                                                                  # doctest: +SKIP

Orchestration only: the work itself (analyse, render segments, mux) is ``videocolor.render.film``'s.
``film`` runs one film in this process, ``batch`` many into an out dir; ``runner`` hands the work that
``state`` (the SQLite file, all of its SQL) gives out to an ``engines.Engine``; ``report`` tells what a batch
has done. A single film is a batch of one: the same state makes it resumable and lets its segments spread
over processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .report import BatchReport, FilmReport, Progress, batch_report, progress
from .state import STATE_NAME, State, Status

if TYPE_CHECKING:
    from .batch import expand_inputs, run_batch
    from .film import FilmResult, colorize_film, fingerprint


def __getattr__(name: str) -> Any:
    """The running side on first use: it imports torch and the models, which ``videocolor status`` skips."""
    if name in ("expand_inputs", "run_batch"):
        from . import batch

        return getattr(batch, name)
    if name in ("FilmResult", "colorize_film", "fingerprint"):
        from . import film

        return getattr(film, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BatchReport", "FilmReport", "FilmResult", "Progress", "STATE_NAME", "State", "Status", "batch_report",
           "colorize_film", "expand_inputs", "fingerprint", "progress", "run_batch"]
