"""A colorist's keyframes: export, render from colored keyframes (exact there, propagated around), bad folders."""

from __future__ import annotations

import base64
import json
import logging
import shutil

import cv2
import numpy as np
import pytest
from helpers import SIZE, frames_rgb, save_image, two_shots

from videocolor import Settings, colorize_video
from videocolor._cli.main import main
from videocolor.analysis.film import analyse
from videocolor.analysis.keyframes import INDEX_NAME, read_keyframes
from videocolor.analysis.overrides import read_overrides
from videocolor.colorist.keyframes import export_keyframes
from videocolor.colorist.preview import Previewer
from videocolor.colorist.review import Board
from videocolor.errors import InputError
from videocolor.evaluation import metrics
from videocolor.evaluation import synthetic as synth
from videocolor.ops.color import lightness_u8
from videocolor.ops.lightness_print import lightness_print, print_match

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
    entries = export_keyframes(path, keys, found.shots, found.keyframes).entries
    return path, frames_rgb(truth_path), keys, entries, found


def test_export_writes_gray_keyframes_and_their_frames(film):
    path, _, keys, entries, found = film
    index = json.loads((keys / INDEX_NAME).read_text())
    assert index["film"] == {"width": SIZE[1], "height": SIZE[0], "frames": 28}
    listed = index["shots"]
    assert [e["index"] for e in listed] == [0, 1] and listed[0]["end_frame"] + 1 == listed[1]["start_frame"] == 14
    gray = frames_rgb(path)
    for entry in listed:
        assert set(entry) == {"index", "frame", "pts", "time", "start_frame", "end_frame", "file", "lightness"}
        assert entry["start_frame"] <= entry["frame"] <= entry["end_frame"]
        picture = cv2.imread(str(keys / entry["file"]), cv2.IMREAD_UNCHANGED)
        assert picture.shape == SIZE  # one channel, full resolution
        assert np.abs(picture.astype(int) - gray[entry["frame"], ..., 0]).mean() < 2  # that very frame
        assert entry["time"] == pytest.approx(entry["frame"] / 25)
        mark = np.frombuffer(base64.b64decode(entry["lightness"]["data"]), np.uint8).reshape(18, 32)  # L x 2.55, 32 px wide
        assert (entry["lightness"]["width"], entry["lightness"]["height"]) == (32, 18)
        small = cv2.resize(lightness_u8(gray[entry["frame"]]), (32, 18), interpolation=cv2.INTER_AREA) * 2.55
        assert np.abs(mark - small).mean() < 2
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    for overwrite in (False, True):  # the same film's folder: nothing to add, nothing touched
        again = export_keyframes(path, keys, found.shots, found.keyframes, overwrite=overwrite)
        assert (again.entries, again.added) == (entries, [])
        assert {p.name: p.read_bytes() for p in keys.iterdir()} == before


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
    # The plain match carries the same frame's colors by its flow refinement too, less exactly (measured: 33.7
    # against 33.4 dB at this 160x90 size, both composed at the chroma planes' 80x45; 1 dB or more apart before
    # the refinement).
    assert metrics.psnr(frames[near], truth[near]) > metrics.psnr(frames_rgb(plain)[near], truth[near]) + 0.2


def edit_shots(folder, change) -> None:
    """Rewrite the shot list of ``folder``'s keyframes.json with ``change(shots)``."""
    index = json.loads((folder / INDEX_NAME).read_text())
    (folder / INDEX_NAME).write_text(json.dumps(dict(index, shots=change(index["shots"]))))


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
    assert "does not match" in broken(lambda f: edit_shots(f, lambda shots: [dict(e, end_frame=e["end_frame"] + 1) for e in shots]))
    assert "wrong type" in broken(lambda f: edit_shots(f, lambda shots: [dict(e, frame=str(e["frame"])) for e in shots]))
    assert "wrong type" in broken(lambda f: edit_shots(f, lambda shots: [dict(e, time="0:01") for e in shots]))
    assert "not a keyframe list" in broken(lambda f: (f / INDEX_NAME).write_text("[{\"index\": 0}]"))
    assert "shot entry 0 lacks end_frame, file, frame" in broken(lambda f: (f / INDEX_NAME).write_text("[{\"index\": 0}]"))
    assert "shot entry 1 has unknown colour" in broken(lambda f: edit_shots(f, lambda shots: [shots[0], dict(shots[1], colour=1)]))
    assert "shot entry 0 is not an object" in broken(lambda f: edit_shots(f, lambda shots: [7, *shots[1:]]))
    assert "film has 2" in broken(lambda f: edit_shots(f, lambda shots: shots[:1]))
    assert "not found" in broken(lambda f: (f / INDEX_NAME).unlink())
    (tmp_path / "hidden").mkdir()
    shutil.copytree(colored, tmp_path / "hidden" / "keys")
    (tmp_path / "hidden" / "keys" / ".DS_Store").write_text("x")
    assert list(read_keyframes(tmp_path / "hidden" / "keys", shots, SIZE).colored) == [0]


