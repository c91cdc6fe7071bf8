"""Decode/encode contract: frames, pts, audio packets, metadata and odd inputs survive a render."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import SIZE, frame_pts, frames_lab, mirrored_reference, other_player, packets, save_image

import videocolor
from videocolor import Settings
from videocolor.evaluation import synthetic as synth
from videocolor.io.encode import partial_path

FAST = Settings(temporal="off", preset="ultrafast", quiet=True)


def test_frames_pts_audio_and_duration_kept(pan_clip, color_ref, tmp_path):
    out = tmp_path / "out.mp4"
    report = videocolor.colorize_video(pan_clip, out, ref=color_ref, settings=FAST)
    assert report.frames == 12 and report.bad_packets == 0
    assert frame_pts(out) == frame_pts(pan_clip)
    assert packets(out, "audio") == packets(pan_clip, "audio")
    with av.open(str(pan_clip)) as a, av.open(str(out)) as b:
        assert abs(a.duration - b.duration) <= 0.05 * av.time_base
        assert b.streams.video[0].codec_context.name == "h264"
        assert (b.streams.video[0].width, b.streams.video[0].height) == (SIZE[1], SIZE[0])
    assert not partial_path(out).exists()



@pytest.mark.parametrize("codec, pix_fmt", [("ffv1", "yuv444p"), ("libx264", "yuv420p")])
def test_every_frame_survives_in_mp4_whatever_the_codec(pan_clip, color_ref, tmp_path, codec, pix_fmt):
    """FFV1 gives its packets no duration: the MP4 must still hold (and play) the last frame."""
    out = tmp_path / "out.mp4"
    videocolor.colorize_video(pan_clip, out, ref=color_ref, settings=FAST.replace(codec=codec, pix_fmt=pix_fmt, preset="auto"))
    assert frame_pts(out) == frame_pts(pan_clip)

def test_variable_frame_rate_pts_survive(astronaut, tmp_path):
    src = tmp_path / "vfr.mkv"
    frames = synth.pan(astronaut, 8, SIZE)
    pts = [0, 40, 80, 200, 240, 400, 440, 480]  # ms, irregular gaps
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for p, rgb in zip(pts, frames):
            frame = av.VideoFrame.from_ndarray(synth.to_gray(rgb), format="rgb24")
            frame.pts, frame.time_base = p, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    out = tmp_path / "vfr_color.mkv"
    videocolor.colorize_video(src, out, ref=synth_ref(astronaut, tmp_path), settings=FAST)
    assert frame_pts(out) == frame_pts(src) == [Fraction(p, 1000) for p in pts]


def synth_ref(photo: np.ndarray, folder: Path) -> Path:
    return save_image(folder / "ref.png", mirrored_reference(photo))


def test_odd_size_kept_exactly_with_444(astronaut, tmp_path, caplog):
    src = synth.write_clip(tmp_path / "odd.mp4", synth.pan(astronaut, 4, (91, 161)), pix_fmt="yuv444p")
    out = tmp_path / "odd_color.mp4"
    videocolor.colorize_video(src, out, ref=synth_ref(astronaut, tmp_path), settings=FAST)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (161, 91)
        assert stream.codec_context.pix_fmt == "yuv444p"
    assert "odd size 161x91" in caplog.text


def test_rotation_and_color_metadata_kept(astronaut, tmp_path):
    src = tmp_path / "rotated.mp4"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        ctx = stream.codec_context
        ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 1, 1, 1, 1  # BT.709, limited range
        stream.set_display_rotation(90)
        for i, rgb in enumerate(synth.pan(astronaut, 3, SIZE)):
            frame = av.VideoFrame.from_ndarray(synth.to_gray(rgb), format="rgb24").reformat(
                format="yuv420p", dst_colorspace="itu709", dst_color_range=1
            )
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    out = tmp_path / "rotated_color.mp4"
    videocolor.colorize_video(src, out, ref=synth_ref(astronaut, tmp_path), settings=FAST)
    with av.open(str(out)) as container:
        ctx = container.streams.video[0].codec_context
        assert (int(ctx.colorspace), int(ctx.color_primaries), int(ctx.color_trc), int(ctx.color_range)) == (1, 1, 1, 1)
        assert next(container.decode(video=0)).rotation == 90


@pytest.mark.slow
def test_corrupt_packets_are_counted_and_skipped(astronaut, tmp_path, caplog):
    src = synth.write_clip(tmp_path / "clean.mkv", synth.pan(astronaut, 40, SIZE))
    data = bytearray(src.read_bytes())
    for offset in range(int(len(data) * 0.4), int(len(data) * 0.6), 97):
        data[offset] ^= 0xFF
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    out = tmp_path / "broken_color.mkv"
    report = videocolor.colorize_video(broken, out, ref=synth_ref(astronaut, tmp_path), settings=FAST)
    assert report.bad_packets >= 1
    assert 0 < report.frames < 40
    assert len(frame_pts(out)) == report.frames
    assert "corrupt packet" in caplog.text


@pytest.mark.slow
def test_pcm_audio_is_transcoded_for_mp4_and_copied_to_mkv(astronaut, tmp_path, caplog):
    """MP4 cannot hold unsigned 8-bit PCM, Matroska can."""
    src = tmp_path / "pcm.mkv"
    frames = synth.pan(astronaut, 5, SIZE)
    with av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        audio = container.add_stream("pcm_u8", rate=8000, layout="mono")
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(synth.to_gray(rgb), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode())
        samples = (np.sin(np.arange(1600) / 5) * 100 + 128).astype(np.uint8)[None]
        chunk = av.AudioFrame.from_ndarray(samples, format="u8", layout="mono")
        chunk.sample_rate, chunk.pts = 8000, 0
        container.mux(audio.encode(chunk))
        container.mux(audio.encode())
    ref = synth_ref(astronaut, tmp_path)
    as_mkv = tmp_path / "pcm_color.mkv"
    videocolor.colorize_video(src, as_mkv, ref=ref, settings=FAST)
    assert packets(as_mkv, "audio") == packets(src, "audio")
    as_mp4 = tmp_path / "pcm_color.mp4"
    videocolor.colorize_video(src, as_mp4, ref=ref, settings=FAST)
    assert "transcoding stream 1" in caplog.text
    with av.open(str(as_mp4)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(f.samples for f in container.decode(audio=0)) >= 1600


def test_subtitles_copied(astronaut, tmp_path):
    src = synth.write_clip(tmp_path / "plain.mkv", synth.pan(astronaut, 5, SIZE))
    subbed = tmp_path / "subbed.mkv"
    with av.open(str(src)) as inp, av.open(str(subbed), "w") as out:
        v = out.add_stream_from_template(inp.streams.video[0])
        sub = out.add_mux_stream("subrip")
        for packet in inp.demux(inp.streams.video[0]):
            if packet.size:
                packet.stream = v
                out.mux(packet)
        text = av.Packet(b"Hello archive")
        text.stream, text.pts, text.dts, text.duration = sub, 0, 0, 100
        text.time_base = sub.time_base
        out.mux(text)
    out = tmp_path / "subbed_color.mkv"
    videocolor.colorize_video(subbed, out, ref=synth_ref(astronaut, tmp_path), settings=FAST)
    assert [data for _, data in packets(out, "subtitles")] == [b"Hello archive"]


def test_color_input_uses_only_its_lightness(astronaut, tmp_path):
    """A faded color print: the output keeps the input's lightness and replaces its chroma."""
    faded = [np.clip(f * 0.8 + 30, 0, 255).astype(np.uint8) for f in synth.pan(astronaut, 4, SIZE)]
    src = synth.write_clip(tmp_path / "faded.mp4", faded, gray=False, options={"crf": "1"})
    out = tmp_path / "faded_color.mp4"
    videocolor.colorize_video(src, out, ref=synth_ref(astronaut, tmp_path), settings=FAST.replace(crf=1))
    before, after = frames_lab(src), frames_lab(out)
    assert (before[:, 0] - after[:, 0]).abs().mean() < 1.0
    assert (before[:, 1:] - after[:, 1:]).abs().mean() > 1.0  # chroma came from the reference, not the input


