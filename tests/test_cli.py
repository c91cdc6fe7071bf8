"""The command line: help, version, defaults, and a one-line error with exit 2 for every bad input."""

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from helpers import frames_lab, frames_rgb, save_image

from videocolor import __version__
from videocolor._cli.main import main
from videocolor.evaluation import synthetic as synth
from videocolor.io.images import is_grayscale, read_rgb

FAST = ["--temporal", "off", "--quiet"]


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.err.strip()


def assert_one_line_error(code, err, *words):
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("videocolor: error:")]
    assert len(lines) == 1, err
    for word in words:
        assert str(word) in lines[0], lines[0]


def test_version_and_help():
    version = subprocess.run([sys.executable, "-m", "videocolor", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"videocolor {__version__}"
    helptext = subprocess.run(["videocolor", "--help"], capture_output=True, text=True)
    assert helptext.returncode == 0
    assert "examples:" in helptext.stdout and "--ref-dir" in helptext.stdout and "shots" in helptext.stdout


def test_default_output_beside_input_and_overwrite_rules(pan_clip, color_ref, tmp_path, capsys):
    clip = tmp_path / pan_clip.name
    clip.write_bytes(pan_clip.read_bytes())
    assert run_cli(capsys, clip, "--ref", color_ref, *FAST)[0] == 0
    out = tmp_path / "pan_color.mp4"
    with av.open(str(out)) as container:
        assert container.streams.video[0].frames == 12
    before = out.read_bytes()
    code, err = run_cli(capsys, clip, "--ref", color_ref, *FAST)
    assert_one_line_error(code, err, out, "already exists", "--overwrite")
    assert out.read_bytes() == before
    assert run_cli(capsys, clip, "--ref", color_ref, "--overwrite", *FAST)[0] == 0


def test_ref_dir_picks_the_matching_reference(pan_clip, ref_dir, tmp_path, capsys):
    """The astronaut reference (a red-white-blue scene), not the brown coffee, colored the film."""
    given = {"dir": ["--ref-dir", ref_dir, "--refs-per-shot", "1"], "astronaut": ["--ref", ref_dir / "astronaut_ref.png"],
             "coffee": ["--ref", ref_dir / "coffee.jpg"]}
    for name, refs in given.items():
        assert run_cli(capsys, pan_clip, *refs, "-o", tmp_path / f"{name}.mkv", *FAST)[0] == 0
    chosen, astronaut, coffee = (frames_lab(tmp_path / f"{name}.mkv")[:, 1:] for name in given)
    # The chroma is what the astronaut reference alone gives, and far from what the coffee one gives.
    assert (chosen - astronaut).abs().mean() < 0.5
    assert (chosen - coffee).abs().mean() > 5
    frame = frames_rgb(tmp_path / "dir.mkv")[0].astype(float)
    saturation = np.abs(frame - frame.mean(axis=2, keepdims=True)).mean()
    assert saturation > 4
    # Both references fused: the median of two is their mean, per pixel (then smoothed and upsampled alike).
    assert run_cli(capsys, pan_clip, "--ref-dir", ref_dir, "--refs-per-shot", "2", "-o", tmp_path / "two.mkv", *FAST)[0] == 0
    fused = frames_lab(tmp_path / "two.mkv")[:, 1:]
    assert (fused - (astronaut + coffee) / 2).abs().mean() < 0.2 * (astronaut - coffee).abs().mean()
    # The default fuses 3, and the folder holds 2: the same film as with 2.
    assert run_cli(capsys, pan_clip, "--ref-dir", ref_dir, "-o", tmp_path / "default.mkv", *FAST)[0] == 0
    assert np.array_equal(frames_rgb(tmp_path / "default.mkv"), frames_rgb(tmp_path / "two.mkv"))


def test_image_command(astronaut, color_ref, tmp_path, capsys):
    gray = save_image(tmp_path / "still.png", synth.to_gray(synth.still(astronaut, (96, 96))))
    code = main(["image", str(gray), "--ref", str(color_ref), "--quiet"])
    out = tmp_path / "still_color.png"
    assert code == 0 and capsys.readouterr().out.strip() == str(out)
    assert read_rgb(out).shape == (3, 96, 96) and not is_grayscale(read_rgb(out))
    outdir = tmp_path / "colored"
    outdir.mkdir()
    code, err = run_cli(capsys, "image", gray, gray, "--ref", color_ref, "-o", outdir, "--quiet", "--overwrite")
    assert_one_line_error(code, err, outdir / "still_color.png", "same output file")  # the same input twice
    assert list(outdir.iterdir()) == []


def _zero_frame_video(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize(
    "make_input, words",
    [
        (lambda d: d / "missing.mp4", ["missing.mp4", "not found"]),
        (lambda d: (d / "notes.mp4").write_text("not a film") and d / "notes.mp4", ["notes.mp4", "not a video"]),
        (lambda d: _audio_only(d / "song.m4a"), ["song.m4a", "no video stream"]),
        (lambda d: _zero_frame_video(d / "empty.mp4"), ["empty.mp4", "no"]),
    ],
    ids=["missing", "not-a-video", "no-video-stream", "zero-frames"],
)
def test_bad_film(make_input, words, color_ref, tmp_path, capsys):
    film = make_input(tmp_path)
    code, err = run_cli(capsys, film, "--ref", color_ref, "-o", tmp_path / "out.mp4", *FAST)
    assert_one_line_error(code, err, *words)
    assert not (tmp_path / "out.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if "videocolor-part" in p.name]


def _gray_ref(d: Path) -> Path:
    return save_image(d / "gray.png", synth.to_gray(synth.load_photo("chelsea")))


@pytest.mark.parametrize(
    "make_ref, words",
    [
        (lambda d: d / "nope.jpg", ["nope.jpg", "not found"]),
        (lambda d: (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken") and d / "broken.png", ["broken.png", "not an image"]),
        (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", ["notes.txt", "not an image"]),
        (_gray_ref, ["gray.png", "grayscale"]),
    ],
    ids=["missing", "corrupt", "not-an-image", "grayscale"],
)
def test_bad_reference(make_ref, words, pan_clip, tmp_path, capsys):
    code, err = run_cli(capsys, pan_clip, "--ref", make_ref(tmp_path), "-o", tmp_path / "out.mp4", *FAST)
    assert_one_line_error(code, err, *words)
    assert not (tmp_path / "out.mp4").exists()


def test_empty_and_missing_ref_dir(pan_clip, tmp_path, capsys):
    empty = tmp_path / "refs"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures here")
    assert_one_line_error(*run_cli(capsys, pan_clip, "--ref-dir", empty, "-o", tmp_path / "o.mp4", *FAST), "refs", "no images")
    assert_one_line_error(*run_cli(capsys, pan_clip, "--ref-dir", tmp_path / "nowhere", "-o", tmp_path / "o.mp4"), "nowhere", "not found")


def test_bad_output_paths(pan_clip, color_ref, tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, pan_clip, "--ref", color_ref, "-o", pan_clip, "--overwrite"), "is the input")
    missing = tmp_path / "no" / "such" / "dir" / "out.mp4"
    assert_one_line_error(*run_cli(capsys, pan_clip, "--ref", color_ref, "-o", missing), "does not exist")


def test_bad_device(pan_clip, color_ref, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    assert_one_line_error(*run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--device", "tpu"), "device must be auto, cpu, cuda or cuda:N", "tpu")
    if not torch.cuda.is_available():
        assert_one_line_error(*run_cli(capsys, pan_clip, "--ref", color_ref, "-o", out, "--device", "cuda"), "no CUDA GPU")


@pytest.mark.parametrize(
    "write",
    [
        lambda p, rgb: synth.cv2.imwrite(str(p), (rgb[..., ::-1].astype(np.uint16) * 257)),
        lambda p, rgb: synth.cv2.imwrite(str(p), np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 200, np.uint8)])),
        lambda p, rgb: __import__("PIL.Image").Image.fromarray(rgb).convert("CMYK").save(p),
        lambda p, rgb: __import__("PIL.Image").Image.fromarray(rgb).convert("P").save(p),
    ],
    ids=["16-bit.png", "rgba.png", "cmyk.jpg", "palette.png"],
)
def test_odd_but_valid_references_are_used(write, request, astronaut, pan_clip, tmp_path, capsys):
    ref = tmp_path / request.node.callspec.id
    write(ref, synth.still(astronaut, (120, 120)))
    code, err = run_cli(capsys, pan_clip, "--ref", ref, "-o", tmp_path / "o.mp4", *FAST)
    assert code == 0, err
    chroma = frames_lab(tmp_path / "o.mp4")[:, 1:].norm(dim=1).mean()
    assert chroma > 10  # the reference's colors reached the film
