"""Override files: by shot number and by time, skip, clear errors with file and line, template round trip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from videocolor.analysis.overrides import apply_overrides, edit_override, read_overrides, write_overrides
from videocolor.errors import InputError
from videocolor.records import ReferenceChoice, Shot
from videocolor.timecode import Timecode

TB = Fraction(1, 25)
# Shots of 50 frames at 25 fps: shot k covers [2k s, 2k+2 s).
SHOTS = [Shot(k, 50 * k, 50 * k + 49, Timecode(50 * k, TB), Timecode(50 * k + 50, TB)) for k in range(4)]


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "refs").mkdir()
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / "refs" / name).write_bytes(b"x")
    return tmp_path


def _write(folder: Path, text: str) -> Path:
    path = folder / "shots.toml"
    path.write_text(text)
    return path


def test_by_number_and_by_time(folder):
    path = _write(
        folder,
        '[[shot]]\nindex = 0\nreference = "refs/a.jpg"\n\n'
        '[[shot]]\nstart = "00:00:04.500"\nskip = true\n\n'
        '[[shot]]\nstart = "6.0"\nend = "00:00:08.000"\nreference = "refs/b.jpg"\n',
    )
    got = read_overrides(path, SHOTS)
    assert got == {0: (folder / "refs/a.jpg",), 2: None, 3: (folder / "refs/b.jpg",)}
    choices = [ReferenceChoice(k, Path("auto.jpg"), 0.5, [(Path("auto.jpg"), 0.5)]) for k in range(4)]
    applied = apply_overrides(choices, got)
    assert [c.source for c in applied] == ["override", "retrieval", "override", "override"]
    assert applied[2].path is None and applied[1].path == Path("auto.jpg") and applied[0].score is None


def test_range_spanning_shots(folder):
    path = _write(folder, '[[shot]]\nstart = "00:00:01"\nend = "00:00:05"\nreference = "refs/a.jpg"\n')
    assert sorted(read_overrides(path, SHOTS)) == [0, 1, 2]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ('[[shot]]\nindex = 9\nskip = true\n', 1, "unknown shot 9"),
        ('[[shot]]\nindex = 1\nskip = true\n\n[[shot]]\nstart = "00:00:03"\nend = "00:00:05"\nskip = true\n', 5, "line 1"),
        ('\n# c\n[[shot]]\nindex = 1\nreference = "refs/nope.jpg"\n', 3, "nope.jpg not found"),
        ('[[shot]]\nindex = 1\nskip = true\n[[shot]]\nstart = "00:61:00"\nskip = true\n', 4, "bad timecode"),
        ('[[shot]]\nstart = "00:01:00"\nskip = true\n', 1, "no shot at 00:01:00"),
        ('[[shot]]\nstart = "00:00:05"\nend = "00:00:04"\nskip = true\n', 1, "not after start"),
        ('[[shot]]\nindex = 1\n', 1, "exactly one of reference"),
        ('[[shot]]\nindex = 1\nstart = "1"\nskip = true\n', 1, "one of them"),
        ('[[shot]]\nindex = 1\nrefrence = "refs/a.jpg"\n', 1, "unknown key"),
        ('[[shot]]\nstart = inf\nskip = true\n', 1, "bad time inf"),
        ('[[shot]]\nstart = 1.0\nend = nan\nskip = true\n', 1, "bad time nan"),
        ('[[shot]]\nstart = -2\nskip = true\n', 1, "bad time -2"),
        ('[[shot]]\nstart = [1]\nskip = true\n', 1, "bad timecode"),
        ('[[shot]]\nindex = true\nskip = true\n', 1, "unknown shot True"),
        ('# shots\nshot = [1, 2]\n', 2, "must be a \\[\\[shot\\]\\] table"),
        ('shot = [{index = 1, skip = true}, "x"]\n', 1, "must be a"),
        ('[[shot]]\nindex = 1\nreference = []\n', 1, "a path string or a list of them"),
        ('[[shot]]\nindex = 1\nreference = ["refs/a.jpg", 3]\n', 1, "a path string or a list of them"),
        ('[[shot]]\nindex = 1\nreference = ["refs/a.jpg", "refs/nope.jpg"]\n', 1, "nope.jpg not found"),
    ],
)
def test_errors_name_file_and_line(folder, text, line, message):
    path = _write(folder, text)
    with pytest.raises(InputError, match=message) as err:
        read_overrides(path, SHOTS)
    assert str(err.value).startswith(f"{path}:{line}:") and "\n" not in str(err.value)


def test_bad_toml_and_missing_file(folder):
    with pytest.raises(InputError, match=r"not valid TOML .*line 2"):
        read_overrides(_write(folder, "[[shot]]\nindex = = 1\n"), SHOTS)
    with pytest.raises(InputError, match="override file not found"):
        read_overrides(folder / "missing.toml", SHOTS)


def test_template_round_trip(folder):
    refs = folder / "refs"
    choices = [
        ReferenceChoice(0, refs / "a.jpg", 0.4, [(refs / "a.jpg", 0.4), (refs / "b.jpg", 0.6)]),
        ReferenceChoice(1, refs / "b.jpg", 0.5, [(refs / "b.jpg", 0.5)]),
        ReferenceChoice(2, None, None, [], "override"),
        ReferenceChoice(3, refs / "a.jpg", 0.7, []),
    ]
    (folder / "out").mkdir()
    path = write_overrides(folder / "out" / "template.toml", SHOTS, choices)
    text = path.read_text()
    assert '# reference = "../refs/b.jpg"  # score 0.600' in text and "00:00:02.000 - 00:00:04.000" in text
    got = read_overrides(path, SHOTS)
    assert got == {0: (path.parent / "../refs/a.jpg",), 1: (path.parent / "../refs/b.jpg",), 2: None, 3: (path.parent / "../refs/a.jpg",)}


def test_several_references_fused(folder):
    """A list of references: the first is the shot's reference, the others are fused with it; the template writes them back."""
    path = _write(folder, '[[shot]]\nindex = 1\nreference = ["refs/b.jpg", "refs/a.jpg"]\n')
    got = read_overrides(path, SHOTS)
    assert got == {1: (folder / "refs/b.jpg", folder / "refs/a.jpg")}
    choices = [ReferenceChoice(k, Path("auto.jpg"), 0.5, [], fused=(Path("second.jpg"),)) for k in range(2)]
    applied = apply_overrides(choices, got)
    assert (applied[1].path, applied[1].fused, applied[1].source) == (folder / "refs/b.jpg", (folder / "refs/a.jpg",), "override")
    assert applied[0].fused == (Path("second.jpg"),)
    (folder / "out").mkdir()
    template = write_overrides(folder / "out" / "t.toml", SHOTS[:2], [applied[1], ReferenceChoice(1, None, None, [], "override")])
    assert 'reference = ["../refs/b.jpg", "../refs/a.jpg"]' in template.read_text()
    assert read_overrides(template, SHOTS)[0] == (template.parent / "../refs/b.jpg", template.parent / "../refs/a.jpg")