def test_failed_render_leaves_no_file(pan_clip, color_ref, tmp_path, monkeypatch):
    from videocolor.models.exemplar import ExemplarColorizer

    def explode(*args, **kwargs):
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr(ExemplarColorizer, "colorize", explode)
    out = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError, match="bus"):
        videocolor.colorize_video(pan_clip, out, ref=color_ref, settings=FAST)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_truncated_file_keeps_what_was_recorded(astronaut, tmp_path):
    src = synth.write_clip(tmp_path / "full.mkv", synth.pan(astronaut, 30, SIZE))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: int(src.stat().st_size * 0.6)])
    out = tmp_path / "cut_color.mkv"
    report = videocolor.colorize_video(cut, out, ref=synth_ref(astronaut, tmp_path), settings=FAST)
    assert 5 < report.frames < 30
    assert frame_pts(out) == frame_pts(cut)


@pytest.mark.parametrize(
    "codec, name, message",
    [
        ("libx264", "out.webm", r"out\.webm: a \.webm file cannot hold libx264 video .*codec = \"auto\" \(libvpx-vp9 for \.webm\)"),
        ("libx265", "out.avi", r"out\.avi: a \.avi file cannot hold libx265 video .*\(mpeg4 for \.avi\)"),
        ("mpeg4", "out.webm", r"out\.webm: a \.webm file cannot hold mpeg4 video"),
        ("auto", "out.ogg", r"out\.ogg: a \.ogg file cannot hold libx264 video .*; write a \.mkv, \.mp4 or \.mov$"),
        ("mjpeg", "out.mp4", r"out\.mp4: setting codec mjpeg: the encoder does not open for 160x90 yuv420p video"),
    ],
)
def test_unwritable_codec_container_pair_fails_before_rendering(pan_clip, color_ref, tmp_path, monkeypatch, codec, name, message):
    """The one at fault is named: the container that cannot hold the encoder, or the encoder that does not open."""
    from videocolor import VideocolorError
    from videocolor.render.pipeline import Renderer

    def never(*args, **kwargs):
        raise AssertionError("rendering started")

    monkeypatch.setattr(Renderer, "render_range", never)
    with pytest.raises(VideocolorError, match=message) as info:
        videocolor.colorize_video(pan_clip, tmp_path / name, ref=color_ref, settings=FAST.replace(codec=codec, preset="auto"))
    assert "\n" not in str(info.value) and "choose another codec or extension" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "suffix, video, audio",
    [(".mp4", "h264", "aac"), (".mkv", "h264", "aac"), (".mov", "h264", "aac"), (".webm", "vp9", "opus"),
     (".avi", "mpeg4", "aac"), (".nut", "h264", "aac"), (".ts", "h264", "aac")],
)
def test_every_output_kind_plays_in_another_player(pan_clip, color_ref, tmp_path, suffix, video, audio, caplog):
    """With codec auto the container chooses an encoder it holds; FFmpeg's own tools decode the film without an
    error, count every frame, and find the audio as long as the input's; PyAV reads the same pts."""
    out = tmp_path / f"film{suffix}"
    with caplog.at_level("WARNING", logger="videocolor"):
        videocolor.colorize_video(pan_clip, out, ref=color_ref, settings=FAST)
    found, source = other_player(out), other_player(pan_clip)
    assert found["errors"] == "" and (found["video"], found["audio"]) == (video, audio)
    assert found["frames"] == source["frames"] == 12
    assert abs(found["audio_seconds"] - source["audio_seconds"]) < 1 / 25
    assert frame_pts(out) == frame_pts(pan_clip)
    if suffix == ".webm":  # WebM holds Opus or Vorbis audio only: the AAC is transcoded, and the output named
        assert f"{out}: webm container cannot hold aac audio; transcoding stream 1 to libopus" in caplog.text
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("name", ["f_%04d.png", "f_%04d.tif", "f_%04d.dpx"])
def test_image_sequence_outputs_play_in_another_player(pan_clip, color_ref, tmp_path, name):
    """An image sequence output is read by FFmpeg's own image2 demuxer too: no error, every frame."""
    out = tmp_path / "frames" / name
    videocolor.colorize_video(pan_clip, out, ref=color_ref, settings=FAST)
    found = other_player(out)
    assert found["errors"] == "" and found["frames"] == 12 and found["audio"] is None


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_avi_reads_back_in_order_with_an_explicit_codec(astronaut, color_ref, tmp_path, codec):
    """AVI keeps decode order only: B-frames are turned off whatever the encoder (x264 uses them at its default
    preset), so the frames of a moving film read back in order, with PyAV and with ffprobe."""
    src = synth.write_clip(tmp_path / "zoom.mp4", synth.zoom(astronaut, 16, SIZE))
    out = tmp_path / "zoom.avi"
    videocolor.colorize_video(src, out, ref=color_ref, settings=FAST.replace(codec=codec, preset="auto"))
    found = other_player(out)
    assert found["errors"] == "" and found["frames"] == 16
    times = frame_pts(out)
    assert len(times) == 16 and all(b - a == Fraction(1, 25) for a, b in zip(times, times[1:]))


