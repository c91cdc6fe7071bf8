"""``videocolor --report``: what a render did, as JSON, with the seconds of each stage; a bad report path
is refused before the render."""

import json
import sqlite3

import av
import pytest
from test_cli import FAST, assert_one_line_error, run_cli

from videocolor.jobs.state import State
from videocolor.render.film import SegmentResult
from videocolor.render.timings import STAGES, StageTimes


def test_report_tells_frames_shots_and_where_the_time_went(pan_clip, color_ref, tmp_path, capsys):
    out, report = tmp_path / "pan.mp4", tmp_path / "pan.json"
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--report", report, "--temporal", "dis", "--quiet")
    assert code == 0, err
    done = json.loads(report.read_text())
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert done["frames"] == frames == 12 and done["shots"] == 1 and done["model"] == "exemplar"
    assert done["output"] == str(out) and done["bad_packets"] == done["gray_frames"] == 0
    assert list(done["stage_seconds"]) == list(STAGES)
    seconds = done["stage_seconds"]
    for stage in ("analysis", "decode", "lightness", "model", "temporal", "upsample", "compose", "encode", "mux"):
        assert seconds[stage] > 0, stage  # each stage ran, and was timed
    assert seconds["model"] < done["seconds"] and done["fps"] == pytest.approx(frames / done["seconds"])


def test_a_report_that_cannot_be_written_is_refused_before_the_render(pan_clip, color_ref, tmp_path, capsys):
    out = tmp_path / "pan.mp4"
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--report", tmp_path / "missing" / "r.json", *FAST)
    assert_one_line_error(code, err, "missing", "does not exist")
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--report", out, *FAST)
    assert_one_line_error(code, err, "would replace the film's output")
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--report", pan_clip, "--overwrite", *FAST)
    assert_one_line_error(code, err, "is the input file")
    kept = tmp_path / "kept.json"
    kept.write_text("an earlier report")
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--report", kept, *FAST)
    assert_one_line_error(code, err, "already exists", "--overwrite")
    assert not out.exists() and kept.read_text() == "an earlier report"


def test_stage_times_add_up_and_refuse_unknown_stages():
    times = StageTimes({"model": 1.5})
    times.merge({"model": 0.5, "encode": 2.0})
    assert times.seconds()["model"] == 2.0 and times.seconds()["encode"] == 2.0
    with pytest.raises(KeyError, match="unknown render stage 'gpu'"):
        times.add("gpu", 1.0)


def test_a_job_state_written_before_stage_times_is_brought_up_to_date(tmp_path):
    """A batch folder from an earlier version (no ``segments.stages`` column) resumes: the column is added."""
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE segments (film INTEGER NOT NULL, idx INTEGER NOT NULL, first_shot INTEGER, last_shot INTEGER,"
            " start_pts INTEGER NOT NULL, end_pts INTEGER, frames INTEGER, status TEXT NOT NULL DEFAULT 'pending',"
            " attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, heartbeat REAL, error TEXT, first_pts INTEGER,"
            " frames_written INTEGER, bad_packets INTEGER, gray_frames INTEGER, seconds REAL, finished REAL,"
            " PRIMARY KEY (film, idx));"
            "INSERT INTO segments (film, idx, start_pts) VALUES (1, 0, 0);"
        )
    state = State(path)
    state.segment_done(1, SegmentResult(0, 0, 12, 0, 0, 1.0, {"model": 0.7}))
    (row,) = state.segments()
    assert row["status"] == "done" and json.loads(row["stages"]) == {"model": 0.7}
    State(path)  # a second opening finds the column there


def test_a_device_or_fifo_is_never_replaced_by_an_output(pan_clip, color_ref, tmp_path, capsys):
    """``-o /dev/null --overwrite`` (or a report there) must not rename a file over the device: a FIFO stands in."""
    import os
    import stat

    from videocolor.errors import OutputError
    from videocolor.io.atomic import write_atomic

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", fifo, "--overwrite", *FAST)
    assert_one_line_error(code, err, fifo, "not a regular file")
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", tmp_path / "pan.mp4", "--report", fifo, "--overwrite", *FAST)
    assert_one_line_error(code, err, fifo, "not a regular file")
    with pytest.raises(OutputError, match="not a regular file"):
        write_atomic(fifo, "{}")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not (tmp_path / "pan.mp4").exists()


def test_writers_of_one_path_at_once_leave_one_whole_file(tmp_path):
    """Two processes writing the same report at once each use a temporary file of their own: neither fails, the path
    ends as one writer's whole text, with a plain file's permissions, and no temporary is left. (With one temporary
    name for both, 18 of 80 writes failed here, one process renaming the other's file away.)"""
    import os
    import subprocess
    import sys

    path = tmp_path / "report.json"
    loop = "import sys\nfrom videocolor.io.atomic import write_atomic\nfor _ in range(40): write_atomic(sys.argv[1], sys.argv[2] * int(sys.argv[3]))"
    writers = [subprocess.Popen([sys.executable, "-c", loop, str(path), letter, str(size)]) for letter, size in (("a", 2_000_000), ("b", 3_000_000))]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert path.read_text() in ("a" * 2_000_000, "b" * 3_000_000)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
