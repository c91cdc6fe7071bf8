"""Which frames to color: a shot's first keyframe, then frames where propagation from the chosen ones loses track."""

from __future__ import annotations

import json

import pytest
from helpers import SIZE

from videocolor._cli.main import main
from videocolor.analysis import suggest
from videocolor.analysis.film import analyse
from videocolor.analysis.keyframe_index import INDEX_NAME
from videocolor.analysis.suggest import Suggestion, suggest_keyframes
from videocolor.colorist.keyframes import choose_keyframes
from videocolor.evaluation import synthetic as synth
from videocolor.render import propagate

PAN = 60  # frames of the first shot: a pan over two widths of the photo (its start is out of view by its end)
STILL = 30  # frames of the second shot: a still


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A gray film of a far pan then a static shot: its path, the analysis, and every suggestion above the threshold."""
    frames = synth.pan(synth.load_photo("china"), PAN, SIZE, travel=2.0) + [synth.still(synth.load_photo("astronaut"), SIZE)] * STILL
    path = synth.write_clip(tmp_path_factory.mktemp("suggest") / "film.mp4", frames, audio_seconds=0)
    found = analyse(path, quiet=True)
    return path, found, suggest_keyframes(path, found.shots, found.keyframes)


def test_a_far_pan_gets_more_keyframes_a_static_shot_only_its_first(film):
    _, found, suggestions = film
    assert [(s.start_frame, s.end_frame) for s in found.shots] == [(0, PAN - 1), (PAN, PAN + STILL - 1)]
    firsts = choose_keyframes(found.keyframes)
    assert [(s.shot, s.frame) for s in suggestions[:2]] == [(0, firsts[0]), (1, firsts[1])]
    assert suggestions[1].gain == pytest.approx(STILL, abs=0.5)  # the still is covered whole by its one keyframe
    extra = suggestions[2:]
    assert extra and {s.shot for s in extra} == {0}
    # the best one is where the content has left the first keyframe's view: over 20 frames (2/3 of a width) away
    assert abs(extra[0].frame - firsts[0]) > 20
    assert extra[0].reason.startswith("camera moved") and f"frame {firsts[0]}" in extra[0].reason
    assert all(s.reason for s in suggestions) and all(s.gain >= suggest.MIN_GAIN for s in extra)
    assert [s.gain for s in extra] == sorted((s.gain for s in extra), reverse=True)
    for s in suggestions:
        shot = found.shots[s.shot]
        assert shot.start_frame <= s.frame <= shot.end_frame
        assert s.time.seconds == pytest.approx(s.frame / 25)


def test_counts_are_honored(film):
    path, found, suggestions = film
    three = suggest_keyframes(path, found.shots, found.keyframes, count=3)
    assert three == suggestions[:3]
    many = suggest_keyframes(path, found.shots, found.keyframes, count=40)
    assert len(suggestions) <= len(many) <= 2 + suggest.MAX_PER_SHOT and {s.shot for s in many[2:]} == {0}
    assert all(s.gain > 0 for s in many)
    frames = [s.frame for s in many]
    assert all(abs(a - b) >= suggest.MIN_APART for i, a in enumerate(frames) for b in frames[:i])
    with pytest.raises(ValueError, match="2 shots"):
        suggest_keyframes(path, found.shots, found.keyframes, count=1)


def test_extra_frames_are_each_shot_s_suggestions_beyond_its_first(film):
    suggestions = film[2]
    extra = suggest.extra_frames(suggestions)
    assert extra == {0: [s.frame for s in suggestions[2:]]}
    assert suggest.extra_frames(suggestions[:2]) == {}


def test_coverage_is_whole_at_a_keyframe_and_falls_as_a_pan_leaves_it(film):
    path, found, suggestions = film
    firsts = choose_keyframes(found.keyframes)
    coverage = suggest.keyframe_coverage(path, found.shots, {shot: [frame] for shot, frame in firsts.items()})
    assert coverage.shape == (PAN + STILL,)
    assert coverage[firsts[0]] == 1 and coverage[PAN:].min() > 0.95  # the still shot is covered (but for x264 noise)
    assert coverage[0] < 0.5 and coverage[PAN - 1] < 0.5  # both ends of the pan are far out of the keyframe's view
    more = suggest.keyframe_coverage(path, found.shots, {0: [firsts[0], *suggest.extra_frames(suggestions)[0]], 1: [firsts[1]]})
    assert (more >= coverage).all()
    assert more.sum() - coverage.sum() == pytest.approx(sum(s.gain for s in suggestions[2:]), rel=1e-3)


def test_simulates_the_propagation_s_flow_and_first_keyframe():
    """The same flow as the propagation, and each shot's first the frame the export exports for it."""
    assert suggest.FLOW_PRESET == propagate.FLOW_PRESET
    assert suggest.first_keyframes({0: [3, 9, 20], 1: [40], 2: [50, 60]}) == {0: 9, 1: 40, 2: 60}


def test_cli_prints_the_suggestions_and_refuses_too_few(film, capsys):
    path, _, suggestions = film
    assert main(["shots", str(path), "--suggest-keyframes", "--quiet"]) == 0
    table = capsys.readouterr().out.split("suggested keyframes")[1].splitlines()[2:]
    assert [line.split()[:3] for line in table] == [[str(s.shot), str(s.frame), str(s.time)] for s in suggestions]
    assert all(line.endswith(s.reason) for line, s in zip(table, suggestions))
    assert main(["shots", str(path), "--suggest-keyframes", "3", "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    listed = [(row["index"], s["frame"], s["time"], s["reason"]) for row in rows for s in row["suggested"]]
    assert sorted(listed) == sorted((s.shot, s.frame, str(s.time), s.reason) for s in suggestions[:3])
    assert main(["shots", str(path), "--suggest-keyframes", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and err.endswith("fewer than its 2 shots; give at least 2")
    with pytest.raises(SystemExit) as exit_:
        main(["shots", str(path), "--suggest-keyframes", "0", "--quiet"])
    assert exit_.value.code == 2 and "(1 or more), got '0'" in capsys.readouterr().err


def test_cli_exports_the_suggestions(film, tmp_path):
    path, _, suggestions = film
    keys = tmp_path / "keys"
    assert main(["shots", str(path), "--suggest-keyframes", "--export-keyframes", str(keys), "--quiet"]) == 0
    entries = json.loads((keys / INDEX_NAME).read_text())["shots"]
    assert sorted(e["frame"] for e in entries) == sorted(s.frame for s in suggestions)
    fresh = tmp_path / "fresh"
    both = ["--suggest-keyframes", "3", "--keyframes-at", str(PAN + 5), "--export-keyframes", str(fresh), "--quiet"]
    assert main(["shots", str(path), *both]) == 0
    entries = json.loads((fresh / INDEX_NAME).read_text())["shots"]
    assert sorted(e["frame"] for e in entries) == sorted([s.frame for s in suggestions[:3]] + [PAN + 5])
    assert main(["shots", str(path), "--keyframes-at", str(PAN + 5), "--export-keyframes", str(keys), "--quiet"]) == 0
    entries = json.loads((keys / INDEX_NAME).read_text())["shots"]  # added to the folder of the first export
    assert sorted(e["frame"] for e in entries) == sorted({s.frame for s in suggestions} | {PAN + 5})


def test_suggestion_is_a_plain_record(film):
    s = film[2][0]
    assert isinstance(s, Suggestion) and isinstance(s.gain, float) and isinstance(s.frame, int)
