"""Archive jobs (issue #6): batches, corrupt inputs, SIGKILL and resume, the Ray engine, segment muxing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import cut_film, frame_pts, frames_rgb, packets, worker_processes, worker_threads

from videocolor import Settings, colorize_video
from videocolor._cli import main as cli
from videocolor.config import CORES_PER_WORKER
from videocolor.errors import InputError
from videocolor.jobs import STATE_NAME, run_batch
from videocolor.jobs.engines import LocalEngine, default_workers
from videocolor.jobs.state import State
from videocolor.render.devices import machine_cores
from videocolor.render.devices import torch_threads as torch_threads_for

FAST = ["--temporal", "off", "--device", "cpu", "--quiet", "--config"]


@pytest.fixture(scope="module")
def fast_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.toml"
    path.write_text('preset = "ultrafast"\n')
    return path


@pytest.fixture(scope="module")
def films(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch_in")
    cut_film(folder / "a.mp4", ["astronaut", "coffee"], 8)
    cut_film(folder / "b.mkv", ["chelsea"], 12)
    cut_film(folder / "c.mp4", ["rocket", "astronaut"], 7)
    (folder / "d.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    return folder


@pytest.mark.slow
def test_batch_three_films_and_a_corrupt_one(films, ref_dir, fast_config, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code = cli.main(["batch", str(films), "--ref-dir", str(ref_dir), "--out-dir", str(out), "--workers", "2", *FAST, str(fast_config)])
    assert code == 1
    printed = capsys.readouterr().out
    assert "3 of 4 films done" in printed and "d.mp4" in printed
    for name in ("a.mp4", "b.mkv", "c.mp4"):
        source, output = films / name, out / f"{Path(name).stem}_color{Path(name).suffix}"
        assert frame_pts(output) == frame_pts(source)
        assert packets(output, "audio") == packets(source, "audio")
    report = json.loads((out / "videocolor-report.json").read_text())
    failed = [f for f in report["films"] if f["status"] == "failed"]
    assert [Path(f["input"]).name for f in failed] == ["d.mp4"] and "d.mp4" in failed[0]["error"]
    assert not (out / ".videocolor-work" / "a_color.mp4").exists()
    # A second run skips the finished films and reports the failed one again.
    before = (out / "a_color.mp4").stat().st_mtime_ns
    assert cli.main(["batch", str(films), "--ref-dir", str(ref_dir), "--out-dir", str(out), *FAST, str(fast_config)]) == 1
    assert (out / "a_color.mp4").stat().st_mtime_ns == before
    assert cli.main(["status", str(out)]) == 0
    assert "films done 3, films failed 1" in capsys.readouterr().out


def test_batch_names_outputs_as_a_single_run_does(astronaut, color_ref, tmp_path):
    """AVI, MPEG-PS and raw H.264 films: the batch named their outputs with its own code (``.mpg``, ``.h264``) and
    then refused them ("use .mkv or .mp4"); it now gets ``checks.default_output``'s names, and every film is done."""
    from helpers import SIZE, other_player

    from videocolor.checks import default_output
    from videocolor.evaluation import synthetic as synth

    clip = synth.pan(astronaut, 6, SIZE)
    sources = [synth.write_clip(tmp_path / "reel.avi", clip),  # AVI with AAC: written back as AVI
               synth.write_clip(tmp_path / "news.mpg", clip, codec="mpeg2video", audio_seconds=0),
               synth.write_clip(tmp_path / "camera.h264", clip, audio_seconds=0)]
    settings = Settings(temporal="off", device="cpu", quiet=True)
    report = run_batch(sources, out_dir=tmp_path / "out", ref=color_ref, settings=settings)
    assert not report.failed
    outputs = sorted(Path(f.output).name for f in report.films)
    assert outputs == sorted(default_output(s, settings.encoding(gpu=False)).name for s in sources)
    assert outputs == ["camera_color.mkv", "news_color.mpg", "reel_color.avi"]
    for name in outputs:
        found = other_player(tmp_path / "out" / name)
        assert found["errors"] == "" and found["frames"] == 6