def test_cli_export_and_render_errors_are_one_line(film, colored, tmp_path, capsys):
    path, _, keys, _, _ = film
    assert main(["shots", str(path), "--export-keyframes", str(keys), "--quiet"]) == 0
    assert "0 keyframes added" in capsys.readouterr().out
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


def _copy(colored, folder, change=None):
    """A copy of the colored keyframe folder at ``folder``, changed by ``change(folder)``."""
    shutil.copytree(colored, folder)
    if change is not None:
        change(folder)
    return folder


def _refused(film_path, folder) -> str:
    with pytest.raises(InputError) as error:
        analyse(film_path, keyframes=folder, quiet=True)
    assert "\n" not in str(error.value)
    return str(error.value)


def _tone(rgb, gain=1.0, bias=0.0, gamma=1.0, vignette=0.0):
    """A colorist's re-lighting of an RGB uint8 picture: contrast, brightness, gamma, a vignette."""
    x = np.clip(rgb.astype(np.float32) / 255 * gain + bias, 0, 1) ** gamma
    h, w = x.shape[:2]
    yy, xx = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]
    return np.clip(x * (1 - vignette * (xx**2 + yy**2) / 2)[..., None] * 255 + 0.5, 0, 255).astype(np.uint8)


def _hue(rgb, degrees):
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)
    hsv[..., 0] = (hsv[..., 0].astype(int) + round(degrees * 256 / 360)) % 256
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


