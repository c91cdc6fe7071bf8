"""A colorist's keyframes: export, render from colored keyframes (exact there, propagated around), bad folders."""

from __future__ import annotations

import json
import logging
import shutil

import cv2
import numpy as np
import pytest
import synth
from helpers import SIZE, frames_rgb, save_image, two_shots

from videocolor import Settings, colorize_video, metrics
from videocolor.analysis import analyse
from videocolor.cli import main
from videocolor.errors import InputError, OutputError
from videocolor.keyframes import INDEX_NAME, export_keyframes, read_keyframes
from videocolor.overrides import read_overrides
from videocolor.preview import Previewer
from videocolor.review import Board

SETTINGS = Settings(quiet=True, batch_size=4)


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A two-shot gray film (a pan over the astronaut, then a zoom on a cat): path, true colors, keyframes, analysis."""
    root = tmp_path_factory.mktemp("keyframes")
    truth = two_shots()
    path = synth.write_clip(root / "film.mp4", truth, audio_seconds=0)
    truth_path = synth.write_clip(root / "truth.mp4", truth, gray=False, audio_seconds=0)
    keys = root / "keys"
    found = analyse(path, quiet=True)
    entries = export_keyframes(path, keys, found.shots, found.keyframes)
    return path, frames_rgb(truth_path), keys, entries, found


def test_export_writes_gray_keyframes_and_their_frames(film):
    path, _, keys, entries, found = film
    listed = json.loads((keys / INDEX_NAME).read_text())
    assert [e["index"] for e in listed] == [0, 1] and listed[0]["end_frame"] + 1 == listed[1]["start_frame"] == 14
    gray = frames_rgb(path)
    for entry in listed:
        assert set(entry) == {"index", "frame", "pts", "time", "start_frame", "end_frame", "file"}
        assert entry["start_frame"] <= entry["frame"] <= entry["end_frame"]
        picture = cv2.imread(str(keys / entry["file"]), cv2.IMREAD_UNCHANGED)
        assert picture.shape == SIZE  # one channel, full resolution
        assert np.abs(picture.astype(int) - gray[entry["frame"], ..., 0]).mean() < 2  # that very frame
        assert entry["time"] == pytest.approx(entry["frame"] / 25)
    before = (keys / INDEX_NAME).read_bytes()
    with pytest.raises(OutputError, match="overwrite"):
        export_keyframes(path, keys, found.shots, found.keyframes)
    assert (keys / INDEX_NAME).read_bytes() == before
    assert len(export_keyframes(path, keys, found.shots, found.keyframes, overwrite=True)) == len(entries)


@pytest.fixture(scope="module")
def colored(film, tmp_path_factory):
    """The keyframe folder with shot 0 colored (the true colors, saved as a JPEG at twice the size); shot 1 left gray."""
    _, truth, keys, entries, _ = film
    folder = tmp_path_factory.mktemp("colored") / "keys"
    shutil.copytree(keys, folder)
    frame = truth[entries[0].frame]
    save_image(folder / "shot_0000.jpg", cv2.resize(frame, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    return folder


def test_render_is_exact_at_the_keyframe_and_propagates(film, colored, tmp_path, caplog):
    path, truth, _, entries, _ = film
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="videocolor"):
        colorize_video(path, out, keyframes=colored, settings=SETTINGS)
    warnings = [r.getMessage() for r in caplog.records if "stay gray" in r.getMessage()]
    assert len(warnings) == 1 and "shot(s) 1;" in warnings[0]
    frames = frames_rgb(out)
    key = entries[0].frame
    assert metrics.psnr(frames[key][None], truth[key][None]) >= 34  # JPEG at another scale, then x264
    assert np.abs(frames[14:].astype(int) - frames[14:, ..., :1]).max() <= 3  # shot 1 stays gray
    ref = tmp_path / "ref.png"
    save_image(ref, truth[key])
    plain = tmp_path / "plain.mp4"
    colorize_video(path, plain, ref=ref, settings=SETTINGS)
    near = slice(max(0, key - 3), key + 4)
    # The plain match carries the same frame's colors by its flow refinement too, less exactly (measured: 33.8
    # against 33.3 dB; 1 dB or more apart before the refinement).
    assert metrics.psnr(frames[near], truth[near]) > metrics.psnr(frames_rgb(plain)[near], truth[near]) + 0.3


def test_keyframe_folder_errors_name_the_file(film, colored, tmp_path):
    shots = film[4].shots

    def broken(change) -> str:
        folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        shutil.copytree(colored, folder)
        change(folder)
        with pytest.raises(InputError) as error:
            read_keyframes(folder, shots, SIZE)
        assert "\n" not in str(error.value)
        return str(error.value)

    assert "notes.txt" in broken(lambda f: (f / "notes.txt").write_text("x"))
    assert "shot_0007.png" in broken(lambda f: shutil.copy(f / "shot_0001.png", f / "shot_0007.png"))
    assert "aspect ratio" in broken(lambda f: save_image(f / "shot_0001.png", np.full((90, 90, 3), (200, 30, 30), np.uint8)))
    assert "two colored" in broken(lambda f: shutil.copy(f / "shot_0000.jpg", f / "shot_0000.tif"))
    assert "does not match" in broken(lambda f: (f / INDEX_NAME).write_text(json.dumps(
        [dict(e, end_frame=e["end_frame"] + 1) for e in json.loads((f / INDEX_NAME).read_text())])))
    assert "wrong type" in broken(lambda f: (f / INDEX_NAME).write_text(json.dumps(
        [dict(e, frame=str(e["frame"])) for e in json.loads((f / INDEX_NAME).read_text())])))
    assert "not a keyframe list" in broken(lambda f: (f / INDEX_NAME).write_text("[{\"index\": 0}]"))
    assert "film has 2" in broken(lambda f: (f / INDEX_NAME).write_text(json.dumps(json.loads((f / INDEX_NAME).read_text())[:1])))
    assert "not found" in broken(lambda f: (f / INDEX_NAME).unlink())
    (tmp_path / "hidden").mkdir()
    shutil.copytree(colored, tmp_path / "hidden" / "keys")
    (tmp_path / "hidden" / "keys" / ".DS_Store").write_text("x")
    assert list(read_keyframes(tmp_path / "hidden" / "keys", shots, SIZE).colored) == [0]


def test_cli_export_and_render_errors_are_one_line(film, colored, tmp_path, capsys):
    path, _, keys, _, _ = film
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    (colored / "notes.txt").write_text("x")
    try:
        code = main([str(path), "--keyframes", str(colored), "-o", str(tmp_path / "o.mp4"), "--quiet"])
    finally:
        (colored / "notes.txt").unlink()
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "notes.txt" in err
    assert not (tmp_path / "o.mp4").exists()


def test_preview_offers_the_colored_keyframe_first(film, colored):
    path, truth, _, entries, _ = film
    previews = Previewer(path, analyse(path, keyframes=colored, quiet=True), SETTINGS)
    first = previews.candidates(0, 3)[0]
    assert first.source == "keyframe" and first.path.name == "shot_0000.jpg" and previews.candidates(1, 3) == []
    key = entries[0].frame
    assert metrics.psnr(previews.colorize(0, first.path)[None], truth[key][None]) > 28


def test_review_board_offers_the_keyframe_and_choosing_it_clears_the_override(film, colored, tmp_path):
    path, _, _, _, _ = film
    refs = tmp_path / "refs"
    refs.mkdir()
    save_image(refs / "cat.png", synth.still(synth.load_photo("chelsea"), (90, 160)))
    board = Board(path, refs, tmp_path / "shots.toml", keyframes=colored, settings=SETTINGS)
    shot = board.shot(0)
    assert (shot["chosen"], shot["source"], shot["candidates"][0]["name"]) == ("keyframe", "keyframe", "keyframe")
    assert board.choose(0, "cat.png")["chosen"] == "cat.png"
    assert board.choose(0, "keyframe")["source"] == "keyframe"
    assert read_overrides(tmp_path / "shots.toml", board.analysis.shots) == {}
    assert board.preview_jpeg(0, "keyframe")[:2] == b"\xff\xd8"