def odd_clock_film(path: Path, frames: list[np.ndarray]) -> tuple[Path, list[int]]:
    """Frames at a 1/90000 time base, starting at pts 7777 and 3600, 3750, 3603 ticks apart (a broadcast capture)."""
    time_base = Fraction(1, 90000)
    pts = [7777 + sum((3600, 3750, 3603)[j % 3] for j in range(i)) for i in range(len(frames))]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        for p, rgb in zip(pts, frames):
            frame = av.VideoFrame.from_ndarray(synth.to_gray(rgb), format="rgb24")
            frame.pts, frame.time_base = p, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path, pts


@pytest.mark.parametrize("suffix", [".nut", ".mp4", ".mov", ".ts"])
def test_odd_time_base_pts_come_out_exact(astronaut, color_ref, tmp_path, suffix):
    """B-frames (the default preset) give negative first decode times: NUT shifted every pts by them, MP4 and MOV
    wrote the start in milliseconds (7777/90000 came back as 7740/90000)."""
    src, pts = odd_clock_film(tmp_path / "capture.nut", synth.pan(astronaut, 10, SIZE))
    out = tmp_path / f"capture_color{suffix}"
    videocolor.colorize_video(src, out, ref=color_ref, settings=Settings(temporal="off", quiet=True))
    assert frame_pts(out) == [p * Fraction(1, 90000) for p in pts]
    assert other_player(out)["errors"] == ""


