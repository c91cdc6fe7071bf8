"""Film scans as numbered image files: found, read at their bit depth, written as sequences or films, hostile cases."""

import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from helpers import frame_pts, mirrored_reference, save_image, write_sequence

from videocolor._cli.main import main
from videocolor.errors import InputError
from videocolor.evaluation import synthetic as synth
from videocolor.io.analysis_reader import AnalysisReader
from videocolor.io.decode import VideoSource
from videocolor.io.sequence import find_sequence, parse_rate

FAST = ["--temporal", "off", "--device", "cpu", "--quiet"]
SIZE = (48, 64)  # (H, W)


@pytest.fixture(scope="module")
def pan() -> list[np.ndarray]:
    """12 true-color RGB uint8 frames of a pan over the astronaut at 64x48."""
    return synth.pan(synth.load_photo("astronaut"), 12, SIZE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    return save_image(tmp_path_factory.mktemp("refs") / "astronaut.png", mirrored_reference(synth.load_photo("astronaut")))


def read_sequence(pattern: Path, start: int) -> list[av.VideoFrame]:
    with av.open(str(pattern), format="image2", options={"start_number": str(start), "framerate": "24"}) as container:
        return list(container.decode(video=0))


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip()


def assert_one_line_error(code: int, err: str, *words) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("videocolor: error:")]
    assert len(lines) == 1, err
    for word in words:
        assert str(word) in lines[0], lines[0]


def lightness(rgb: np.ndarray) -> np.ndarray:
    """Lab L in [0, 100] of an RGB uint8/uint16 image."""
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
    return cv2.cvtColor(rgb.astype(np.float32) / scale, cv2.COLOR_RGB2Lab)[..., 0]


@pytest.mark.parametrize(
    ("text", "rate"),
    [("24", Fraction(24)), ("24000/1001", Fraction(24000, 1001)), ("23.976", Fraction(24000, 1001)),
     ("23.98", Fraction(24000, 1001)), ("29.97", Fraction(30000, 1001)), ("16.5", Fraction(33, 2)), ("18", Fraction(18)),
     ("47.952", Fraction(48000, 1001)), ("59.94", Fraction(60000, 1001)), ("24.0", Fraction(24)), ("2.4e1", Fraction(24)),
     ("0.004", Fraction(1, 250)), ("0.001", Fraction(1, 1000)), ("1/1000", Fraction(1, 1000)), ("1000", Fraction(1000)),
     ("1.998", Fraction(999, 500)), ("0.999", Fraction(999, 1000)), ("23.976023976", Fraction(24000, 1001))],
)
def test_frame_rates_are_exact(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    "text",
    ["0", "-24", "abc", "1/0", "24fps", "", "0/5", "1e-9", "0.0009", "1/1001", "1000.001", "1001", "nan", "inf", "-inf",
     "1e-40", "1e40", "16.123456789", "4294967295/4294967296"],
)
def test_bad_frame_rates_are_refused(text):
    with pytest.raises(InputError, match="--fps"):
        parse_rate(text)


def test_a_huge_exponent_is_refused_at_once():
    """``Fraction("1e999999999")`` would work out a billion-digit number: refused before, in a child process that must end."""
    code = "from videocolor.io.sequence import parse_rate\nfor text in ('1e999999999', '1e-999999999', '1e+' + '9' * 5000):\n" \
           "    try:\n        parse_rate(text)\n    except ValueError as error:\n        print(error)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.count("between 1/1000 and 1000") == 3, done.stdout + done.stderr


