"""Films as archives hold them: extra video streams, wrapped or broken clocks, hidden damage, pipes, odd containers."""

import logging
import os
import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import SIZE

import videocolor
from videocolor import Settings
from videocolor.checks import default_output
from videocolor.errors import InputError, OutputError
from videocolor.evaluation import synthetic as synth
from videocolor.io.analysis_reader import AnalysisReader
from videocolor.io.encode import read_back_problem
from videocolor.io.encoders import EncodeSettings

FAST = Settings(temporal="off", preset="ultrafast", quiet=True)


def write_video(path: Path, frames: list[np.ndarray], *, format: str | None = None, time_base=Fraction(1, 25), start: int = 0,
                step: int = 1, options: dict | None = None, muxer: dict | None = None) -> Path:
    """Gray H.264 frames at pts ``start + i * step`` (``time_base``) into ``path``; no audio. ``options``: the
    encoder's, ``muxer``: the container's."""
    with av.open(str(path), "w", format=format, options=muxer or {}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"preset": "veryfast", **(options or {})}
        stream.codec_context.time_base = time_base
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(synth.to_gray(rgb), format="rgb24")
            frame.pts, frame.time_base = start + i * step, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def decoded_pts(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(container.streams.video[0])]


@pytest.fixture(scope="module")
def frames(astronaut):
    return synth.pan(astronaut, 24, SIZE)


