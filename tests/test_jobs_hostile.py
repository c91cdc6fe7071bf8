"""Jobs as careless or unlucky users meet them: outputs in the input folder, other working folders, full disks,
two runs at once, killed workers, read-only shares, corrupt databases, very long paths, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import cut_film, worker_processes

from videocolor import Settings, colorize_video
from videocolor._cli import main as cli
from videocolor.errors import InputError, OutputError, interrupts_held
from videocolor.jobs import STATE_NAME, run_batch
from videocolor.jobs import state as state_module
from videocolor.jobs.batch import expand_inputs
from videocolor.jobs.film import WORK_NAME, work_lock
from videocolor.jobs.state import State

FAST = Settings(temporal="off", preset="ultrafast", quiet=True, device="cpu")


@pytest.fixture(scope="module")
def short_film(tmp_path_factory) -> Path:
    return cut_film(tmp_path_factory.mktemp("short") / "a.mp4", ["astronaut"], 6)


def test_batch_in_its_input_folder_skips_its_outputs_and_resumes_from_anywhere(short_film, color_ref, tmp_path, monkeypatch):
    films = tmp_path / "films"
    films.mkdir()
    (films / "a.mp4").write_bytes(short_film.read_bytes())
    monkeypatch.chdir(tmp_path)
    first = run_batch(["films"], out_dir="films", ref="films/../" + os.path.relpath(color_ref, tmp_path), settings=FAST, workers=1)
    assert [f.status for f in first.films] == ["done"] and (films / "a_color.mp4").is_file()
    assert all(Path(row["input"]).is_absolute() for row in State(films / STATE_NAME).films())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = run_batch([films], out_dir=films, ref=color_ref, settings=FAST, workers=1)
    assert [(Path(f.input).name, f.status) for f in again.films] == [("a.mp4", "done")]
    assert sorted(p.name for p in films.iterdir() if not p.name.startswith(".")) == [
        "a.mp4", "a_color.mp4", "videocolor-jobs.sqlite", "videocolor-report.json"]


def test_batch_makes_its_out_dir_and_leaves_no_work_folder_for_a_failed_film(tmp_path, color_ref, capsys):
    films = tmp_path / "films"
    films.mkdir()
    (films / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    out = tmp_path / "new" / "deeper" / "colored"
    assert cli.main(["batch", str(films), "--ref", str(color_ref), "--out-dir", str(out), "--quiet", "--workers", "1"]) == 1
    report = json.loads((out / "videocolor-report.json").read_text())
    assert report["failed"] == 1 and "broken.mp4" in report["films"][0]["error"]
    assert not (out / WORK_NAME).exists()


def test_a_film_muxed_before_the_disk_filled_counts_as_done(short_film, color_ref, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OutputError(f"{tmp_path}: cannot write the job database (database or disk is full)")

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(State, "muxed", disk_full)
        report = run_batch([short_film], out_dir=out, ref=color_ref, settings=FAST, workers=1)
    assert [f.status for f in report.films] == ["done"] and (out / "a_color.mp4").is_file()
    again = run_batch([short_film], out_dir=out, ref=color_ref, settings=FAST, workers=1)  # not "already exists"
    assert [f.status for f in again.films] == ["done"]
    film_out = tmp_path / "single.mp4"
    with monkeypatch.context() as patch:
        patch.setattr(State, "muxed", disk_full)
        assert colorize_video(short_film, film_out, ref=color_ref, settings=FAST).frames == 6
    assert film_out.is_file() and not (tmp_path / WORK_NAME).exists()


def test_a_second_run_on_the_same_output_is_refused_and_leaves_the_first_alone(short_film, color_ref, tmp_path):
    output = tmp_path / "a_color.mp4"
    work = tmp_path / WORK_NAME / output.name
    with work_lock(work, output):
        (work / "seg-00000.nut").write_bytes(b"the first run's segment")
        with pytest.raises(OutputError, match=r"a_color\.mp4: another videocolor process is writing it"):
            colorize_video(short_film, output, ref=color_ref, settings=FAST)
        assert (work / "seg-00000.nut").read_bytes() == b"the first run's segment"


def test_status_reads_a_read_only_share_without_writing(short_film, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    state = State(out / STATE_NAME)
    state.add_film("a_color.mp4", str(short_film), str(out / "a_color.mp4"), {}, {"input": str(short_film)})
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    monkeypatch.setattr(state_module.os, "access", lambda path, mode: False)  # as on a read-only mount
    assert cli.main(["status", str(out)]) == 0
    assert "films done 0, films failed 0, films pending 1" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_corrupt_or_unwritable_job_databases_are_one_line_naming_the_file(tmp_path, color_ref, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / STATE_NAME).write_bytes(b"this is not SQLite" * 100)
    assert cli.main(["status", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out / STATE_NAME}: not a readable job database" in err and err.count("\n") == 1
    with pytest.raises(InputError, match="not a readable job database"):
        run_batch([tmp_path / "film.mp4"], out_dir=out, ref=color_ref, settings=FAST)

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(state_module.sqlite3, "connect", full)
    with pytest.raises(OutputError, match=r"new\.sqlite: cannot write the job database \(database or disk is full\)"):
        State(tmp_path / "new.sqlite")


def test_input_path_over_512_bytes(short_film, color_ref, tmp_path):
    deep = tmp_path.joinpath(*["archive_folder_with_a_long_descriptive_name_" + "x" * 60] * 5)
    deep.mkdir(parents=True)
    film = deep / "a.mp4"
    film.write_bytes(short_film.read_bytes())
    assert len(os.fsencode(deep / WORK_NAME / "a_color.mp4" / "state.sqlite")) > 512
    report = colorize_video(film, ref=color_ref, settings=FAST)
    assert report.frames == 6 and report.output.is_file() and not (deep / WORK_NAME).exists()


@pytest.mark.slow
def test_a_killed_batch_worker_is_replaced_and_the_batch_goes_on(color_ref, tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    for name in ("a", "b", "c"):
        cut_film(films / f"{name}.mp4", ["astronaut", "coffee", "chelsea"], 10)
    out = tmp_path / "out"
    run = subprocess.Popen(
        [sys.executable, "-m", "videocolor._cli.main", "batch", str(films), "--ref", str(color_ref), "--out-dir", str(out),
         "--workers", "2", "--temporal", "off", "--quiet"],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 300
    while not (out / STATE_NAME).exists() or not any(f["status"] == "rendering" for f in State(out / STATE_NAME).films()):
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    workers = worker_processes(run.pid)
    os.kill(workers[0], signal.SIGKILL)
    _, err = run.communicate(timeout=600)
    assert "Traceback" not in err and "worker process died" in err
    report = json.loads((out / "videocolor-report.json").read_text())
    assert len(report["films"]) == 3 and all(f["status"] in ("done", "failed") for f in report["films"])
    assert run.returncode == (1 if report["failed"] else 0)


@pytest.fixture(scope="module")
def render_film(tmp_path_factory) -> Path:
    """Long enough (80 frames, two shots) that its render is still going seconds after it began."""
    return cut_film(tmp_path_factory.mktemp("render") / "r.mp4", ["astronaut", "coffee"], 40)


def _loaded(pid: int, library: str) -> bool:
    """Whether process ``pid`` has mapped a shared library whose path contains ``library``."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