def test_a_folder_or_pattern_finds_the_one_sequence(tmp_path, pan):
    pattern = write_sequence(tmp_path / "scans", "frame_%06d.png", pan[:5], "gray16be", start=86400)
    (tmp_path / "scans" / "notes.txt").write_text("scanner log 2024")
    for given in (pattern, tmp_path / "scans"):
        sequence = find_sequence(given, Fraction(18))
        assert (sequence.pattern, sequence.start, sequence.count, sequence.rate) == (pattern, 86400, 5, 18)
    assert sequence.file(4).name == "frame_086404.png"
    unpadded = tmp_path / "unpadded"
    unpadded.mkdir()
    for number in range(12):
        (unpadded / f"f{number}.png").hardlink_to(pattern.parent / f"frame_{86400 + number % 5:06d}.png")
    sequence = find_sequence(unpadded, None)
    assert (sequence.pattern.name, sequence.start, sequence.count, sequence.rate) == ("f%d.png", 0, 12, 25)


def test_sequence_folders_that_are_not_one_film_are_refused(tmp_path, pan):
    write_sequence(tmp_path / "two", "a_%04d.png", pan[:2], "rgb24")
    write_sequence(tmp_path / "two", "b_%04d.png", pan[:2], "rgb24")
    with pytest.raises(InputError, match="several numbered sequences.*a_%04d.png, b_%04d.png"):
        find_sequence(tmp_path / "two", None)
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "readme.txt").write_text("no frames")
    with pytest.raises(InputError, match="holds no numbered image files"):
        find_sequence(tmp_path / "none", None)
    with pytest.raises(InputError, match="no file matches"):
        find_sequence(tmp_path / "two" / "c_%04d.png", None)


def test_sixteen_bit_sequence_in_sixteen_bit_sequence_out(tmp_path, pan, reference, capsys):
    """Same names, numbers, size and 16-bit depth; the scan's lightness kept at 16-bit precision; colored."""
    pattern = write_sequence(tmp_path / "scans", "frame_%06d.png", pan, "gray16be", start=100)
    code, _ = run_cli(capsys, pattern, "--fps", "24", "--ref", reference, *FAST)
    assert code == 0
    out = tmp_path / "scans_color"
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{n:06d}.png" for n in range(100, 112)]
    frames = read_sequence(out / "frame_%06d.png", 100)
    assert len(frames) == 12 and {f.format.name for f in frames} == {"rgb48be"}
    colored = [f.to_ndarray(format="rgb48le") for f in frames]
    assert all(c.dtype == np.uint16 and c.shape == (*SIZE, 3) for c in colored)
    assert np.mean(colored[0] % 257 != 0) > 0.5  # not 8-bit values scaled up
    source = [f.to_ndarray(format="rgb48le") for f in read_sequence(pattern, 100)]
    for a, b in zip(source, colored):
        assert np.abs(lightness(a) - lightness(b)).mean() < 0.5  # the scan's own lightness
    chroma = cv2.cvtColor(colored[5].astype(np.float32) / 65535, cv2.COLOR_RGB2Lab)[..., 1:]
    assert np.abs(chroma).mean() > 3  # colored, not gray
    assert not (tmp_path / ".videocolor-work").exists()


@pytest.mark.parametrize(
    ("name", "pix_fmt", "written"),
    [("f_%04d.tif", "rgb48le", "rgb48le"), ("f_%04d.dpx", "gbrp10le", "gbrp10le"), ("f_%04d.dpx", "rgb48le", "rgb48le"),
     ("f_%04d.png", "rgb24", "rgb24"), ("f_%04d.exr", "gbrpf32le", "gbrpf32le")],
)
def test_each_format_keeps_its_bit_depth(tmp_path, pan, reference, capsys, name, pix_fmt, written):
    pattern = write_sequence(tmp_path / "in", name, pan[:4], pix_fmt)
    assert run_cli(capsys, pattern.parent, "--fps", "24", "--ref", reference, *FAST)[0] == 0
    frames = read_sequence(tmp_path / "in_color" / name, 1)
    assert len(frames) == 4 and {f.format.name for f in frames} == {written}
    source = read_sequence(pattern, 1)
    for a, b in zip(source, frames):
        assert np.abs(lightness(a.to_ndarray(format="rgb48le")) - lightness(b.to_ndarray(format="rgb48le"))).mean() < 1


