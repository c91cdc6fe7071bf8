"""Output containers and encoders beyond the usual ones, checked with a player that is not PyAV."""

from pathlib import Path

import av
import pytest
from helpers import other_player

from videocolor._cli.main import main

FAST = ["--temporal", "off", "--device", "cpu", "--quiet"]


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip()


def settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text("[videocolor]\n" + text + "\n")
    return path


def test_a_container_without_sound_leaves_the_audio_out_with_a_warning(tmp_path, pan_clip, color_ref, capsys, caplog):
    """GIF holds no audio: the film's AAC track is left out with a warning, not a crash in the mux."""
    out = tmp_path / "film.gif"
    config = settings(tmp_path, 'codec = "gif"\npix_fmt = "rgb8"')
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--config", config, *FAST)
    assert code == 0, err
    assert "audio stream 1 (aac) cannot be stored in a gif file" in caplog.text
    played = other_player(out)
    assert (played["errors"], played["video"], played["audio"], played["frames"]) == ("", "gif", None, 12)


@pytest.mark.skipif("libsvtav1" not in av.codecs_available, reason="this FFmpeg has no SVT-AV1")
@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_an_encoder_whose_decoder_has_another_name_is_muxed(tmp_path, pan_clip, color_ref, capsys, suffix):
    """SVT-AV1 is opened at the film's rate (not 1/time base: "maximum 240 fps"), and its segments, read back through
    libdav1d, are copied into the film without looking up an encoder of that name."""
    out = tmp_path / f"film{suffix}"
    config = settings(tmp_path, 'codec = "libsvtav1"\npreset = "12"')
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--config", config, *FAST)
    assert code == 0, err
    played = other_player(out)
    assert (played["errors"], played["video"], played["audio"], played["frames"]) == ("", "av1", "aac", 12)
    assert played["audio_seconds"] == pytest.approx(other_player(pan_clip)["audio_seconds"], abs=0.05)


def test_an_mpg_output_gets_mpeg2_video_that_plays_every_frame(tmp_path, pan_clip, color_ref, capsys):
    """``codec = "auto"`` writes MPEG-2 into an MPEG program stream (H.264 there reads back out of order, and
    ``-o film.mpg`` was refused); the AAC audio is transcoded to MP2, which the container holds."""
    out = tmp_path / "film.mpg"
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, *FAST)
    assert code == 0, err
    played = other_player(out)
    assert (played["errors"], played["video"], played["audio"], played["frames"]) == ("", "mpeg2video", "mp2", 12)


@pytest.mark.parametrize(("name", "video"), [("film.gif", "gif"), ("film.y4m", "rawvideo")])
def test_codec_auto_writes_the_encoder_the_container_holds(tmp_path, pan_clip, color_ref, capsys, name, video):
    """A GIF (in a pixel format GIF takes) and a YUV4MPEG file from the default settings; they were refused,
    blaming libx264, which the user never asked for."""
    out = tmp_path / name
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, *FAST)
    assert code == 0, err
    played = other_player(out)
    assert (played["errors"], played["video"], played["frames"]) == ("", video, 12)


@pytest.mark.skipif("libtheora" in av.codecs_available, reason="this FFmpeg has Theora")
def test_a_container_whose_encoder_ffmpeg_lacks_is_refused_in_one_line(tmp_path, pan_clip, color_ref, capsys):
    out = tmp_path / "film.ogv"
    code, err = run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, *FAST)
    assert code == 2 and err.count("\n") == 0, err
    assert "film.ogv: a .ogv file holds libtheora video, an encoder this FFmpeg" in err and not out.exists()


@pytest.mark.parametrize("codec", ["libx265", "libsvtav1"])
def test_quiet_means_no_encoder_banners(tmp_path, pan_clip, color_ref, capfd, codec):
    """x265 and SVT-AV1 print their version, build and tuning to stderr themselves; --quiet leaves stderr empty."""
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec}")
    config = settings(tmp_path, f'codec = "{codec}"')
    assert main([str(pan_clip), "--ref", str(color_ref), "-o", str(tmp_path / "film.mkv"), "--config", str(config), *FAST]) == 0
    assert capfd.readouterr().err == ""