def test_edit_keeps_comments_and_other_entries(folder):
    path = _write(
        folder,
        '# my notes\n[[shot]]\nindex = 0  # opening\nreference = "refs/a.jpg"\n# reference = "refs/b.jpg"  # maybe\n\n'
        '[[shot]]\nstart = "00:00:04.500"  # the shot at 4.5 s\nskip = true\n\n'
        '[[shot]]\nstart = "00:00:00"\nend = "00:00:08.000"\nreference = "refs/b.jpg"\n',
    )
    with pytest.raises(InputError, match="overlaps"):  # the file itself is invalid: nothing is changed
        edit_override(path, SHOTS, 3, skip=True)
    path.write_text(path.read_text().replace('start = "00:00:00"', 'start = "00:00:06"'))
    edit_override(path, SHOTS, 0, reference=folder / "refs" / "b.jpg")
    edit_override(path, SHOTS, 2, reference=folder / "refs" / "a.jpg")  # addressed by time: that entry changes
    edit_override(path, SHOTS, 1, skip=True)
    text = path.read_text()
    assert "# my notes" in text and "# opening" in text and "# maybe" in text and "# the shot at 4.5 s" in text
    assert read_overrides(path, SHOTS) == {0: (folder / "refs/b.jpg",), 1: None, 2: (folder / "refs/a.jpg",), 3: (folder / "refs/b.jpg",)}
    with pytest.raises(InputError, match="by time"):  # one entry for shots 3 and 4 cannot change for one of them
        edit_override(_write(folder, '[[shot]]\nstart = "00:00:05"\nend = "00:00:08"\nskip = true\n'), SHOTS, 3)
    edit_override(path, SHOTS, 0)  # neither: the entry goes, the shot returns to the analysis' choice
    assert 0 not in read_overrides(path, SHOTS)
    fresh = folder / "new.toml"
    edit_override(fresh, SHOTS, 3, skip=True)
    assert read_overrides(fresh, SHOTS) == {3: None}


def test_a_layout_that_cannot_be_edited_is_left_alone(folder, monkeypatch):
    """If tomlkit's edit does not read back as the intended entries, the file is not written."""
    import tomlkit

    path = _write(folder, '# mine\n[[shot]]\nindex = 1\nskip = true\n')
    monkeypatch.setattr(tomlkit, "dumps", lambda document: "shot = [index = 0\n]\n")  # what the old code wrote
    with pytest.raises(InputError, match="cannot be edited safely"):
        edit_override(path, SHOTS, 0, skip=True)
    assert path.read_text() == '# mine\n[[shot]]\nindex = 1\nskip = true\n'


def test_unknown_home_folder_in_a_reference(folder):
    with pytest.raises(InputError, match="no such home folder") as err:
        read_overrides(_write(folder, '[[shot]]\nindex = 0\nreference = "~nosuchuser/x.jpg"\n'), SHOTS)
    assert str(err.value).startswith(f"{folder / 'shots.toml'}:1:")