def test_cover_picture_stream_is_skipped_for_the_film(frames, color_ref, tmp_path, caplog):
    src = tmp_path / "cover.mkv"
    with av.open(str(src), "w") as container:
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        film = container.add_stream("libx264", rate=25)
        film.width, film.height, film.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 200, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1)
            container.mux(cover.encode(frame))
        container.mux(cover.encode())
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(synth.to_gray(rgb), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            container.mux(film.encode(frame))
        container.mux(film.encode())
    with caplog.at_level(logging.WARNING, logger="videocolor"):
        report = videocolor.colorize_video(src, ref=color_ref, settings=FAST)
    assert report.frames == len(frames)
    with av.open(str(report.output)) as out:
        assert (out.streams.video[0].width, out.streams.video[0].height) == (SIZE[1], SIZE[0])
    assert "video stream 0" in caplog.text and "left out" in caplog.text


def test_mpeg_ts_clock_wrap_keeps_every_frame(frames, color_ref, tmp_path):
    # the first 1.5 s lie before the 2^33 wrap: FFmpeg shows them at negative times
    src = write_video(tmp_path / "wrap.ts", frames * 2, format="mpegts", time_base=Fraction(1, 90000), start=2**33 - 135000, step=3600)
    report = videocolor.colorize_video(src, ref=color_ref, settings=FAST)
    assert report.frames == 48
    pts = decoded_pts(report.output)
    assert len(pts) == 48 and all(b - a == 3600 for a, b in zip(pts, pts[1:]))


def test_damage_the_demuxer_hides_is_reported_as_timecodes(astronaut, tmp_path, caplog):
    """Two whole Matroska clusters zeroed, one in the middle and the last: the demuxer skips them and says nothing
    (the frames are gone, the timestamps go on; the file still announces 4.8 s). Clusters of 1 s make the damage
    land on whole frames whatever bytes x264 wrote."""
    src = write_video(tmp_path / "whole.mkv", synth.pan(astronaut, 120, SIZE), time_base=Fraction(1, 1000), step=40,
                      muxer={"cluster_time_limit": "1000"})
    data = bytearray(src.read_bytes())
    clusters = [m.start() for m in re.finditer(rb"\x1f\x43\xb6\x75", data)]  # Matroska's Cluster ID
    assert len(clusters) >= 4, clusters
    for start, end in ((clusters[len(clusters) // 2], clusters[len(clusters) // 2 + 1]), (clusters[-1], len(data))):
        data[start:end] = bytes(end - start)
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="videocolor"):
        reader = AnalysisReader(damaged, quiet=True)
    lost = 120 - len(reader)
    assert lost > 0
    assert "frames missing" in caplog.text
    assert sum(int(n) for n in re.findall(r"\((\d+) frames?\)", caplog.text)) == lost
    assert "-00:00:04.800" in caplog.text  # the announced end, as a timecode


@pytest.mark.parametrize("kind", ["bframes.avi", "joined.ts", "raw.h264"])
def test_broken_timestamps_are_rebuilt_from_the_frame_rate(kind, astronaut, color_ref, tmp_path, caplog):
    clip = synth.pan(astronaut, 12, SIZE)
    if kind == "bframes.avi":  # AVI keeps decode order only: the decoder hands out frames at out-of-order pts
        src = synth.write_clip(tmp_path / kind, clip, options={"x264-params": "bframes=3:b-adapt=0"})
        expected = 12
    elif kind == "joined.ts":  # two captures joined end to end: video and audio times restart
        part = synth.write_clip(tmp_path / "part.ts", clip)
        src = tmp_path / kind
        src.write_bytes(part.read_bytes() * 2)
        expected = 24
    else:
        src = write_video(tmp_path / kind, clip, format="h264")
        expected = 12
    with caplog.at_level(logging.WARNING, logger="videocolor"):
        report = videocolor.colorize_video(src, ref=color_ref, settings=FAST)
    assert report.frames == expected
    assert caplog.text.count("timestamps rebuilt from the frame rate (25 fps)") == 1
    assert report.output.suffix == (".mkv" if kind == "raw.h264" else Path(kind).suffix)  # raw H.264 cannot carry pts
    with av.open(str(report.output)) as out:  # the output reads back: frames in order, one frame duration apart
        stream = out.streams.video[0]
        times = [frame.pts * stream.time_base for frame in out.decode(stream)]
        assert len(times) == expected
        assert all(b - a == Fraction(1, 25) for a, b in zip(times, times[1:]))
    if kind == "joined.ts":
        with av.open(str(report.output)) as out:
            audio = [p.pts * p.time_base for p in out.demux(out.streams.audio[0]) if p.size]
        assert all(b > a for a, b in zip(audio, audio[1:]))
        assert abs(audio[-1] - times[-1]) < Fraction(1, 5)  # audio continues over the join, in step with the video


def test_a_pipe_is_refused_at_once(color_ref, tmp_path):
    fifo = tmp_path / "film.mp4"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="film.mp4: the input must be a regular, seekable file"):
        videocolor.colorize_video(fifo, tmp_path / "out.mp4", ref=color_ref, settings=FAST)
    assert not (tmp_path / ".videocolor-work").exists()


def test_outputs_are_written_only_in_containers_that_read_back(frames, color_ref, tmp_path):
    x264 = EncodeSettings("libx264")
    assert read_back_problem(".mpg", x264)  # H.264 in MPEG-PS: written, then no timestamps on reading
    assert read_back_problem(".h264", EncodeSettings())  # raw H.264 has no timestamps at all
    assert not read_back_problem(".avi", x264)  # AVI keeps decode order only: written without B-frames
    assert not read_back_problem(".mp4", x264) and not read_back_problem(".mkv", x264)
    src = write_video(tmp_path / "film.mpg", frames[:6], format="mpeg")
    assert default_output(src, EncodeSettings()) == tmp_path / "film_color.mpg"  # auto: MPEG-2, which reads back
    assert default_output(src, x264) == tmp_path / "film_color.mkv"
    assert default_output(tmp_path / "film.mov", EncodeSettings()) == tmp_path / "film_color.mov"
    assert default_output(tmp_path / "film.avi", EncodeSettings()) == tmp_path / "film_color.avi"
    with pytest.raises(OutputError, match=r"out\.mpg: FFmpeg writes libx264 video into \.mpg files but"):
        videocolor.colorize_video(src, tmp_path / "out.mpg", ref=color_ref, settings=FAST.replace(codec="libx264"))
    report = videocolor.colorize_video(src, ref=color_ref, settings=FAST)
    assert report.output.name == "film_color.mpg" and len(decoded_pts(report.output)) == 6


def test_ffmpeg_and_decord_messages_stay_off_the_terminal(astronaut, tmp_path, capfd, caplog):
    from videocolor.io.decode import VideoSource

    src = write_video(tmp_path / "clip.mp4", synth.pan(astronaut, 24, SIZE))
    data = bytearray(src.read_bytes())
    for offset in range(len(data) // 3, 2 * len(data) // 3, 997):  # damage inside the coded pictures
        data[offset : offset + 8] = b"\xff" * 8
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(src.read_bytes()[:4000])  # FFmpeg logs "moov atom not found"
    with caplog.at_level(logging.DEBUG, logger="videocolor"):
        assert len(list(AnalysisReader(damaged, quiet=True))) > 0  # decord reads it, or PyAV after it
        with VideoSource(damaged) as source:
            assert sum(1 for _ in source.frames()) > 0
        with pytest.raises(InputError):
            VideoSource(truncated)
    err = capfd.readouterr().err
    assert "@ 0x" not in err and "workspace" not in err and "corrupted" not in err


@pytest.mark.parametrize("name", ["sheet.xyz", "sheet.exr", "sheet"])
@pytest.mark.parametrize("command", ["preview", "shots --sheet", "image"])
def test_a_picture_output_opencv_cannot_write_is_refused_up_front(command, name, pan_clip, color_ref, ref_dir, tmp_path, capsys):
    """Every command that writes a picture checks its extension before the work (OpenCV raised at the end)."""
    from videocolor._cli.main import main

    out = tmp_path / name
    argv = {
        "preview": ["preview", str(pan_clip), "--ref-dir", str(ref_dir), "-o", str(out)],
        "shots --sheet": ["shots", str(pan_clip), "--ref-dir", str(ref_dir), "--sheet", str(out)],
        "image": ["image", str(color_ref), "--ref", str(color_ref), "-o", str(out)],
    }[command]
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"videocolor: error: {out}: cannot write") and "use .png" in err[0]
    assert list(tmp_path.iterdir()) == []
