"""The analysis pass end to end on an encoded film, and the ``videocolor shots`` command."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from helpers import SHOT_PHOTOS, film_frames, make_ref_dir

from videocolor._cli import shots as shots_cli
from videocolor.analysis.film import analyse, shot_table
from videocolor.errors import InputError
from videocolor.evaluation import synthetic as synth

FPS = Fraction(24000, 1001)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    frames, starts, black, flash = film_frames()
    film = synth.write_clip(root / "film.mp4", frames, fps=FPS, gray=False, audio_seconds=0)
    return root, film, make_ref_dir(root / "refs"), starts


@pytest.fixture(scope="module")
def result(setup):
    root, film, refs, _ = setup
    return analyse(film, ref_dir=refs, refs_per_shot=3, quiet=True)


def test_shots_and_references(setup, result):
    _, _, refs, starts = setup
    got = [s.start_frame for s in result.shots]
    assert len(got) == len(starts) and all(abs(g - t) <= (2 if k == 3 else 0) for k, (g, t) in enumerate(zip(got, starts)))
    assert [c.path.name for c in result.choices] == [f"{n}.jpg" for n in SHOT_PHOTOS]
    assert all(c.source == "retrieval" and len(c.candidates) == 5 for c in result.choices)
    # refs_per_shot 3: the two best-ranked candidates after the chosen one are fused with it
    assert all(c.fused == tuple(p for p, _ in c.candidates if p != c.path)[:2] for c in result.choices)
    assert result.num_frames == result.shots[-1].end_frame + 1 and result.time_base == Fraction(1, 24000)
    assert all(s.start.pts == 1001 * s.start_frame for s in result.shots)


def test_json_and_shot_of_frame(result):
    table = result.to_json()
    assert set(table[0]) >= {"index", "start_frame", "end_frame", "start_time", "end_time", "reference", "fused", "score", "candidates"}
    assert table[0]["fused"] == [str(p) for p in result.choices[0].fused] and len(table[0]["fused"]) == 2
    assert table[1]["start_time"] == "00:00:00.584"  # frame 14 at 24000/1001 fps
    assert shot_table(json.loads(json.dumps(table)), result.time_base) == (result.shots, result.choices)  # exact
    assert result.shot_of_frame(0).index == 0 and result.shot_of_frame(result.num_frames - 1).index == 5
    assert result.shot_of_frame(result.shots[2].start_frame).index == 2
    with pytest.raises(IndexError):
        result.shot_of_frame(result.num_frames)


def test_single_ref_and_overrides(setup):
    root, film, refs, _ = setup
    overrides = root / "o.toml"
    overrides.write_text('[[shot]]\nindex = 1\nskip = true\n\n[[shot]]\nstart = "00:00:02.5"\nreference = "refs/x_cat.png"\n')
    out = analyse(film, ref=refs / "coffee.jpg", overrides=overrides, quiet=True)
    assert [c.source for c in out.choices] == ["user", "override", "user", "user", "override", "user"]
    assert out.choices[1].path is None and out.choices[4].path.name == "x_cat.png"
    with pytest.raises(InputError, match="x_coins_gray"):
        analyse(film, ref=refs / "x_coins_gray.png", quiet=True)


def test_cli_table_json_sheet_template(setup, capsys):
    root, film, refs, _ = setup
    sheet, template = root / "sheet.png", root / "t.toml"
    argv = [str(film), "--ref-dir", str(refs), "--quiet"]
    assert shots_cli.main([*argv, "--sheet", str(sheet), "--write-overrides", str(template)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["shot", "start", "end", "frames"] and "astronaut.jpg" in table[1]
    assert sheet.stat().st_size > 1000 and "[[shot]]" in template.read_text()
    assert shots_cli.main([*argv, "--json", "--overrides", str(template)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["reference"].endswith(f"{n}.jpg") for r, n in zip(rows, SHOT_PHOTOS)] == [True] * 6
    assert {r["source"] for r in rows} == {"override"}


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert shots_cli.main([str(tmp_path / "missing.mp4"), "--ref-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("videocolor: error:") and err.count("\n") == 1
