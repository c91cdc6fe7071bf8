"""Pipeline threads: a Ctrl-C while the caller waits for a stage must not make the stage look finished."""

import _thread
import signal
import threading

import pytest

from videocolor.render.stages import Stage


def test_a_ctrl_c_while_waiting_for_a_stage_leaves_it_running_and_waitable():
    release, stop = threading.Event(), threading.Event()
    stage = Stage(release.wait, "test-stage", stop)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # also under nohup, which ignores SIGINT
    try:
        stage.start()
        threading.Timer(0.2, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            stage.wait()
        assert stage.is_alive()  # Thread.join, interrupted, left this False on CPython 3.11 while it still ran
        release.set()
        stage.wait()
        stage.join(timeout=10)
        assert not stage.is_alive() and stage.error is None
    finally:
        release.set()
        signal.signal(signal.SIGINT, previous)
