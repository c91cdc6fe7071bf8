"""Several colored keyframes in a shot: export of further frames, reading them back, rendering exact at each, refusals."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import opentimelineio as otio
import pytest
from helpers import SIZE, frames_lab, frames_rgb, mean_ab, painted, save_image, two_shots

from videocolor import Settings, colorize_video
from videocolor._cli.main import main
from videocolor._cli.shots import format_table
from videocolor.analysis.film import analyse, shot_table
from videocolor.analysis.keyframe_index import INDEX_NAME
from videocolor.analysis.keyframes import read_keyframes
from videocolor.colorist import keyframes as export_module
from videocolor.colorist.editorial import build_timeline
from videocolor.colorist.keyframes import choose_keyframes, export_keyframes
from videocolor.colorist.preview import Previewer
from videocolor.colorist.review import Board
from videocolor.errors import InputError
from videocolor.evaluation import synthetic as synth

SETTINGS = Settings(quiet=True, batch_size=4)
RED, BLUE = (35.0, 25.0), (5.0, -35.0)  # Lab a, b the colorist paints
FIRST, SECOND = 2, 11  # the frames of shot 0 (frames 0-13) colored


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A two-shot gray film, its analysis, and a keyframe folder with frames 2 and 11 of shot 0 and 20 of shot 1 too."""
    root = tmp_path_factory.mktemp("multi")
    path = synth.write_clip(root / "film.mp4", two_shots(), audio_seconds=0)
    found = analyse(path, quiet=True)
    keys = root / "keys"
    entries = export_keyframes(path, keys, found.shots, found.keyframes, extra={0: [SECOND, FIRST, FIRST], 1: [20]}).entries
    return path, found, keys, entries


def file_of(entries, frame: int) -> str:
    """The exported picture of film frame ``frame``."""
    return next(e.file for e in entries if e.frame == frame)


def test_export_writes_further_frames_one_pass_a_shot(film, tmp_path, monkeypatch):
    path, found, keys, entries = film
    first = choose_keyframes(found.keyframes)
    frames = sorted({(0, first[0]), (0, FIRST), (0, SECOND), (1, first[1]), (1, 20)})
    assert [(e.index, e.frame) for e in entries] == frames  # sorted by shot and frame, each once
    listed = json.loads((keys / INDEX_NAME).read_text())["shots"]
    assert [(e["index"], e["frame"]) for e in listed] == frames
    gray = frames_rgb(path)
    for entry in entries:
        expected = f"shot_{entry.index:04d}.png" if entry.frame == first[entry.index] else f"shot_{entry.index:04d}_{entry.frame:06d}.png"
        assert entry.file == expected
        picture = cv2.imread(str(keys / entry.file), cv2.IMREAD_UNCHANGED)
        assert picture.shape == SIZE and np.abs(picture.astype(int) - gray[entry.frame, ..., 0]).mean() < 2  # that very frame
        assert entry.time == pytest.approx(entry.frame / 25) and entry.lightness is not None
    calls = []
    frames_of = export_module.VideoSource.video_frames
    monkeypatch.setattr(export_module.VideoSource, "video_frames", lambda self, *a: calls.append(a) or frames_of(self, *a))
    export_keyframes(path, tmp_path / "again", found.shots, found.keyframes, extra={0: [FIRST, SECOND], 1: [20]})
    assert len(calls) == 2  # one pass a shot holding frames to export (2 shots, 5 frames), not one seek a frame
    with pytest.raises(InputError, match="frame 20 is not in shot 0"):
        export_keyframes(path, tmp_path / "outside", found.shots, found.keyframes, extra={0: [20]})
    with pytest.raises(InputError, match="no shot 5"):
        export_keyframes(path, tmp_path / "no_shot", found.shots, found.keyframes, extra={5: [1]})
    assert not (tmp_path / "outside").exists() and not (tmp_path / "no_shot").exists()