# Each phase is a state the test waits for, seen from outside the process: numpy's core mapped (numpy being
# imported), torch's library mapped (torch being imported), the render's work folder made (frames flowing).
PHASES = {
    "numpy import": lambda run, out: _loaded(run.pid, "_multiarray_umath"),
    "torch import": lambda run, out: _loaded(run.pid, "libtorch_cpu"),
    "render": lambda run, out: (out.parent / WORK_NAME).exists(),
}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="phases are observed through /proc (Linux)")
@pytest.mark.parametrize("phase", list(PHASES))
def test_ctrl_c_at_any_moment_is_one_line_and_exit_130(render_film, color_ref, tmp_path, phase):
    out = tmp_path / "out.mp4"
    run = subprocess.Popen(
        [sys.executable, "-m", "videocolor", str(render_film), "--ref", str(color_ref), "-o", str(out), "--temporal", "off"],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not PHASES[phase](run, out):
        assert run.poll() is None, f"the run ended (exit {run.returncode}) before the {phase}"
        assert time.monotonic() < deadline, f"no {phase} within 120 s"
        time.sleep(0.002)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "videocolor: interrupted; no output was written"
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_ctrl_c_while_workers_render_is_one_line_and_exit_130(color_ref, tmp_path):
    """Ctrl-C while a film's segments render in two worker processes: the workers finish or stop, none outlives
    the run, and the run ends as a one-process run does."""
    film = cut_film(tmp_path / "four.mp4", ["astronaut", "coffee", "chelsea", "rocket"], 50)  # 2 s shots: 2+ segments
    out = tmp_path / "out.mp4"
    run = subprocess.Popen(
        [sys.executable, "-m", "videocolor", str(film), "--ref", str(color_ref), "-o", str(out), "--temporal", "off", "--workers", "2"],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not (workers := worker_processes(run.pid)):
        assert run.poll() is None, f"the run ended (exit {run.returncode}) before a worker started"
        assert time.monotonic() < deadline, "no worker process within 120 s"
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "videocolor: interrupted; no output was written"
    assert not out.exists()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_ctrl_c_during_an_import_waits_for_its_end():
    """A Ctrl-C in the middle of an import must not stop it half way (a half-initialised module stays in
    sys.modules); it is raised once the import is complete, and the previous handler is back."""
    steps = []
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # also under nohup, which ignores SIGINT
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_held():
            steps.append("first half")
            signal.raise_signal(signal.SIGINT)
            steps.append("second half")
        assert steps == ["first half", "second half"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with interrupts_held():  # no Ctrl-C: nothing raised
            steps.append("quiet")
        assert steps[-1] == "quiet"
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_the_command_line_loads(monkeypatch, capsys):
    """The console script's first moments (PyAV and the settings loading): one line and 130, no traceback."""
    from videocolor import _console

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.delitem(sys.modules, "videocolor._cli.main", raising=False)
    monkeypatch.setattr("builtins.__import__", interrupt)
    status = _console.main()
    monkeypatch.undo()
    assert status == 130
    assert capsys.readouterr().err == "videocolor: interrupted; no output was written\n"


def test_a_film_named_twice_is_colorized_once_and_a_listed_folder_gives_its_films(short_film, tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    for name in ("a.mp4", "b.mkv"):
        (films / name).write_bytes(short_film.read_bytes())
    (films / "notes.txt").write_text("not a film")
    (tmp_path / "link.mp4").symlink_to(films / "a.mp4")
    listed = tmp_path / "films.txt"
    listed.write_text("\ufefffilms/a.mp4\n# a comment\n./films/a.mp4\nlink.mp4\nfilms\n\n", encoding="utf-8")
    assert [p.name for p in expand_inputs([films / "b.mkv"], listed)] == ["a.mp4", "b.mkv"]
    listed.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InputError, match="not a text file of film paths"):
        expand_inputs([], listed)


def test_an_out_dir_that_is_a_file_is_one_line(short_film, color_ref, tmp_path):
    (tmp_path / "out").write_text("an archivist's file")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        run_batch([short_film], out_dir=tmp_path / "out", ref=color_ref, settings=FAST)
    assert (tmp_path / "out").read_text() == "an archivist's file"
