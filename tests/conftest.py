"""Shared fixtures: tiny films and reference pictures made from the photos that ship with scikit-image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SIZE, mirrored_reference, save_image

from videocolor.evaluation import synthetic as synth

torch.set_num_threads(2)


@pytest.fixture(autouse=True, scope="session")
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tests never see the developer's installed weights or caches (``--model auto`` must mean exemplar)."""
    home = tmp_path_factory.mktemp("videocolor-home")
    previous = os.environ.get("VIDEOCOLOR_HOME")
    os.environ["VIDEOCOLOR_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("VIDEOCOLOR_HOME", None)
    else:
        os.environ["VIDEOCOLOR_HOME"] = previous


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return synth.load_photo("astronaut")


@pytest.fixture(scope="session")
def film_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("films")


@pytest.fixture(scope="session")
def pan_clip(film_dir: Path, astronaut: np.ndarray) -> Path:
    """12 gray frames of a pan over the astronaut at 160x90, 25 fps, with a stereo AAC track."""
    return synth.write_clip(film_dir / "pan.mp4", synth.pan(astronaut, 12, SIZE))


@pytest.fixture(scope="session")
def color_ref(film_dir: Path, astronaut: np.ndarray) -> Path:
    return save_image(film_dir / "astronaut_ref.png", mirrored_reference(astronaut))


@pytest.fixture(scope="session")
def ref_dir(film_dir: Path, color_ref: Path) -> Path:
    folder = film_dir / "refs"
    folder.mkdir()
    (folder / color_ref.name).write_bytes(color_ref.read_bytes())
    save_image(folder / "coffee.jpg", synth.still(synth.load_photo("coffee"), (120, 160)))
    return folder