def test_sequence_to_film_and_film_to_sequence(tmp_path, pan, reference, pan_clip, capsys):
    pattern = write_sequence(tmp_path / "scans", "frame_%06d.tif", pan, "rgb48le", start=7)
    film = tmp_path / "film.mov"
    assert run_cli(capsys, pattern, "--fps", "23.976", "--ref", reference, "-o", film, *FAST)[0] == 0
    with av.open(str(film)) as container:
        assert not container.streams.audio
        stream = container.streams.video[0]
        assert stream.average_rate == Fraction(24000, 1001)
        seconds = [frame.pts * frame.time_base for frame in container.decode(stream)]
    assert seconds == [i * Fraction(1001, 24000) for i in range(12)]
    out = tmp_path / "frames" / "f_%04d.png"
    assert run_cli(capsys, pan_clip, "--ref", reference, "-o", out, *FAST)[0] == 0
    assert sorted(p.name for p in out.parent.iterdir()) == [f"f_{n:04d}.png" for n in range(1, 13)]
    assert {f.format.name for f in read_sequence(out, 1)} == {"rgb24"}  # an 8-bit film gives 8-bit frames


def test_a_gap_in_the_numbering_is_refused_with_the_missing_numbers(tmp_path, pan, reference, capsys):
    pattern = write_sequence(tmp_path / "scans", "frame_%04d.png", pan[:8], "rgb24")
    for number in (3, 6, 7):
        (tmp_path / "scans" / f"frame_{number:04d}.png").unlink()
    code, err = run_cli(capsys, pattern, "--fps", "24", "--ref", reference, *FAST)
    assert_one_line_error(code, err, pattern, "frame(s) 3, 6-7 missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans"]


def small_scan(folder: Path, pan: list[np.ndarray], pix_fmt: str = "rgb24", count: int = 6, start: int = 1) -> Path:
    """``count`` frames of 32x24 pixels, ``f_0001.png`` on."""
    return write_sequence(folder, "f_%04d.png", [cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in pan[:count]], pix_fmt, start)


def _other_size(frame: Path, pan) -> None:
    frame.write_bytes(write_sequence(frame.parent.parent / "odd", "f_%04d.png", [cv2.resize(pan[0], (48, 36))], "rgb24").with_name("f_0001.png").read_bytes())


def _other_depth(frame: Path, pan) -> None:
    frame.write_bytes(small_scan(frame.parent.parent / "odd", pan, "gray16be", count=1).with_name("f_0001.png").read_bytes())


