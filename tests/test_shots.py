"""Scene cuts, flashes, fades, keyframes and the low-resolution reader, on a film made of real photos."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest
from helpers import SIZE, film_frames

from videocolor.analysis.shots import ShotDetector, detect_shots
from videocolor.evaluation import synthetic as synth
from videocolor.io.analysis_reader import AnalysisReader

FPS = Fraction(25)


@pytest.fixture(scope="module")
def film():
    return film_frames()


def _detect(frames, **kwargs):
    detector = ShotDetector(FPS, 1 / FPS, **kwargs)
    for i, rgb in enumerate(frames):
        detector.push(i, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    return detector.finish()


def test_cuts_exact_fade_close_no_flash(film):
    frames, starts, black, flash = film
    found = _detect(frames)
    got = [s.start_frame for s in found.shots]
    assert len(got) == len(starts) == 6
    fade_shot = 3
    for k, (g, t) in enumerate(zip(got, starts)):
        assert abs(g - t) <= (2 if k == fade_shot else 0), (got, starts)
    assert not any(flash - 3 <= g <= flash + 5 for g in got)
    assert [s.end_frame + 1 for s in found.shots[:-1]] == got[1:]
    assert found.shots[-1].end_frame == len(frames) - 1


def test_shot_timecodes_exact(film):
    frames, *_ = film
    detector = ShotDetector(Fraction(30000, 1001), Fraction(1, 30000))
    for i, rgb in enumerate(frames):
        detector.push(1001 * i + 7, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    shots = detector.finish().shots
    for shot in shots:
        assert shot.start.pts == 1001 * shot.start_frame + 7
        assert shot.end.pts == 1001 * (shot.end_frame + 1) + 7  # exclusive end
        assert shot.start.time_base == Fraction(1, 30000)


def test_keyframes_inside_shot_not_dark_not_flash(film):
    frames, starts, black, flash = film
    found = _detect(frames)
    for shot in found.shots:
        keys = found.keyframes[shot.index]
        assert keys and all(shot.start_frame <= k <= shot.end_frame for k in keys)
        assert all(not flash <= k < flash + 3 for k in keys)
        assert all(img.mean() > 20 and img.shape == SIZE for img in found.images[shot.index])


def test_min_shot_length_and_long_shots(film):
    frames, *_ = film
    photo_a, photo_b = synth.load_photo("coffee"), synth.load_photo("rocket")
    jumpy = synth.pan(photo_a, 20, SIZE) + synth.pan(photo_b, 4, SIZE) + synth.pan(photo_a, 20, SIZE)
    starts = [s.start_frame for s in _detect(jumpy, min_shot_seconds=0.4).shots]
    assert all(b - a >= 10 for a, b in zip(starts, starts[1:]))
    long = _detect(synth.pan(photo_a, 60, SIZE, travel=1.0), keyframe_seconds=0.8)
    assert len(long.shots) == 1 and len(long.keyframes[0]) == 3


def test_empty_input():
    assert detect_shots([], FPS, 1 / FPS).shots == []


@pytest.fixture(scope="module")
def clip(tmp_path_factory, film):
    path = tmp_path_factory.mktemp("reader") / "clip.mp4"
    return synth.write_clip(path, film[0][:40], fps=Fraction(30000, 1001), gray=False, audio_seconds=0)


def test_reader_pts_and_size(clip):
    reader = AnalysisReader(clip, width=128, quiet=True)
    items = list(reader)
    assert len(items) == len(reader) == 40
    assert reader.time_base == Fraction(1, 30000) and reader.frame_rate == Fraction(30000, 1001)
    assert [pts for _, pts, _ in items] == [1001 * i for i in range(40)]
    assert items[0][2].shape == (72, 128) and items[0][2].dtype == np.uint8


def test_reader_pyav_fallback_matches(clip, monkeypatch):
    pytest.importorskip("decord")
    reader = AnalysisReader(clip, quiet=True)
    assert reader._decord_reader() is not None  # decord itself reads this clip: the comparison is decord vs PyAV
    decord_frames = [g for _, _, g in reader]
    monkeypatch.setattr(AnalysisReader, "_decord_reader", lambda self: None)
    pyav_frames = [g for _, _, g in reader]
    assert len(pyav_frames) == len(decord_frames)
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(decord_frames, pyav_frames)) < 4


def test_reader_missing_file(tmp_path):
    from videocolor.errors import InputError

    with pytest.raises(InputError, match="not found"):
        AnalysisReader(tmp_path / "nope.mp4")
    (tmp_path / "bad.mp4").write_bytes(b"not a film")
    with pytest.raises(InputError, match="bad.mp4"):
        AnalysisReader(tmp_path / "bad.mp4")
