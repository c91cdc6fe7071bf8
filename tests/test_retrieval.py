"""Reference index and two-stage ranking: each shot finds its own altered original among distractors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import DISTRACTORS, SHOT_PHOTOS, film_frames, make_ref_dir

from videocolor.analysis import retrieval
from videocolor.analysis.retrieval import ReferenceIndex, choose, index_file
from videocolor.errors import InputError
from videocolor.evaluation import synthetic as synth


@pytest.fixture(scope="module")
def ref_dir(tmp_path_factory):
    return make_ref_dir(tmp_path_factory.mktemp("refs") / "refs")


@pytest.fixture(scope="module")
def index(ref_dir):
    return ReferenceIndex(ref_dir, quiet=True)


def test_index_skips_gray_broken_and_non_images(index):
    names = {p.name for p in index.paths}
    assert len(names) == len(SHOT_PHOTOS) + len(DISTRACTORS) + 1
    assert "x_coins_gray.png" not in names and "broken.jpg" not in names and "notes.txt" not in names
    assert index.features.cells.shape == (len(names), 49, 1280)
    assert index.features.hists.shape == (len(names), 49, 10)


def test_every_shot_finds_its_original(index):
    frames, starts, _, _ = film_frames()
    ends = [*starts[1:], len(frames)]
    for name, start, end in zip(SHOT_PHOTOS, starts, ends):
        middle = cv2.cvtColor(frames[(start + end) // 2], cv2.COLOR_RGB2GRAY)
        ranking, globals_ = index.rank([middle])
        assert ranking[0][0].name == f"{name}.jpg", (name, ranking)
        assert len(ranking) == 5 and [s for _, s in ranking] == sorted(s for _, s in ranking)
        assert globals_.shape == (1280,)


def test_cache_reused_refreshed_and_pruned(tmp_path, monkeypatch):
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in ("astronaut", "coffee", "rocket"):
        cv2.imwrite(str(folder / f"{name}.png"), synth.load_photo(name)[::4, ::4, ::-1])
    ReferenceIndex(folder, quiet=True)
    assert index_file(folder).is_file()
    calls = []
    real = retrieval.extract
    monkeypatch.setattr(retrieval, "extract", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert len(ReferenceIndex(folder, quiet=True).paths) == 3 and not calls
    (folder / "rocket.png").unlink()
    cv2.imwrite(str(folder / "coffee.png"), synth.load_photo("coffee")[::8, ::8, ::-1])  # new size: re-indexed
    again = ReferenceIndex(folder, quiet=True)
    assert [p.name for p in again.paths] == ["astronaut.png", "coffee.png"] and len(calls) == 1


def test_read_only_folder_uses_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCOLOR_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(retrieval.os, "access", lambda path, mode: False)
    path = index_file(tmp_path / "refs")
    assert path.is_relative_to(tmp_path / "home" / "cache") and path.suffix == ".npz"


def test_empty_or_missing_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=str(tmp_path)):
        ReferenceIndex(tmp_path, quiet=True)
    with pytest.raises(InputError, match="not found"):
        ReferenceIndex(tmp_path / "missing", quiet=True)


def test_choose_keeps_previous_reference_for_alike_shots():
    a, b = Path("a.jpg"), Path("b.jpg")
    same, other = torch.ones(8), torch.tensor([1.0, -1, 1, -1, 1, -1, 1, -1])
    rankings = [[(a, 0.50), (b, 0.52)], [(b, 0.50), (a, 0.51)], [(b, 0.40), (a, 0.60)]]
    assert choose(rankings, [same, same, same]) == [0, 1, 0]
    assert choose(rankings, [same, other, other]) == [0, 0, 0]


def test_dangling_symlink_and_loop_are_skipped(tmp_path, color_ref, pan_clip, caplog):
    import videocolor
    from videocolor import Settings

    folder = tmp_path / "refs"
    folder.mkdir()
    (folder / "good.png").write_bytes(color_ref.read_bytes())
    (folder / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    assert [p.name for p in ReferenceIndex(folder, quiet=True).paths] == ["good.png"]
    assert "gone.jpg: skipped" in caplog.text and "loop.png: skipped" in caplog.text
    report = videocolor.colorize_video(pan_clip, tmp_path / "out.mp4", ref_dir=folder, settings=Settings(temporal="off", quiet=True))
    assert report.frames == 12


def test_huge_reference_is_shrunk_while_decoding(tmp_path):
    import tracemalloc

    from videocolor.io.images import REFERENCE_MAX_SIDE, load_reference

    big = cv2.resize(synth.load_photo("astronaut"), (6000, 4500), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "big.jpg"), big[..., ::-1])
    del big
    tracemalloc.start()
    rgb = load_reference(tmp_path / "big.jpg")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rgb.shape == (3, 1536, REFERENCE_MAX_SIDE)
    assert peak < 150e6  # the full picture in float32 alone would take 324 MB


def test_interrupted_indexing_keeps_what_was_indexed(tmp_path, monkeypatch):
    folder = tmp_path / "refs"
    folder.mkdir()
    for k in range(5):
        cv2.imwrite(str(folder / f"r{k}.png"), np.roll(synth.load_photo("coffee")[::8, ::8, ::-1], 9 * k, axis=1))
    monkeypatch.setattr(retrieval, "INDEX_BATCH", 2)
    real = retrieval.extract
    batches = []

    def interrupted(gray, device=None):
        batches.append(len(gray))
        if len(batches) == 2:
            raise KeyboardInterrupt
        return real(gray, device)

    monkeypatch.setattr(retrieval, "extract", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ReferenceIndex(folder, quiet=True)
    assert index_file(folder).is_file()
    batches.clear()
    monkeypatch.setattr(retrieval, "extract", lambda gray, device=None: batches.append(len(gray)) or real(gray, device))
    assert len(ReferenceIndex(folder, quiet=True).paths) == 5
    assert batches == [2, 1]  # only the three pictures not indexed before the interruption
