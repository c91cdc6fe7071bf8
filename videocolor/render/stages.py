"""Pipeline threads: a stage whose error reaches the caller, and bounded-queue hand-offs that give up on stop."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

DONE = object()  # end of a queue's items


class Stage(threading.Thread):
    """A worker thread whose exception is kept for the caller to re-raise; it also sets ``stop``, so the
    stages feeding or draining it stop waiting on their queues."""

    def __init__(self, target: Callable[[], None], name: str, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._stop_event = stop
        self._finished = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # re-raised in the calling thread
            self.error = exc
            self._stop_event.set()
        finally:
            self._finished.set()

    def wait(self) -> None:
        """Block until the stage's work has returned; use it instead of ``join``.

        On CPython 3.11 a Ctrl-C that interrupts ``Thread.join`` marks the thread as stopped while it still
        runs: a second ``join`` then returns at once, and the caller closed the output the encode stage was
        still writing into (a segmentation fault, seen about one Ctrl-C in ten late in a render). An
        interrupted ``Event.wait`` leaves nothing wrong behind, so waiting again after it is safe.
        """
        while not self._finished.wait(0.1):
            pass


def put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put unless ``stop`` is set; returns False when the consumer has gone away."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def get(q: queue.Queue, stop: threading.Event) -> Any:
    """The next item, or ``DONE`` once ``stop`` is set and nothing is waiting."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return DONE


def raise_from(stage: Stage) -> None:
    """Wait for ``stage`` to end and re-raise its exception, if any, in the calling thread."""
    stage.wait()
    if stage.error is not None:
        raise stage.error
