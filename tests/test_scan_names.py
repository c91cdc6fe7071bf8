"""Scans whose file names hold a ``%`` (or a space, or accents): found, read and written frame for frame."""

from pathlib import Path

import av
import numpy as np
import pytest
from helpers import mirrored_reference, save_image, write_sequence

from videocolor._cli.main import main
from videocolor.evaluation import synthetic as synth
from videocolor.io.sequence import find_sequence, is_pattern

FAST = ["--temporal", "off", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def pan() -> list[np.ndarray]:
    """5 RGB uint8 frames of 32x24."""
    return synth.pan(synth.load_photo("astronaut"), 5, (24, 32))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    return save_image(tmp_path_factory.mktemp("refs") / "astronaut.png", mirrored_reference(synth.load_photo("astronaut")))


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("prefix", ["100%_", "50%%_", "é a_", "%d_"])
def test_a_percent_in_frame_names_is_part_of_the_name(tmp_path, pan, reference, capsys, prefix):
    """FFmpeg reads ``%`` in a pattern as printf's: the folder's pattern writes it ``%%``, and every frame is read."""
    folder = tmp_path / "scans"
    written = write_sequence(folder, "f_%04d.png", pan, "gray")
    for number in range(1, 6):
        (folder / f"f_{number:04d}.png").rename(folder / f"{prefix}{number:04d}.png")
    escaped = prefix.replace("%", "%%") + "%04d.png"
    assert written.name == "f_%04d.png" and is_pattern(folder / escaped)
    assert (find_sequence(folder, None).pattern.name, find_sequence(folder / escaped, None).count) == (escaped, 5)
    out = tmp_path / "out%" / ("o" + escaped)
    assert run_cli(capsys, folder, "--fps", "24", "--ref", reference, "-o", out, *FAST)[0] == 0
    assert sorted(p.name for p in out.parent.iterdir()) == [f"o{prefix}{n:04d}.png" for n in range(1, 6)]
    film = tmp_path / "film.mkv"
    assert run_cli(capsys, folder / escaped, "--fps", "24", "--ref", reference, "-o", film, *FAST)[0] == 0
    with av.open(str(film)) as container:
        assert [frame.pts for frame in container.decode(video=0)] == [0, 42, 83, 125, 167]


@pytest.mark.parametrize("name", ["p%_%04d.png", "f_%d_%d.png", "f_%4d.png", "f_%x.png"])
@pytest.mark.parametrize("side", ["input", "output"])
def test_a_name_that_is_not_a_pattern_is_one_line(tmp_path, pan, reference, capsys, name, side):
    folder = tmp_path / "scans"
    write_sequence(folder, "f_%04d.png", pan, "gray")
    film = tmp_path / "film.mkv"
    args = [folder / name, "-o", film] if side == "input" else [folder, "-o", tmp_path / "out" / name]
    code, err = run_cli(capsys, *args, "--fps", "24", "--ref", reference, *FAST)
    assert code == 2 and "not a frame pattern" in err and name in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans"]