def test_cli_exports_frames_asked_for(film, tmp_path, capsys):
    path = film[0]
    keys = tmp_path / "keys"
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--keyframes-at", "3,00:00:00:12, 0.8", "--quiet"]) == 0
    listed = json.loads((keys / INDEX_NAME).read_text())["shots"]
    assert {3, 12, 20} <= {e["frame"] for e in listed}  # a frame number, a SMPTE timecode, seconds (0.8 s at 25 fps)
    assert (keys / "shot_0001_000020.png").is_file() or any(e["frame"] == 20 and e["file"] == "shot_0001.png" for e in listed)
    capsys.readouterr()
    for value, said in (("3,abc", "'abc' is not a frame number"), ("999", "frame 999, outside the film"), (",", "names no frame")):
        assert main(["shots", str(path), "--export-keyframes", str(tmp_path / "bad"), "--keyframes-at", value, "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--keyframes-at" in err and said in err, err
        assert not (tmp_path / "bad").exists()
    assert main(["shots", str(path), "--keyframes-at", "3", "--quiet"]) == 2
    assert "--export-keyframes" in capsys.readouterr().err


@pytest.fixture(scope="module")
def colored(film, tmp_path_factory):
    """The folder with frame 2 of shot 0 painted red, frame 11 painted blue (PNG over the gray), shot 1 left gray."""
    path, _, keys, entries = film
    folder = tmp_path_factory.mktemp("colored") / "keys"
    shutil.copytree(keys, folder)
    gray = frames_rgb(path)
    save_image(folder / file_of(entries, FIRST), painted(gray[FIRST], RED))
    save_image(folder / file_of(entries, SECOND), painted(gray[SECOND], BLUE))
    return folder


def test_two_colored_keyframes_of_a_shot_are_read_and_carried(film, colored):
    path, found, _, entries = film
    keys = read_keyframes(colored, found.shots, SIZE)
    assert [k.frame for k in keys.colored[0]] == [FIRST, SECOND] and keys.uncolored == [1]
    analysis = analyse(path, keyframes=colored, quiet=True)
    choice = analysis.choices[0]
    pts = {e.frame: e.pts for e in entries}
    assert choice.source == "keyframe" and [(p.name, t) for p, t in choice.keyframes] == [
        (file_of(entries, FIRST), pts[FIRST]), (file_of(entries, SECOND), pts[SECOND])]
    assert (choice.path, choice.keyframe) == choice.keyframes[0]
    rows = json.loads(json.dumps(analysis.to_json()))  # what a job stores
    assert shot_table(rows, analysis.time_base)[1] == analysis.choices
    old = [{k: v for k, v in row.items() if k != "keyframes"} for row in rows]  # a job stored before several keyframes
    assert shot_table(old, analysis.time_base)[1][0].keyframes == ((choice.path, pts[FIRST]),)
    markers = build_timeline(path, analysis).tracks[0][0].markers
    assert [m.name for m in markers if m.color == otio.schema.MarkerColor.RED] == [f"colored keyframe {FIRST}", f"colored keyframe {SECOND}"]


def test_render_is_exact_at_each_keyframe(film, colored, tmp_path):
    path = film[0]
    out = tmp_path / "out.mp4"
    colorize_video(path, out, keyframes=colored, settings=SETTINGS)
    frames = frames_rgb(out)
    lab = frames_lab(out)
    assert lab.shape[0] == 28
    gray = frames_rgb(path)
    for frame, ab in ((FIRST, RED), (SECOND, BLUE)):
        want = mean_ab(painted(gray[frame], ab))  # the painted colors, after the picture's own clipping to RGB
        assert np.abs(mean_ab(frames[frame]) - want).max() < 3, frame
        assert np.abs(lab[frame, 1:].flatten(1).mean(1).numpy() - want).max() < 3, frame
    assert np.abs(mean_ab(frames[FIRST]) - mean_ab(frames[SECOND])).max() > 25  # two colors, not one carried over
    # Between them each frame takes from both keyframes, the nearer weighing more: along the line from the red
    # keyframe's colors to the blue one's, the frames move from the one to the other.
    red, blue = mean_ab(frames[FIRST]), mean_ab(frames[SECOND])
    along = [float((mean_ab(frames[f]) - red) @ (blue - red) / ((blue - red) @ (blue - red))) for f in range(FIRST, SECOND + 1)]
    assert along[1] < 0.4 and along[-2] > 0.6, along
    assert all(b > a - 0.05 for a, b in zip(along, along[1:])), along


def _refused(film, colored, tmp_path, change) -> str:
    folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    shutil.copytree(colored, folder)
    change(folder)
    with pytest.raises(InputError) as error:
        read_keyframes(folder, film[1].shots, SIZE)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_refusals_name_the_file(film, colored, tmp_path):
    path, found, _, entries = film
    red = colored / file_of(entries, FIRST)

    def edit(change):
        def apply(folder):
            index = json.loads((folder / INDEX_NAME).read_text())
            (folder / INDEX_NAME).write_text(json.dumps(dict(index, shots=change(index["shots"]))))
        return apply

    message = _refused(film, colored, tmp_path, lambda f: shutil.copy(red, f / "shot_0000_000020.png"))
    assert "shot_0000_000020.png" in message and "outside shot 0" in message
    message = _refused(film, colored, tmp_path, lambda f: shutil.copy(red, f / "shot_0000_000005.png"))
    assert "shot_0000_000005.png" in message and f"not in {INDEX_NAME}" in message and "--keyframes-at 5" in message
    message = _refused(film, colored, tmp_path, lambda f: shutil.copy(red, f / f"shot_0000_{FIRST:06d}.jpg"))
    assert "two colored" in message and f"frame {FIRST} " in message
    primary = choose_keyframes(found.keyframes)[0]  # shot_0000.png and shot_0000_<its frame>.png both show it
    message = _refused(film, colored, tmp_path, lambda f: (
        save_image(f / "shot_0000.png", painted(frames_rgb(path)[primary], RED)), shutil.copy(f / "shot_0000.png", f / f"shot_0000_{primary:06d}.jpg")))
    assert "two colored" in message
    assert "frame 2 twice" in _refused(film, colored, tmp_path, edit(lambda shots: [*shots, next(e for e in shots if e["frame"] == FIRST)]))
    assert "no keyframe of shot 1" in _refused(film, colored, tmp_path, edit(lambda shots: [e for e in shots if e["index"] == 0]))
    assert "for two frames" in _refused(film, colored, tmp_path, edit(lambda shots: [
        dict(e, file="shot_0000.png") if e["frame"] == SECOND else e for e in shots]))
    blue = colored / file_of(entries, SECOND)  # each picture is checked against its own frame
    message = _refused(film, colored, tmp_path, lambda f: shutil.copy(blue, f / file_of(entries, FIRST)))
    assert file_of(entries, FIRST) in message and f"frame {FIRST} " in message and "does not show" in message


def test_four_digit_frames_and_an_old_index_still_read(film, colored, tmp_path):
    path, found, _, entries = film
    folder = tmp_path / "short"
    shutil.copytree(colored, folder)
    (folder / file_of(entries, SECOND)).rename(folder / f"shot_0000_{SECOND:04d}.png")
    assert [k.frame for k in read_keyframes(folder, found.shots, SIZE).colored[0]] == [FIRST, SECOND]
    old = tmp_path / "old"  # one entry a shot, its picture shot_SSSS: as before several keyframes a shot
    shutil.copytree(colored, old)
    index = json.loads((old / INDEX_NAME).read_text())
    index["shots"] = [e for e in index["shots"] if e["file"] in ("shot_0000.png", "shot_0001.png")]
    (old / INDEX_NAME).write_text(json.dumps(index))
    for name in (file_of(entries, FIRST), file_of(entries, SECOND), file_of(entries, 20)):
        if name not in ("shot_0000.png", "shot_0001.png"):
            (old / name).unlink()
    frame = index["shots"][0]["frame"]
    shutil.copy(film[2] / "shot_0000.png", old / "shot_0000.png")  # gray again, beside the colorist's JPEG
    save_image(old / "shot_0000.jpg", painted(frames_rgb(path)[frame], BLUE))
    keys = read_keyframes(old, found.shots, SIZE).colored
    assert list(keys) == [0] and [(k.frame, k.path.name) for k in keys[0]] == [(frame, "shot_0000.jpg")]


def test_preview_board_and_table_list_every_colored_keyframe(film, colored, tmp_path):
    path, _, _, entries = film
    analysis = analyse(path, keyframes=colored, quiet=True)
    names = [file_of(entries, FIRST), file_of(entries, SECOND)]
    assert f"{names[0]} +1 keyframes" in format_table(analysis)
    previews = Previewer(path, analysis, SETTINGS)
    assert [(c.path.name, c.source) for c in previews.candidates(0, 3)] == [(n, "keyframe") for n in names]
    gray = frames_rgb(path)
    second = previews.colorize(0, colored / names[1])  # the shot's keyframe colorized from the blue one
    assert mean_ab(second)[1] < mean_ab(previews.colorize(0, colored / names[0]))[1] - 20
    refs = tmp_path / "refs"
    refs.mkdir()
    save_image(refs / "cat.png", painted(gray[20], RED))
    board = Board(path, refs, tmp_path / "shots.toml", keyframes=colored, settings=SETTINGS)
    shot = board.shot(0)
    assert (shot["chosen"], [c["name"] for c in shot["candidates"]]) == ("keyframe", ["keyframe", "cat.png"])
