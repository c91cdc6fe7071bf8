"""``videocolor preview``: a shot's keyframe colorized with each of its top candidates, labelled, in one picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from helpers import SIZE, mirrored_reference, save_image, two_shots, write_sequence

from videocolor import Settings
from videocolor._cli.main import main
from videocolor.colorist.preview import TILE_HEIGHT, parse_shots, preview_sheet
from videocolor.errors import InputError
from videocolor.evaluation import synthetic as synth
from videocolor.io.sequence import FrameSequence
from videocolor.ops.color import rgb_to_lab


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    root = tmp_path_factory.mktemp("preview")
    refs = root / "refs"
    refs.mkdir()
    save_image(refs / "astronaut.png", mirrored_reference(synth.load_photo("astronaut")))
    save_image(refs / "cat.png", mirrored_reference(synth.load_photo("chelsea")))
    return synth.write_clip(root / "film.mp4", two_shots(), audio_seconds=0), refs


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """The same two shots as 28 numbered 16-bit PNG frames, f_0101.png to f_0128.png."""
    return write_sequence(tmp_path_factory.mktemp("scan") / "scans", "f_%04d.png", two_shots(), "gray16be", start=101)


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
    assert parse_shots("3,7-9") == [range(3, 4), range(7, 10)] and parse_shots("0") == [range(1)]
    assert parse_shots("0-99999999999") == [range(100000000000)]  # not expanded
    for text in ("x", "3-", ",", "2-a", "5-3", "1" * 19, "-1", "\u0663"):
        with pytest.raises(InputError, match="--shots"):
            parse_shots(text)
    for args in (["--shots", "5"], ["--shots", "1-x"], [], ["--shots", "0-99999999999"], ["--shots", "1-2"], ["--shots", "0,2"]):
        refs_args = ["--ref-dir", str(refs)] if args else []
        code = main(["preview", str(path), *refs_args, *args, "-o", str(tmp_path / "s.png"), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
    assert not (tmp_path / "s.png").exists()


def test_a_scan_is_previewed_like_a_film(film, scan, tmp_path, capsys):
    """A folder of numbered frames at --fps: its two shots are found and previewed; a shot past them is one line."""
    _, refs = film
    out = tmp_path / "sheet.png"
    assert main(["preview", str(scan.parent), "--fps", "24", "--ref-dir", str(refs), "--candidates", "1", "-o", str(out), "--quiet"]) == 0
    sheet = cv2.imread(str(out))
    assert sheet.shape[0] == 2 * (TILE_HEIGHT + 4)  # one row per shot
    code = main(["preview", str(scan), "--fps", "24", "--ref-dir", str(refs), "--shots", "0-99999999999", "-o", str(tmp_path / "s.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no shot 99999999999; the film has shots 0 to 1" in err, err
    assert not (tmp_path / "s.png").exists()
    sheet = preview_sheet(str(scan), tmp_path / "lib.png", fps="24", ref_dir=refs, shots=[range(1, 2)], candidates=1,
                          settings=Settings(device="cpu", quiet=True))  # the library takes the pattern and rate too
    assert cv2.imread(str(sheet)).shape[0] == TILE_HEIGHT + 4


def test_a_scan_is_reviewed_like_a_film(film, scan, monkeypatch, capsys):
    """``videocolor review`` takes a scan and --fps; its choices go beside the scan's folder, not among the frames."""
    import videocolor.colorist.review as review

    _, refs = film
    served = []

    class Server:
        server_address = ("127.0.0.1", 1)

        def __init__(self, board, *address, **options):
            served.append(board)

        def serve_forever(self):
            pass

        def server_close(self):
            pass

    monkeypatch.setattr(review, "make_server", Server)
    assert main(["review", str(scan.parent), "--fps", "12", "--ref-dir", str(refs), "--quiet"]) == 0
    board = served[0]
    assert isinstance(board.film, FrameSequence) and (board.film.start, board.film.count) == (101, 28)
    assert board.overrides == scan.parent.with_name("scans_shots.toml")
    state = board.state()
    assert state["film"] == "f_%04d.png" and len(state["shots"]) == 2
    assert state["shots"][1]["start"] == "00:00:01.167"  # frame 14 at 12 fps
    assert board.keyframe_jpeg(1)[:2] == b"\xff\xd8"
    assert "scans_shots.toml" in capsys.readouterr().out
