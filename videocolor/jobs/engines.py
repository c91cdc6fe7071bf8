"""Where work runs: in this process, in N local worker processes (one per GPU), or as Ray tasks.

Every engine is an ``Engine``: ``slots`` (how much work it takes at once), ``submit(kind, fn, *args) -> Future``
and ``close()``. ``kind`` is ``analyse``, ``render`` or ``mux``: only analysis and rendering ask a cluster for a GPU.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

import torch

from ..config import CORES_PER_WORKER
from ..errors import InputError, interrupts_held
from ..render.devices import machine_cores, share_cores


class Engine(Protocol):
    """Runs pieces of work of a film; ``inline`` engines run them in the calling process, one at a time."""

    slots: int
    inline: bool

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any) -> Future:
        """Start ``fn(*args)``, a piece of work of ``kind`` (``analyse``, ``render`` or ``mux``)."""

    def restart(self) -> None:
        """Replace workers that died (a local process pool breaks as a whole); a no-op where nothing breaks so."""

    def close(self) -> None:
        """Wait for the work in flight and free the workers."""


def gpu_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def default_workers(cores: int | None = None, gpus: int | None = None) -> int:
    """Local worker processes when none are asked for (a single film and a batch alike): one per GPU; without one,
    one per ``CORES_PER_WORKER`` cores, at least 1.

    One process's render already keeps about two cores busy (decoding, the model, composing and the encoder
    run in threads beside each other), so a worker needs a few cores of its own to gain anything. Measured on 2
    cores, a 10 s six-shot film at 640x360: 2 workers took longer than 1 (see docs/guide/speed.md).
    """
    cores = machine_cores() if cores is None else cores
    gpus = gpu_count() if gpus is None else gpus
    return gpus if gpus else max(1, cores // CORES_PER_WORKER)


def check_workers(workers: int | None) -> int:
    """``workers`` (``None``: ``default_workers()``); raises ``InputError`` unless it is a whole number from 1."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a whole number of at least 1, got {workers!r}")
    return workers


class InlineEngine:
    """Runs each piece of work at once in the calling process (one film from the command line)."""

    slots = 1
    inline = True

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future

    def restart(self) -> None:
        pass

    def close(self) -> None:
        pass


def _start_worker(cores: int, gpus: Any) -> None:
    """Worker initializer: Ctrl-C is the driver's to handle (one line), not every worker's (a traceback each); the
    worker's share of the cores sets its thread counts (``share_cores``); with GPUs (``gpus`` a queue of ids), it
    takes one id and makes that GPU the only visible one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    share_cores(cores)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())


class LocalEngine:
    """``workers`` spawned processes on this machine (default ``default_workers``), each with an equal share of the
    cores for its threads; with GPUs, each sees one (round robin).

    When a worker dies (killed, or by the out-of-memory killer), the whole pool breaks: ``restart`` makes a new one.
    """

    inline = False

    def __init__(self, workers: int | None = None) -> None:
        self.gpus = gpu_count()
        self.slots = check_workers(workers)
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        queue = None
        if self.gpus:
            queue = context.Queue()
            for n in range(self.slots):
                queue.put(n % self.gpus)
        cores = max(1, machine_cores() // self.slots)
        return ProcessPoolExecutor(self.slots, mp_context=context, initializer=_start_worker, initargs=(cores, queue))

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any) -> Future:
        with interrupts_held():  # a submit may spawn a worker: Ctrl-C waits until it has its start-up data
            return self.pool.submit(fn, *args)

    def restart(self) -> None:
        """Replace a broken pool (its futures have all failed) by a fresh one."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new_pool()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class FilmEngine:
    """One film's engine: its analysis and mux in this process, its segments in up to ``workers`` local worker
    processes (``LocalEngine``, made once the segments are known), or here too when only one is left to render
    (a worker process would only add its start-up).

    ``segments``: how many are left to render when the film is already analysed (a resumed run), else 0.
    """

    def __init__(self, workers: int, segments: int = 0) -> None:
        self.workers = workers
        self.here = InlineEngine()
        self.pool: LocalEngine | None = None
        self._plan(segments)

    def _plan(self, segments: int) -> None:
        if segments > 1 and self.workers > 1 and self.pool is None:
            self.pool = LocalEngine(min(self.workers, segments))

    @property
    def inline(self) -> bool:
        return self.pool is None

    @property
    def slots(self) -> int:
        return self.pool.slots if self.pool else 1

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any) -> Future:
        if kind == "render" and self.pool:
            return self.pool.submit(kind, fn, *args)
        future = self.here.submit(kind, fn, *args)
        if kind == "analyse" and future.exception() is None:
            self._plan(len(future.result()[1]))  # analyse returns the shot table, the planned segments, its seconds
        return future

    def restart(self) -> None:
        if self.pool:
            self.pool.restart()

    def close(self) -> None:
        if self.pool:
            self.pool.close()


class RayEngine:
    """Ray tasks (one GPU each for analysis and rendering when the cluster has GPUs); the out dir must be shared."""

    inline = False

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:  # an optional extra, imported only when asked for
            import ray
        except ImportError:
            raise InputError('the ray engine needs Ray: pip install -e ".[ray]" (or pip install "videocolor[ray]")') from None
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self.ray = ray
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        self.slots = workers or max(1, gpus or int(resources.get("CPU", 1)))
        self.options = {
            "analyse": {"num_gpus": 1 if gpus else 0, "num_cpus": 1, "max_retries": 0},
            "render": {"num_gpus": 1 if gpus else 0, "num_cpus": 1, "max_retries": 0},
            "mux": {"num_gpus": 0, "num_cpus": 1, "max_retries": 0},
        }
        self.remote = ray.remote(_call)

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any) -> Future:
        return self.remote.options(**self.options[kind]).remote(fn, *args).future()

    def restart(self) -> None:
        pass  # Ray replaces dead workers itself

    def close(self) -> None:
        pass


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def make_engine(engine: str, workers: int | None = None, address: str | None = None) -> Engine:
    """``local`` (worker processes), ``ray`` or ``inline``."""
    if engine == "local":
        return LocalEngine(workers)
    if engine == "ray":
        return RayEngine(address, workers)
    if engine == "inline":
        return InlineEngine()
    raise InputError(f"unknown engine {engine!r}: choose local or ray")