@pytest.fixture(scope="module")
def long_film(tmp_path_factory) -> Path:
    """Six 2-second pans at 5 fps: several shot segments (the detector may join short shots)."""
    folder = tmp_path_factory.mktemp("long")
    return cut_film(folder / "long.mp4", ["astronaut", "coffee", "chelsea", "rocket", "astronaut", "coffee"], 10, Fraction(5))


def _segments(database: Path) -> list[sqlite3.Row]:
    """Every segment of every film in a job database, read through the library's ``State``."""
    return State(database).segments()


def _kill_after_the_first_done_segment(process: subprocess.Popen, database: Path) -> list[sqlite3.Row]:
    """Poll ``database`` until a segment is recorded as done, then SIGKILL the run's process group.

    Fails when the run ended before that, or finished before the kill: a resume test would then prove nothing.
    Returns the segments as the killed run left them.
    """
    deadline = time.monotonic() + 300
    while not (database.exists() and any(s["status"] == "done" for s in _segments(database))):
        assert process.poll() is None, f"the run ended (exit {process.returncode}) before a segment was recorded as done"
        assert time.monotonic() < deadline, "no segment recorded as done within 300 s"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    segments = _segments(database)
    assert len(segments) >= 3 and 1 <= sum(s["status"] == "done" for s in segments) < len(segments)
    return segments


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(long_film, color_ref, fast_config, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    args = ["batch", str(long_film), "--ref", str(color_ref), "--out-dir", str(out), "--workers", "1", *FAST, str(fast_config)]
    process = subprocess.Popen([sys.executable, "-m", "videocolor", *args], start_new_session=True)
    killed = _kill_after_the_first_done_segment(process, out / STATE_NAME)
    assert not (out / "long_color.mp4").exists()

    assert cli.main(args) == 0
    segments = _segments(out / STATE_NAME)
    assert all(s["status"] == "done" for s in segments)
    assert all(after["attempts"] == 1 for before, after in zip(killed, segments) if before["status"] == "done")  # kept, not redone
    assert sum(s["attempts"] > 1 for s in segments) <= 1  # one worker: at most its segment in flight is redone
    plain = tmp_path / "plain.mp4"
    assert cli.main([str(long_film), "--ref", str(color_ref), "-o", str(plain), *FAST, str(fast_config)]) == 0
    resumed = out / "long_color.mp4"
    assert frame_pts(resumed) == frame_pts(plain) == frame_pts(long_film)
    assert packets(resumed, "video") == packets(plain, "video")
    assert packets(resumed, "audio") == packets(long_film, "audio")


@pytest.mark.slow
def test_ray_engine_matches_local_engine(long_film, color_ref, tmp_path):
    ray = pytest.importorskip("ray")
    settings = Settings(temporal="off", device="cpu", preset="ultrafast", quiet=True)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        out.mkdir()
        if engine == "ray":
            ray.init(num_cpus=2, include_dashboard=False)
        try:
            report = run_batch([long_film], out_dir=out, ref=color_ref, settings=settings, engine=engine, workers=2)
        finally:
            if engine == "ray":
                ray.shutdown()
        assert not report.failed
        outputs[engine] = out / "long_color.mp4"
    assert frame_pts(outputs["ray"]) == frame_pts(outputs["local"]) == frame_pts(long_film)
    assert packets(outputs["ray"], "audio") == packets(long_film, "audio")
    # Ray gives a task one CPU thread, the local worker two: float sums differ in the last bits, so compare pixels.
    ray_frames, local_frames = frames_rgb(outputs["ray"]), frames_rgb(outputs["local"])
    assert len(ray_frames) == len(local_frames)
    diff = np.abs(ray_frames.astype(int) - local_frames.astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 8


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_single_film_killed_then_resumed(long_film, color_ref, fast_config, tmp_path, capsys, workers):
    out = tmp_path / "film_color.mp4"
    args = [str(long_film), "--ref", str(color_ref), "-o", str(out), "--workers", workers, *FAST, str(fast_config)]
    process = subprocess.Popen([sys.executable, "-m", "videocolor", *args], start_new_session=True)
    database = tmp_path / ".videocolor-work" / out.name / "state.sqlite"
    _kill_after_the_first_done_segment(process, database)
    assert not out.exists()

    changed = cli.main([*args, "--resume", "--work-size", "192"])
    assert changed == 2 and "work_size" in capsys.readouterr().err  # refuses to mix settings in one film
    with sqlite3.connect(database) as db:  # as if an earlier version had rendered the first segments
        stamp = json.loads(db.execute("SELECT fingerprint FROM films").fetchone()[0])
        db.execute("UPDATE films SET fingerprint=?", (json.dumps({**stamp, "version": "0.0.1"}),))
    assert cli.main([*args, "--resume"]) == 2
    assert "was made by videocolor 0.0.1, this is" in capsys.readouterr().err
    with sqlite3.connect(database) as db:
        db.execute("UPDATE films SET fingerprint=?", (json.dumps(stamp),))
    assert cli.main([*args, "--resume"]) == 0
    assert not database.parent.exists()
    assert not worker_processes(os.getpid()), "a worker process outlived the run"
    plain = tmp_path / "plain.mp4"
    assert cli.main([str(long_film), "--ref", str(color_ref), "-o", str(plain), *FAST, str(fast_config)]) == 0
    assert frame_pts(out) == frame_pts(plain) == frame_pts(long_film)
    assert packets(out, "video") == packets(plain, "video")


def test_a_film_in_two_workers_is_the_film_of_one(long_film, color_ref, tmp_path):
    """Segments rendered by two worker processes, temporal smoothing on, lossless: the same frames, bit for bit,
    the same pts, packets and audio as a render in this process."""
    settings = Settings(device="cpu", quiet=True, codec="ffv1", pix_fmt="yuv444p")
    reports = {n: colorize_video(long_film, tmp_path / f"{n}.mkv", ref=color_ref, settings=settings, workers=n) for n in (1, 2)}
    assert reports[2].segments == reports[1].segments >= 3  # work to spread
    one, two = tmp_path / "1.mkv", tmp_path / "2.mkv"
    assert np.array_equal(frames_rgb(one), frames_rgb(two))
    assert frame_pts(one) == frame_pts(two) == frame_pts(long_film)
    assert packets(one, "video") == packets(two, "video")
    assert packets(one, "audio") == packets(two, "audio")
    assert [data for _, data in packets(two, "audio")] == [data for _, data in packets(long_film, "audio")]  # copied (Matroska: ms pts)
    assert not worker_processes(os.getpid()), "a worker process outlived the run"


def test_a_film_of_one_segment_is_rendered_here_whatever_the_workers(color_ref, tmp_path, monkeypatch):
    """One shot is one segment: a worker process would only add its start-up, so none is started."""
    from videocolor.jobs import engines

    monkeypatch.setattr(engines, "LocalEngine", lambda workers: pytest.fail(f"{workers} worker process(es) started"))
    short_film = cut_film(tmp_path / "one.mp4", ["astronaut"], 6)
    report = colorize_video(short_film, tmp_path / "out.mp4", ref=color_ref, settings=Settings(device="cpu", quiet=True), workers=2)
    assert report.segments == 1 and report.frames == len(frame_pts(short_film))


def test_workers_are_whole_numbers_from_one(long_film, color_ref, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    for bad in ("0", "two"):
        with pytest.raises(SystemExit) as exit:
            cli.main([str(long_film), "--ref", str(color_ref), "-o", str(out), "--workers", bad])
        assert exit.value.code == 2 and "--workers" in capsys.readouterr().err
    with pytest.raises(InputError, match="workers must be a whole number of at least 1, got 0"):
        colorize_video(long_film, out, ref=color_ref, workers=0)
    assert not out.exists() and not (tmp_path / ".videocolor-work").exists()


def test_default_workers_one_per_gpu_else_per_cores():
    assert default_workers(cores=2, gpus=0) == 1
    assert default_workers(cores=16, gpus=0) == 16 // CORES_PER_WORKER
    assert default_workers(cores=16, gpus=2) == 2


def test_a_worker_threads_follow_its_share_of_the_cores():
    """Two workers on this machine: each counts half the cores for torch's and OpenCV's threads."""
    engine = LocalEngine(2)
    try:
        cores, cv2_threads, torch_threads = engine.submit("render", worker_threads).result()
    finally:
        engine.close()
    assert cores == max(1, machine_cores() // 2) == cv2_threads
    assert torch_threads == torch_threads_for(torch.device("cpu"), cores)


@pytest.fixture(scope="module")
def longer_film(tmp_path_factory) -> Path:
    """12 shots of 2 s (at 5 fps): enough segments that a second batch started during the first finds work."""
    photos = ["astronaut", "coffee", "chelsea", "rocket"] * 3
    return cut_film(tmp_path_factory.mktemp("longer") / "longer.mp4", photos, 10, Fraction(5))


def _running_workers(database: Path) -> set[str]:
    """The claimers of the segments being rendered now."""
    return {s["worker"] for s in _segments(database) if s["status"] == "running"} if database.exists() else set()


@pytest.mark.slow
def test_two_batch_processes_share_an_out_dir_without_rendering_twice(longer_film, color_ref, fast_config, tmp_path):
    """The first batch is frozen (SIGSTOP to its process group) while it holds a segment, so the second one
    renders while the first's claim is live whatever the machine's speed; then both run to the end."""
    out = tmp_path / "out"
    out.mkdir()
    database = out / STATE_NAME
    args = ["batch", str(longer_film), "--ref", str(color_ref), "--out-dir", str(out), "--workers", "1", *FAST, str(fast_config)]
    first = subprocess.Popen([sys.executable, "-m", "videocolor", *args], start_new_session=True)
    deadline = time.monotonic() + 300
    while not (held := _running_workers(database)):
        assert first.poll() is None and time.monotonic() < deadline, "the first batch never rendered a segment"
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        second = subprocess.Popen([sys.executable, "-m", "videocolor", *args])
        while not (_running_workers(database) - held):  # the second renders another segment beside the frozen claim
            assert second.poll() is None and time.monotonic() < deadline, "the second batch never rendered beside the first"
            time.sleep(0.02)
        assert held <= _running_workers(database), "the first batch's claim was taken from it while it lived"
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert first.wait(300) == 0 and second.wait(300) == 0
    segments = _segments(database)
    assert segments and all(s["status"] == "done" and s["attempts"] == 1 for s in segments)
    assert frame_pts(out / "longer_color.mp4") == frame_pts(longer_film)


@pytest.mark.slow
def test_batch_never_replaces_a_file_it_did_not_make(films, color_ref, fast_config, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "b_color.mkv"
    mine.write_bytes(b"an archivist's earlier master")
    args = ["batch", str(films / "b.mkv"), "--ref", str(color_ref), "--out-dir", str(out), *FAST, str(fast_config)]
    assert cli.main(args) == 1
    assert mine.read_bytes() == b"an archivist's earlier master"
    assert "already exists; pass --overwrite" in capsys.readouterr().out
    assert cli.main([*args, "--overwrite"]) == 0
    assert frame_pts(mine) == frame_pts(films / "b.mkv")


def test_fingerprint_covers_the_references(long_film, color_ref, ref_dir):
    """A resume with another reference (file or folder) must not pass as the same run."""
    from videocolor.jobs import fingerprint

    settings = Settings()
    base = fingerprint(long_film, settings, color_ref)
    assert fingerprint(long_film, settings, next(p for p in ref_dir.iterdir() if p.suffix == ".jpg")) != base
    assert fingerprint(long_film, settings, None, ref_dir) != base