DAMAGE = {  # what happens to frame 4 of 6: the words the one-line error must hold, besides the frame's file
    "empty": (lambda frame, pan: frame.write_bytes(b""), ["empty (0 bytes)"]),
    "link to /dev/zero": (lambda frame, pan: (frame.unlink(), frame.symlink_to("/dev/zero")), ["not a regular file"]),
    "dangling link": (lambda frame, pan: (frame.unlink(), frame.symlink_to(frame.parent / "gone.png")), ["cannot be read"]),
    "folder": (lambda frame, pan: (frame.unlink(), frame.mkdir()), ["is a folder"]),
    "garbage": (lambda frame, pan: frame.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), ["cannot be decoded"]),
    "truncated": (lambda frame, pan: frame.write_bytes(frame.read_bytes()[:100]), ["cannot be decoded"]),
    "other size": (_other_size, ["48x36", "32x24"]),
    "other bit depth": (_other_depth, ["16 bits per channel", "f_0001.png has 8"]),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_frame_is_refused_naming_its_file(tmp_path, pan, reference, capsys, kind):
    """Each kind of damage to one frame stops the render with one line naming that frame; nothing is written."""
    pattern = small_scan(tmp_path / "scans", pan)
    frame = pattern.with_name("f_0004.png")
    damage, words = DAMAGE[kind]
    damage(frame, pan)
    shutil.rmtree(tmp_path / "odd", ignore_errors=True)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = run_cli(capsys, pattern.parent, "--fps", "24", "--ref", reference, *FAST)
    assert_one_line_error(code, err, frame, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no work folder


def test_a_shallower_first_frame_does_not_make_a_deep_scan_shallow(tmp_path, pan, reference, capsys):
    pattern = small_scan(tmp_path / "scans", pan, "gray16be")
    small_scan(tmp_path / "first", pan, count=1).with_name("f_0001.png").replace(pattern.with_name("f_0001.png"))
    code, err = run_cli(capsys, pattern, "--fps", "24", "--ref", reference, *FAST)
    assert_one_line_error(code, err, pattern.with_name("f_0002.png"), "16 bits per channel", "f_0001.png has 8")
    assert not (tmp_path / "scans_color").exists()


def test_a_pipe_among_the_frames_is_refused_before_anything_reads_it(tmp_path, pan):
    """FFmpeg would wait forever on a FIFO (so this is not run through a render); sockets and devices are alike."""
    pattern = small_scan(tmp_path / "scans", pan)
    pattern.with_name("f_0003.png").unlink()
    os.mkfifo(pattern.with_name("f_0003.png"))
    with pytest.raises(InputError, match="f_0003.png: is not a regular file"):
        find_sequence(pattern.parent, None)


@pytest.mark.parametrize("command", ["shots", "preview", "review"])
def test_damaged_scans_stop_every_command_that_reads_them(tmp_path, pan, reference, capsys, command):
    pattern = small_scan(tmp_path / "scans", pan)
    frame = pattern.with_name("f_0005.png")
    frame.write_bytes(b"")
    extra = {"shots": ["--export-keyframes", tmp_path / "keys"], "preview": ["--ref-dir", reference.parent, "-o", tmp_path / "s.png"],
             "review": ["--ref-dir", reference.parent, "--port", "0"]}[command]
    code, err = run_cli(capsys, command, pattern, "--fps", "24", *extra, "--quiet")
    assert_one_line_error(code, err, frame, "empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans"]


@pytest.mark.parametrize(
    ("command", "flag", "name"),
    [([], "-o", "f_0002.png"), ([], "-o", "f_0099.png"), (["shots", "--ref-dir", "REFS"], "--sheet", "f_0003.png"),
     (["shots", "--ref-dir", "REFS"], "--write-overrides", "f_0042.png"), (["preview", "--ref-dir", "REFS"], "-o", "f_0001.png"),
     (["preview", "--ref-dir", "REFS"], "-o", "link.png"), (["shots"], "--export-keyframes", "."),
     (["review", "--ref-dir", "REFS"], "--overrides", "f_0007.png")],
)
def test_no_output_is_written_over_a_frame_of_the_scan(tmp_path, pan, reference, capsys, command, flag, name):
    """Not a frame (with --overwrite too), not a new number that would join the film, not through a link."""
    pattern = small_scan(tmp_path / "scans", pan)
    (tmp_path / "link.png").symlink_to(pattern.with_name("f_0001.png"))
    output = tmp_path / name if name == "link.png" else pattern.parent / name
    frames = {p.name: p.read_bytes() for p in pattern.parent.iterdir()}
    args = [str(reference.parent) if a == "REFS" else a for a in command]
    reference_args = ["--ref", reference] if not command else []
    overwrite = [] if command[:1] == ["review"] else ["--overwrite"]  # the review page edits its file in place
    code, err = run_cli(capsys, *args, pattern, "--fps", "24", *reference_args, flag, output, *overwrite, "--quiet")
    assert_one_line_error(code, err, output, "input scan")
    assert {p.name: p.read_bytes() for p in pattern.parent.iterdir()} == frames


def test_frames_lost_after_the_check_are_not_passed_over(tmp_path, pan):
    """A frame emptied or removed between the check and the read: the decoder's count against the numbering names it."""
    pattern = small_scan(tmp_path / "scans", pan)
    sequence = find_sequence(pattern, Fraction(24))
    with VideoSource(sequence) as source:
        assert [pts for pts, _ in source.frames()] == list(range(6))
        assert [pts for pts, _ in source.frames(2, 4)] == [2, 3]
    pattern.with_name("f_0004.png").write_bytes(b"")
    with VideoSource(sequence) as source, pytest.raises(InputError, match="f_0004.png: FFmpeg's image reader stops here, 3 frame"):
        list(source.frames())
    pattern.with_name("f_0006.png").unlink()
    with VideoSource(sequence) as source, pytest.raises(InputError, match="f_0004.png"):
        list(source.frames(1))
    with pytest.raises(InputError, match="f_0004.png"):
        list(AnalysisReader(sequence, quiet=True))


@pytest.mark.parametrize(
    ("names", "given", "patterns"),
    [(["f_1.png", "f_2.png", "f_3.png", "f_0004.png", "f_0005.png"], "", ["f_%04d.png", "f_%d.png"]),
     (["f_1.png", "f_2.png", "f_3.png", "f_0004.png", "f_0005.png"], "f_%04d.png", ["f_%04d.png", "f_%d.png"]),
     (["f_1.png", "f_2.png", "f_3.png", "f_0004.png", "f_0005.png"], "f_%d.png", ["f_%04d.png", "f_%d.png"]),
     (["f_001.png", "f_002.png", "f_0003.png"], "", ["f_%03d.png", "f_%04d.png"]),
     (["f_1.png", "f_02.png", "f_03.png"], "", ["f_%02d.png", "f_%d.png"]),
     (["f_1.png", "f_0001.png"], "", ["f_%04d.png", "f_%d.png"])],
)
def test_mixed_paddings_are_refused_naming_both_patterns(tmp_path, pan, reference, capsys, names, given, patterns):
    source = small_scan(tmp_path / "src", pan, count=1).with_name("f_0001.png")
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(source.read_bytes())
    with pytest.raises(InputError, match="two paddings") as error:
        find_sequence(folder / given, None)
    assert all(p in str(error.value) for p in patterns), error.value
    code, err = run_cli(capsys, folder / given, "--fps", "24", "--ref", reference, *FAST)
    assert_one_line_error(code, err, folder, *patterns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans", "src"]


def test_frame_numbers_ffmpeg_cannot_count_to_are_refused_and_the_largest_it_can_are_read(tmp_path, pan, reference, capsys):
    near = small_scan(tmp_path / "near", pan, count=3, start=2**31 - 5)  # 2147483643 to 2147483645
    with VideoSource(find_sequence(near, Fraction(24))) as source:
        assert len(list(source.frames())) == 3
    for start, count in ((2**31 - 3, 3), (2**31, 2), (10**30, 2)):
        folder = tmp_path / f"past{start}"
        folder.mkdir()
        for number in range(start, start + count):
            (folder / f"f_{number}.png").write_bytes(near.with_name("f_2147483643.png").read_bytes())
        last = folder / f"f_{start + count - 1}.png"
        code, err = run_cli(capsys, folder, "--fps", "24", "--ref", reference, *FAST)
        assert_one_line_error(code, err, last, "past 2147483646", "renumber")
        assert not folder.with_name(f"{folder.name}_color").exists()


def test_a_slow_rate_is_kept_exactly(tmp_path, pan, reference, capsys):
    """0.004 fps (a frame every 250 s) is 1/250, not an NTSC rate 0 (which FFmpeg took for 25)."""
    pattern = small_scan(tmp_path / "scans", pan, count=3)
    film = tmp_path / "slow.mp4"
    assert run_cli(capsys, pattern, "--fps", "0.004", "--ref", reference, "-o", film, *FAST)[0] == 0
    assert frame_pts(film) == [0, 250, 500]


def test_bad_sequence_requests_are_one_line(tmp_path, pan, reference, pan_clip, capsys):
    pattern = write_sequence(tmp_path / "scans", "frame_%04d.png", pan[:3], "rgb24")
    cases = [
        ([tmp_path / "scans" / "none_%04d.png", "--fps", "24"], ["no file matches"]),
        ([pattern, "--fps", "0"], ["--fps 0", "between 1/1000 and 1000"]),
        ([pattern, "--fps", "-24"], ["--fps -24"]),
        ([pattern, "--fps", "fast"], ["--fps fast", "not a frame rate"]),
        ([pattern, "--fps", "1e-9"], ["--fps 1e-9", "between 1/1000 and 1000"]),
        ([pattern, "--fps", "nan"], ["--fps nan", "not a frame rate"]),
        ([pattern, "--fps", "16.123456789"], ["--fps 16.123456789", "more digits than FFmpeg keeps"]),
        ([pan_clip, "--fps", "24"], [pan_clip, "--fps is for image sequences"]),
        ([pattern, "-o", tmp_path / "film.mp4"], [pattern, "give --fps"]),
        ([pattern, "--fps", "24", "-o", tmp_path / "scans" / "c_%04d.png"], [tmp_path / "scans", "already exists"]),
        ([pattern, "--fps", "24", "-o", tmp_path / "no" / "such" / "c_%04d.png"], ["does not exist"]),
    ]
    (tmp_path / "scans_color").mkdir()
    cases.append(([pattern, "--fps", "24"], [tmp_path / "scans_color", "already exists"]))
    for args, words in cases:
        code, err = run_cli(capsys, *args, "--ref", reference, *FAST)
        assert_one_line_error(code, err, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans", "scans_color"]
    assert not any((tmp_path / "scans_color").iterdir())


def test_no_fps_times_a_sequence_at_25_and_says_so(tmp_path, pan, reference, caplog):
    pattern = write_sequence(tmp_path / "scans", "frame_%04d.png", pan[:3], "rgb24")
    code = main([str(pattern), "--ref", str(reference), "--temporal", "off", "--device", "cpu"])
    assert code == 0
    assert "no --fps given; timed at 25 fps" in caplog.text
    assert len(list((tmp_path / "scans_color").iterdir())) == 3


def test_an_interrupted_sequence_resumes_from_its_finished_segments(tmp_path, reference, monkeypatch):
    """Three 2-second shots at 5 fps are three segments; a failure in the second keeps the first segment's frames
    only (the partial ones are deleted), and the resumed run gives the same frames as an uninterrupted one."""
    from videocolor import Settings, colorize_video
    from videocolor.io.sequence_sink import SequenceSink

    shots = [synth.pan(synth.load_photo(name), 10, SIZE) for name in ("astronaut", "rocket", "coffee")]
    pattern = write_sequence(tmp_path / "scans", "f_%03d.png", [f for shot in shots for f in shot], "rgb24", start=10)
    settings = Settings(temporal="off", device="cpu", quiet=True)
    plain = tmp_path / "plain" / "f_%03d.png"
    colorize_video(pattern, plain, ref=reference, settings=settings, fps="5")

    write, calls, full = SequenceSink.write, [], [15]

    def failing_write(sink, rgb, pts):
        calls.append(pts)
        if len(calls) in full:  # the disk is full once, at the 15th frame
            full.clear()
            raise OSError(28, "No space left on device")
        write(sink, rgb, pts)

    monkeypatch.setattr(SequenceSink, "write", failing_write)
    with pytest.raises(OSError, match="No space"):
        colorize_video(pattern, ref=reference, settings=settings, fps="5")
    frames = tmp_path / ".videocolor-work" / "scans_color" / "frames"
    assert sorted(p.name for p in frames.iterdir()) == [f"f_{n:03d}.png" for n in range(10, 20)]
    assert not (tmp_path / "scans_color").exists()
    calls.clear()
    colorize_video(pattern, ref=reference, settings=settings, fps="5", resume=True)
    assert calls == list(range(10, 30))  # the first segment is not rendered again
    resumed = [f.to_ndarray() for f in read_sequence(tmp_path / "scans_color" / "f_%03d.png", 10)]
    expected = [f.to_ndarray() for f in read_sequence(plain, 10)]
    assert len(resumed) == 30 and all(np.array_equal(a, b) for a, b in zip(resumed, expected))
    assert not (tmp_path / ".videocolor-work").exists()


def test_a_deep_scan_into_a_deep_film_keeps_sixteen_bits(tmp_path, pan, reference):
    """16-bit scans into lossless 16-bit RGB FFV1: the frames are composed at 16 bits, not 8 bits scaled up."""
    from videocolor import Settings, colorize_video

    pattern = write_sequence(tmp_path / "scans", "f_%04d.tif", pan[:4], "gray16le")
    settings = Settings(temporal="off", device="cpu", quiet=True, codec="ffv1", pix_fmt="gbrp16le")
    colorize_video(pattern, tmp_path / "film.mkv", ref=reference, settings=settings, fps="24")
    with av.open(str(tmp_path / "film.mkv")) as container:
        frames = [f.to_ndarray(format="rgb48le") for f in container.decode(video=0)]
    assert len(frames) == 4 and np.mean(frames[0] % 257 != 0) > 0.5


def test_a_rotated_film_into_frames_says_the_rotation_is_not_kept(tmp_path, pan, reference, caplog):
    from videocolor import Settings, colorize_video

    film = tmp_path / "rotated.mp4"
    with av.open(str(film), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        stream.set_display_rotation(90)
        for i, rgb in enumerate(pan[:3]):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    colorize_video(film, tmp_path / "frames" / "f_%02d.tif", ref=reference, settings=Settings(temporal="off", device="cpu", quiet=True))
    assert "cannot hold the film's display rotation (90 degrees)" in caplog.text
    assert [f.width for f in read_sequence(tmp_path / "frames" / "f_%02d.tif", 1)] == [SIZE[1]] * 3  # as stored


def test_keyframes_of_a_scan_for_the_colorists_workflow(tmp_path, pan, capsys):
    """``videocolor shots`` reads a sequence too: its keyframes export at the scan's full resolution and 16 bits."""
    pattern = write_sequence(tmp_path / "scans", "frame_%04d.png", pan[:6], "gray16be", start=50)
    keys = tmp_path / "keys"
    assert main(["shots", str(tmp_path / "scans"), "--fps", "18", "--export-keyframes", str(keys), "--quiet"]) == 0
    assert "00:00:00.333" in capsys.readouterr().out  # 6 frames at 18 fps end at 1/3 s
    picture = cv2.imread(str(keys / "shot_0000.png"), cv2.IMREAD_UNCHANGED)
    assert picture.shape[:2] == SIZE and picture.dtype == np.uint16
    code, err = run_cli(capsys, "shots", pattern, "--fps", "0", "--export-keyframes", tmp_path / "k2")
    assert_one_line_error(code, err, "--fps 0")


def test_a_scan_with_an_alpha_channel_renders_and_says_its_transparency_is_not_kept(pan, color_ref, tmp_path, capsys, caplog):
    pattern = write_sequence(tmp_path / "scans", "f_%04d.png", pan[:3], "rgba")
    out = tmp_path / "film.mkv"
    assert main([str(pattern), "--fps", "24", "--ref", str(color_ref), "-o", str(out), *FAST]) == 0, capsys.readouterr().err
    assert "f_%04d.png: its frames have an alpha channel (rgba); the colorized frames have none" in caplog.text
    assert len(frame_pts(out)) == 3