def test_avi_of_a_90khz_capture_counts_frames(astronaut, color_ref, tmp_path):
    """MPEG-4 Part 2's clock takes at most 1/65535 (avcodec_open2 refused 1/90000): AVI, which counts frames anyway,
    then gets the frame rate's clock, and every frame reads back in order in both players."""
    src, _ = odd_clock_film(tmp_path / "capture.nut", synth.pan(astronaut, 10, SIZE))
    out = tmp_path / "capture.avi"
    videocolor.colorize_video(src, out, ref=color_ref, settings=FAST)
    found = other_player(out)
    assert found["errors"] == "" and (found["video"], found["frames"]) == ("mpeg4", 10)
    times = frame_pts(out)
    assert len(times) == 10 and all(b > a for a, b in zip(times, times[1:]))


def test_segments_hold_the_source_pts(astronaut, tmp_path):
    """The per-segment NUT files themselves carry the source's exact pts, not shifted by the encoder's delay."""
    from videocolor.io.decode import VideoSource
    from videocolor.io.encoders import EncodeSettings, for_output
    from videocolor.io.segments import SegmentSink

    src, pts = odd_clock_film(tmp_path / "capture.nut", synth.pan(astronaut, 10, SIZE))
    with VideoSource(src) as film:
        decoded = [(frame.to_ndarray(format="rgb24"), frame.pts) for frame in film.decoded_frames()]
        info = film.info
    sink = SegmentSink(tmp_path / "seg-00000.nut", info, for_output(EncodeSettings(), ".mp4"))
    for rgb, p in decoded:
        sink.write(rgb, p)
    with av.open(str(sink.finish())) as segment:
        packets_ = [p for p in segment.demux(segment.streams.video[0]) if p.size]
        assert [p.pts for p in packets_] != sorted(p.pts for p in packets_)  # B-frames: decode order is not presentation order
        assert sorted(p.pts * p.time_base for p in packets_) == [p * Fraction(1, 90000) for p in pts]
