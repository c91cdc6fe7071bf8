"""Adding keyframes to a colorist's folder: only new frames written, every picture there kept, another film refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import SIZE, frames_rgb, mean_ab, painted, save_image, two_shots

from videocolor import Settings, colorize_video
from videocolor._cli.main import main
from videocolor.analysis.film import analyse
from videocolor.analysis.keyframe_index import INDEX_NAME
from videocolor.analysis.keyframes import film_frames, read_keyframes
from videocolor.colorist import keyframes as export_module
from videocolor.colorist.keyframes import LOCK_NAME, choose_keyframes, export_keyframes
from videocolor.errors import OutputError
from videocolor.evaluation import synthetic as synth
from videocolor.io.atomic import exclusive

RED = (35.0, 25.0)  # Lab a, b the colorist paints
NEW, LATER = 11, 20  # frames of shot 0 (0-13) and shot 1 (14-27) asked for after the first export


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A two-shot gray film, its analysis, and its keyframe folder with shot 0's keyframe painted red over the gray PNG."""
    root = tmp_path_factory.mktemp("add")
    path = synth.write_clip(root / "film.mp4", two_shots(), audio_seconds=0)
    found = analyse(path, quiet=True)
    keys = root / "keys"
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--quiet"]) == 0
    first = choose_keyframes(found.keyframes)[0]
    save_image(keys / "shot_0000.png", painted(frames_rgb(path)[first], RED))
    return path, found, keys, first


