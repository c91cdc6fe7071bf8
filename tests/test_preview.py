"""``videocolor preview``: a shot's keyframe colorized with each of its top candidates, labelled, in one picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import synth
import torch
from helpers import SIZE, mirrored_reference, save_image, two_shots

from videocolor.cli import main
from videocolor.color import rgb_to_lab
from videocolor.errors import InputError
from videocolor.preview import TILE_HEIGHT, parse_shots


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    root = tmp_path_factory.mktemp("preview")
    refs = root / "refs"
    refs.mkdir()
    save_image(refs / "astronaut.png", mirrored_reference(synth.load_photo("astronaut")))
    save_image(refs / "cat.png", mirrored_reference(synth.load_photo("chelsea")))
    return synth.write_clip(root / "film.mp4", two_shots(), audio_seconds=0), refs


def chroma(rgb: np.ndarray) -> float:
    return float(rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255)[0, 1:].norm(dim=0).mean())


def test_sheet_has_one_row_per_shot_and_one_tile_per_candidate(film, tmp_path, capsys):
    path, refs = film
    out = tmp_path / "sheet.png"
    assert main(["preview", str(path), "--ref-dir", str(refs), "--shots", "1", "--candidates", "2", "-o", str(out), "--quiet"]) == 0
    sheet = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    tile = round(SIZE[1] * TILE_HEIGHT / SIZE[0]) + 2
    assert sheet.shape[:2] == (TILE_HEIGHT + 4, 3 * tile)
    body = slice(0, TILE_HEIGHT - 20)  # above the label
    gray, best, second = (sheet[body, i * tile : (i + 1) * tile - 2] for i in range(3))
    assert chroma(gray) < 2 and chroma(best) > 8 and chroma(second) > 8
    assert not np.array_equal(best, second)
    assert main(["preview", str(path), "--ref-dir", str(refs), "-o", str(out), "--quiet"]) == 2  # exists
    assert "overwrite" in capsys.readouterr().err


def test_bad_shots_are_one_line_errors(film, tmp_path, capsys):
    path, refs = film
    assert parse_shots("3,7-9") == [3, 7, 8, 9] and parse_shots("0") == [0]
    for text in ("x", "3-", ",", "2-a", "5-3"):
        with pytest.raises(InputError, match="--shots"):
            parse_shots(text)
    for args in (["--shots", "5"], ["--shots", "1-x"], []):
        refs_args = ["--ref-dir", str(refs)] if args else []
        code = main(["preview", str(path), *refs_args, *args, "-o", str(tmp_path / "s.png"), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
    assert not (tmp_path / "s.png").exists()