def test_keyframes_of_another_film_are_refused(film, colored, tmp_path, capsys):
    path, truth, _, _, _ = film

    def film_record(**change):
        def edit(folder):
            index = json.loads((folder / INDEX_NAME).read_text())
            (folder / INDEX_NAME).write_text(json.dumps(dict(index, film=dict(index["film"], **change))))
        return edit

    message = _refused(path, _copy(colored, tmp_path / "wide", film_record(width=320)))
    assert INDEX_NAME in message and "320x90" in message and "160x90" in message
    message = _refused(path, _copy(colored, tmp_path / "long", film_record(frames=29)))
    assert INDEX_NAME in message and "29 frames" in message and "28" in message
    assert "film record" in _refused(path, _copy(colored, tmp_path / "bad", film_record(frames="28")))
    # Another film of the same size, length and cuts: its keyframes.json and its colored keyframe.
    other_truth = synth.pan(synth.load_photo("coffee"), 14, SIZE) + synth.zoom(synth.load_photo("rocket"), 14, SIZE)
    other = synth.write_clip(tmp_path / "other.mp4", other_truth, audio_seconds=0)
    found = analyse(other, quiet=True)
    assert [s.start_frame for s in found.shots] == [0, 14]
    keys = tmp_path / "other_keys"
    entries = export_keyframes(other, keys, found.shots, found.keyframes).entries
    save_image(keys / "shot_0000.png", other_truth[entries[0].frame])
    message = _refused(path, keys)
    assert INDEX_NAME in message and "another film" in message and f"frame {entries[0].frame} " in message
    assert analyse(other, keyframes=keys, quiet=True).choices[0].source == "keyframe"  # its own film takes them
    out = tmp_path / "out.mp4"
    assert main([str(path), "--keyframes", str(keys), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and INDEX_NAME in err and not out.exists()


def test_a_keyframe_that_does_not_show_its_frame_is_refused(film, colored, tmp_path):
    path, truth, _, entries, _ = film
    key = truth[entries[0].frame]

    def picture(rgb):
        return lambda folder: save_image(folder / "shot_0000.jpg", rgb)

    swapped = _refused(path, _copy(colored, tmp_path / "swapped", picture(truth[entries[1].frame])))  # shot 1's frame
    assert "shot_0000.jpg" in swapped and f"frame {entries[0].frame} (00:00:00.{40 * entries[0].frame:03d})" in swapped
    assert "shot_0000.jpg" in _refused(path, _copy(colored, tmp_path / "both", lambda f: (
        save_image(f / "shot_0000.jpg", truth[entries[1].frame]), save_image(f / "shot_0001.png", key))))
    second = _refused(path, _copy(colored, tmp_path / "second", lambda f: save_image(f / "shot_0001.png", key)))
    assert "shot_0001.png" in second and f"shot 1's frame {entries[1].frame} " in second
    far = truth[max(0, entries[0].frame - 10)]  # the same shot, 10 frames of a fast pan away
    assert "shot_0000.jpg" in _refused(path, _copy(colored, tmp_path / "far", picture(far)))
    photo = synth.still(synth.load_photo("coffee"), SIZE)  # another film's frame
    assert "does not show" in _refused(path, _copy(colored, tmp_path / "photo", picture(photo)))
    flat = np.full_like(key, (200, 120, 60))  # a flat color: shows no frame
    assert "does not show" in _refused(path, _copy(colored, tmp_path / "flat", picture(flat)))
    relit = [_tone(key, gamma=0.5), _tone(key, gamma=2.0), _tone(key, bias=0.15), _tone(key, gain=1.5, bias=-0.25),
             _tone(key, gain=0.6, bias=0.2), _tone(key, vignette=0.3), _tone(_hue(key, 120), gamma=1.6), _hue(key, 180)]
    for k, rgb in enumerate(relit):  # a colorist's own re-lighting and colors: still the frame
        folder = _copy(colored, tmp_path / f"relit{k}", picture(rgb))
        assert analyse(path, keyframes=folder, quiet=True).choices[0].source == "keyframe", k


def test_a_flat_frame_is_shown_by_a_flat_picture_only():
    yy, xx = np.mgrid[-1 : 1 : 90j, -1 : 1 : 160j]
    blank = np.full((90, 160), 95, np.float32)  # a white title card: no changes of lightness to correlate
    photo = lightness_u8(synth.still(synth.load_photo("astronaut"), SIZE))
    assert print_match(lightness_print(blank), blank * (1 - 0.5 * (xx**2 + yy**2) / 2)) == 1.0  # re-lit, vignetted
    assert print_match(lightness_print(blank), photo) == 0.0  # another shot's keyframe
    assert print_match(lightness_print(photo), blank) == 0.0  # and the other way round
    assert print_match(lightness_print(np.full((1, 1), 50, np.float32)), photo) == 1.0  # a 1x1 film: nothing to compare


def test_an_older_index_is_read_with_a_warning_and_still_checked(film, colored, tmp_path, caplog):
    path, truth, _, entries, _ = film

    def older(folder):
        index = json.loads((folder / INDEX_NAME).read_text())
        (folder / INDEX_NAME).write_text(json.dumps([{k: v for k, v in e.items() if k != "lightness"} for e in index["shots"]]))

    with caplog.at_level(logging.WARNING, logger="videocolor"):
        found = analyse(path, keyframes=_copy(colored, tmp_path / "old", older), quiet=True)
    assert found.choices[0].source == "keyframe"
    assert any(INDEX_NAME in r.getMessage() and "older" in r.getMessage() for r in caplog.records)
    swapped = _copy(colored, tmp_path / "old_swapped", lambda f: (older(f), save_image(f / "shot_0000.jpg", truth[entries[1].frame])))
    assert "shot_0000.jpg" in _refused(path, swapped)
    half = _copy(colored, tmp_path / "half", lambda f: edit_shots(f, lambda shots: [dict(e, lightness=None) for e in shots]))
    assert "wrong type or missing" in _refused(path, half)
    # An older index's frame that the analysis did not pick (decoded to be checked): its own colors pass, another frame's not.
    step = (entries[1].pts - entries[0].pts) // (entries[1].frame - entries[0].frame)
    moved = entries[0].frame + 2

    def other_frame(picture):
        def change(folder):
            older(folder)
            shots = json.loads((folder / INDEX_NAME).read_text())
            shots[0].update(frame=moved, pts=entries[0].pts + 2 * step, time=moved / 25)
            (folder / INDEX_NAME).write_text(json.dumps(shots))
            save_image(folder / "shot_0000.jpg", picture)
        return change

    found = analyse(path, keyframes=_copy(colored, tmp_path / "moved", other_frame(truth[moved])), quiet=True)
    assert moved not in found.keyframes[0] and found.choices[0].keyframe == entries[0].pts + 2 * step
    assert f"frame {moved} (00:00:00.{40 * moved:03d})" in _refused(path, _copy(colored, tmp_path / "moved_far", other_frame(truth[moved + 10])))
    corrupt = _copy(colored, tmp_path / "corrupt", lambda f: edit_shots(f, lambda shots: [
        dict(e, lightness=dict(e["lightness"], data="!!")) for e in shots]))
    assert "not a keyframe list" in _refused(path, corrupt)


def test_transparent_areas_keep_no_color_with_a_warning(film, colored, tmp_path, caplog):
    path, truth, _, entries, _ = film
    key = truth[entries[0].frame]
    alpha = np.full(SIZE, 255, np.uint8)
    alpha[:, : SIZE[1] // 2] = 0  # the left half transparent (its RGB black, as paint tools leave it)

    def rgba(a):
        bgra = np.dstack((cv2.cvtColor(key, cv2.COLOR_RGB2BGR), a))
        bgra[a == 0, :3] = 0
        return lambda folder: ((folder / "shot_0000.jpg").unlink(), cv2.imwrite(str(folder / "shot_0000.png"), bgra))

    opaque = _copy(colored, tmp_path / "opaque", rgba(np.full(SIZE, 255, np.uint8)))
    with caplog.at_level(logging.WARNING, logger="videocolor"):
        assert analyse(path, keyframes=opaque, quiet=True).choices[0].source == "keyframe"
    assert not [r for r in caplog.records if "shot_0000" in r.getMessage()]  # fully opaque: nothing to say
    folder = _copy(colored, tmp_path / "half", rgba(alpha))
    out = tmp_path / "out.mp4"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="videocolor"):
        colorize_video(path, out, keyframes=folder, settings=SETTINGS)
    said = [r.getMessage() for r in caplog.records if "shot_0000.png" in r.getMessage()]
    assert len(said) == 1 and "50% of it is transparent" in said[0] and "no color" in said[0]
    frame = frames_rgb(out)[entries[0].frame]
    chroma = np.abs(frame - frame.mean(-1, keepdims=True)).max(-1)  # (frame is uint8: mean is float)
    # transparent: the gray frame, no color (measured 0.8 against the true colors' 53 there; x264 adds a little)
    assert chroma[:, : SIZE[1] // 2 - 4].mean() < 2
    assert metrics.psnr(frame[None, :, SIZE[1] // 2 + 4 :], key[None, :, SIZE[1] // 2 + 4 :]) >= 30  # opaque: the keyframe
    assert np.abs(lightness_u8(frame) - lightness_u8(frames_rgb(path)[entries[0].frame])).mean() < 1.5  # the film's lightness
    gone = _copy(colored, tmp_path / "gone", rgba(np.zeros(SIZE, np.uint8)))  # all transparent: not colored
    assert analyse(path, keyframes=gone, quiet=True).choices[0].source == "none"
    for name, depth in (("shot_0000.webp", np.uint8), ("shot_0000.png", np.uint16)):  # other formats with alpha, 16 bits
        def other(folder, name=name, depth=depth):
            (folder / "shot_0000.jpg").unlink()
            scale = 257 if depth == np.uint16 else 1
            cv2.imwrite(str(folder / name), np.dstack((cv2.cvtColor(key, cv2.COLOR_RGB2BGR), alpha)).astype(depth) * scale,
                        [cv2.IMWRITE_WEBP_QUALITY, 101])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="videocolor"):
            assert analyse(path, keyframes=_copy(colored, tmp_path / f"other{depth.__name__}", other), quiet=True).choices[0].source == "keyframe"
        assert [r for r in caplog.records if "50% of it is transparent" in r.getMessage()], name