def contents(folder) -> dict[str, bytes]:
    """Every file of ``folder`` (hidden ones too, a temporary file left over included) by name: its bytes; not the
    export's lock file, which stays once made."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != LOCK_NAME}


def copy(folder, to):
    shutil.copytree(folder, to)
    return to


def test_exporting_more_frames_keeps_the_colored_picture(film, tmp_path, capsys):
    path, found, keys, first = film
    keys = copy(keys, tmp_path / "keys")
    before = contents(keys)
    capsys.readouterr()
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--keyframes-at", f"{NEW},{LATER}", "--quiet"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"2 keyframes added to {keys}, 2 already there kept"
    after = contents(keys)
    assert {name: after[name] for name in before if name != INDEX_NAME} == {k: v for k, v in before.items() if k != INDEX_NAME}
    assert sorted(set(after) - set(before)) == [f"shot_0000_{NEW:06d}.png", f"shot_0001_{LATER:06d}.png"]
    gray = frames_rgb(path)
    for name, frame in ((f"shot_0000_{NEW:06d}.png", NEW), (f"shot_0001_{LATER:06d}.png", LATER)):
        picture = export_module.read_rgba(keys / name)
        assert export_module.is_grayscale(picture[:3])  # written gray, that very frame
        assert np.abs(picture[0].numpy() * 255 - gray[frame, ..., 0]).mean() < 2
    listed = json.loads((keys / INDEX_NAME).read_text())
    old = json.loads(before[INDEX_NAME])
    assert listed["film"] == old["film"]
    assert [e for e in listed["shots"] if e["file"] in ("shot_0000.png", "shot_0001.png")] == old["shots"]  # kept as they were
    assert [(e["index"], e["frame"]) for e in listed["shots"]] == sorted([(0, first), (0, NEW), (1, choose_keyframes(found.keyframes)[1]), (1, LATER)])
    colored = read_keyframes(keys, found.shots, SIZE, film_frames(path, found.shots, found.keyframes, found.keyframe_images))
    assert [(k.frame, k.path.name) for k in colored.colored[0]] == [(first, "shot_0000.png")] and colored.uncolored == [1]
    out = tmp_path / "out.mp4"  # the render takes the colored picture, the new gray frames color nothing
    colorize_video(path, out, keyframes=keys, settings=Settings(quiet=True, batch_size=4))
    want = mean_ab(painted(gray[first], RED))
    assert np.abs(mean_ab(frames_rgb(out)[first]) - want).max() < 3
    save_image(keys / f"shot_0000_{NEW:06d}.png", painted(gray[NEW], RED))  # color the new one too: both count
    assert [k.frame for k in read_keyframes(keys, found.shots, SIZE).colored[0]] == [first, NEW]
    capsys.readouterr()
    again = contents(keys)  # the same frames again: nothing added, nothing touched
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--keyframes-at", str(NEW), "--quiet", "--overwrite"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"0 keyframes added to {keys}, 4 already there kept"
    assert contents(keys) == again


def test_an_interrupted_export_leaves_the_folder_as_it_was(film, tmp_path, monkeypatch):
    path, found, keys, first = film
    keys = copy(keys, tmp_path / "keys")
    before = contents(keys)
    real = export_module.write_atomic
    for failing, error in ((2, OutputError("disk full")), (3, KeyboardInterrupt())):  # the second picture; the index
        calls = []

        def write(target, data, failing=failing, error=error, calls=calls):
            calls.append(target)
            if len(calls) == failing:
                raise error
            return real(target, data)

        monkeypatch.setattr(export_module, "write_atomic", write)
        with pytest.raises(type(error)):
            export_keyframes(path, keys, found.shots, found.keyframes, extra={0: [NEW], 1: [LATER]})
        assert len(calls) == failing and calls[-1].name == (INDEX_NAME if failing == 3 else f"shot_0001_{LATER:06d}.png")
        assert contents(keys) == before  # the picture written first removed again, the index untouched
        assert [k.frame for k in read_keyframes(keys, found.shots, SIZE).colored[0]] == [first]


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """Another film of the same size, length and cuts, and its keyframe folder (with a further frame of shot 1)."""
    root = tmp_path_factory.mktemp("other")
    truth = synth.pan(synth.load_photo("coffee"), 14, SIZE) + synth.zoom(synth.load_photo("rocket"), 14, SIZE)
    path = synth.write_clip(root / "other.mp4", truth, audio_seconds=0)
    found = analyse(path, quiet=True)
    assert [s.start_frame for s in found.shots] == [0, 14]
    keys = root / "keys"
    export_keyframes(path, keys, found.shots, found.keyframes, extra={1: [25]})
    return path, keys, truth


def test_another_films_folder_is_refused_and_its_colored_pictures_kept(film, other, tmp_path, capsys):
    path, found, _, _ = film
    keys = copy(other[1], tmp_path / "keys")
    shorter = synth.write_clip(tmp_path / "short.mp4", two_shots()[:24], audio_seconds=0)
    for film_path, said in ((path, "is not this film's"), (shorter, "28 frames, this film has 24")):
        before = contents(keys)
        capsys.readouterr()
        assert main(["shots", str(film_path), "--export-keyframes", str(keys), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{keys / INDEX_NAME}:" in err and said in err and "--overwrite" in err, err
        assert contents(keys) == before
    save_image(keys / "shot_0001.jpg", other[2][20])  # the other film's colorist's work, beside its gray PNG
    before = contents(keys)
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--overwrite", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{keys / 'shot_0001.jpg'}:" in err and "move it aside" in err, err
    assert contents(keys) == before
    (keys / "shot_0001.jpg").rename(tmp_path / "shot_0001.jpg")
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--overwrite", "--quiet"]) == 0
    assert f"2 keyframes written to {keys}" in capsys.readouterr().out
    assert sorted(contents(keys)) == [INDEX_NAME, "shot_0000.png", "shot_0001.png"]  # the other film's shot_0001_000025.png gone
    first = choose_keyframes(found.keyframes)[0]
    assert np.abs(export_module.read_rgba(keys / "shot_0000.png")[0].numpy() * 255 - frames_rgb(path)[first, ..., 0]).mean() < 2
    assert read_keyframes(keys, found.shots, SIZE).uncolored == [0, 1]


def test_pictures_without_an_index_need_overwrite(film, tmp_path, capsys):
    path, _, keys, _ = film
    folder = tmp_path / "keys"
    folder.mkdir()
    shutil.copy(keys / "shot_0001.png", folder / "shot_0001.png")
    assert main(["shots", str(path), "--export-keyframes", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shot_0001.png: already exists" in err and INDEX_NAME in err
    assert sorted(contents(folder)) == ["shot_0001.png"]
    shutil.copy(keys / "shot_0000.png", folder / "shot_0000.png")  # colored: --overwrite refuses too
    assert main(["shots", str(path), "--export-keyframes", str(folder), "--overwrite", "--quiet"]) == 2
    assert "shot_0000.png: a colored keyframe" in capsys.readouterr().err
    assert (folder / "shot_0000.png").read_bytes() == (keys / "shot_0000.png").read_bytes()


def test_an_older_index_is_added_to_and_gets_its_prints(film, tmp_path):
    path, found, keys, first = film
    keys = copy(keys, tmp_path / "keys")
    index = json.loads((keys / INDEX_NAME).read_text())
    (keys / INDEX_NAME).write_text(json.dumps([{k: v for k, v in e.items() if k != "lightness"} for e in index["shots"]]))
    colored = (keys / "shot_0000.png").read_bytes()
    done = export_keyframes(path, keys, found.shots, found.keyframes, extra={0: [NEW]})
    assert [(e.index, e.frame) for e in done.added] == [(0, NEW)] and len(done.entries) == 3
    listed = json.loads((keys / INDEX_NAME).read_text())
    assert listed["film"] == index["film"] and [e["lightness"] for e in listed["shots"] if e["frame"] != NEW] == [e["lightness"] for e in index["shots"]]
    assert (keys / "shot_0000.png").read_bytes() == colored


def test_a_second_export_into_a_folder_being_exported_to_is_refused(film, tmp_path, capsys):
    path, found, keys, _ = film
    keys = copy(keys, tmp_path / "keys")
    before = contents(keys)
    with exclusive(keys / LOCK_NAME, "held"):  # another process's export, midway (flock: another open file is another holder)
        with pytest.raises(OutputError, match="another videocolor process is exporting keyframes into it"):
            export_keyframes(path, keys, found.shots, found.keyframes, extra={0: [NEW]})
        assert main(["shots", str(path), "--export-keyframes", str(keys), "--keyframes-at", str(NEW), "--quiet"]) == 2
        assert "another videocolor process" in capsys.readouterr().err
        assert contents(keys) == before
    assert export_keyframes(path, keys, found.shots, found.keyframes, extra={0: [NEW]}).added  # once it has finished
