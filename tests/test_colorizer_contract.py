"""What every registered colorizer must do, checked on each through the registry's own builder.

Models whose weights are downloaded get release-shaped weights generated here (each network of the record,
randomly initialized with a fixed seed), so the contract runs offline on the real architectures; models
whose weights ship in a package use them. Frames are small: this checks behaviour, not quality.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from videocolor.models import registry, weights
from videocolor.models.base import Colorizer, FusedReference

CPU = torch.device("cpu")
# |ab| bound of any model: DEVC's tanh x 128 x 1.25 (the exemplar model stays within 110).
AB_BOUND = 160.0
FRAME = (24, 40)  # lightness size: a multiple of every model's grid, small enough for CPU tests
REFERENCES = [(120, 16), (16, 120), (1, 1), (37, 61)]  # tall, wide, a single pixel, odd


@pytest.fixture(scope="module", params=registry.names())
def colorizer(request, tmp_path_factory) -> Colorizer:
    spec = registry.get(request.param)
    if spec.weights.downloadable:
        folder = tmp_path_factory.mktemp(f"{spec.name}-weights")
        files = {}
        for seed, rel in enumerate(spec.weights.files):
            torch.manual_seed(seed)
            files[rel] = folder / rel
            files[rel].parent.mkdir(parents=True, exist_ok=True)
            torch.save(spec.weights.network(rel).state_dict(), files[rel])
    else:
        files = weights.require_installed(spec.name).files
    return spec.build(spec.settings(), CPU, files)


def frames(count: int, seed: int = 0, size: tuple[int, int] = FRAME) -> torch.Tensor:
    """``(count, 1, *size)`` smooth gray frames in [0, 100] that drift a little from one to the next."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 1, 5, 8, generator=generator)
    drift = torch.rand(count, 1, 5, 8, generator=generator).cumsum(0) * 0.05
    return F.interpolate(base + drift, size=size, mode="bilinear", align_corners=False).clamp(0, 1) * 100


def reference(height: int = 48, width: int = 64, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 4, generator=generator)
    return F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)[0]


@pytest.fixture(scope="module")
def prepared(colorizer):
    return colorizer.prepare_reference(reference())


def run(colorizer: Colorizer, prepared: object, lightness: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Colorize ``lightness`` as one shot, ``batch`` frames per call."""
    colorizer.reset()
    outputs = [colorizer.colorize(lightness[i : i + batch], prepared) for i in range(0, len(lightness), batch)]
    return torch.cat([ab for ab, _ in outputs]), torch.cat([confidence for _, confidence in outputs])


def test_registry_names_the_model_it_builds(colorizer):
    assert colorizer.name in registry.names()


def test_work_shape_keeps_the_aspect_ratio(colorizer):
    for height, width in ((1080, 1920), (1920, 1080), (480, 720), (37, 61)):
        h, w = colorizer.work_shape(height, width)
        assert isinstance(h, int) and isinstance(w, int) and h >= 1 and w >= 1
        assert abs(w / h - width / height) / (width / height) < 0.25


def test_output_shapes_ranges_and_device(colorizer, prepared):
    ab, confidence = run(colorizer, prepared, frames(3), batch=3)
    assert ab.shape == (3, 2, *FRAME) and confidence.shape == (3, 1, *FRAME)
    assert ab.dtype == confidence.dtype == torch.float32
    assert ab.device.type == confidence.device.type == colorizer.device.type
    assert torch.isfinite(ab).all() and ab.abs().max() <= AB_BOUND
    assert confidence.min() >= 0 and confidence.max() <= 1
    assert ab.std() > 0  # generated or real weights, the output depends on the input


def test_same_inputs_give_the_same_output(colorizer, prepared):
    first = run(colorizer, prepared, frames(3), batch=3)
    second = run(colorizer, colorizer.prepare_reference(reference()), frames(3), batch=3)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_reset_starts_a_new_shot(colorizer, prepared):
    shot = frames(2, seed=5)
    colorizer.reset()
    fresh = colorizer.colorize(shot, prepared)[0]
    colorizer.colorize(frames(1, seed=6), prepared)  # another shot runs meanwhile
    colorizer.reset()
    again = colorizer.colorize(shot, prepared)[0]
    assert torch.equal(again, fresh)


@pytest.mark.slow
def test_batches_of_1_and_8_give_the_same_chroma(colorizer, prepared):
    # oneDNN picks convolution kernels by batch size, and with several threads PyTorch splits a batch's work
    # differently by its size: float rounding then differs by ~1e-6, which DEVC's recurrence with random
    # weights amplifies about 20x a frame (65 ab units by frame 8 on 16 cores). PyTorch's own kernels on one
    # thread compute every frame of a batch alike, so there a difference is the model's doing (frames mixed,
    # state lost).
    lightness = frames(8, seed=2, size=(16, 24))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.backends.mkldnn.flags(enabled=False):
            one_by_one, confidence_1 = run(colorizer, prepared, lightness, batch=1)
            all_at_once, confidence_8 = run(colorizer, prepared, lightness, batch=8)
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(one_by_one, all_at_once, atol=0.05, rtol=0)  # ab units: 1 is barely visible
    torch.testing.assert_close(confidence_1, confidence_8, atol=1e-4, rtol=0)


@pytest.mark.parametrize("size", REFERENCES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_reference_of_any_size_and_aspect_ratio_works(colorizer, size):
    prepared = colorizer.prepare_reference(reference(*size, seed=3))
    colorizer.reset()
    ab, confidence = colorizer.colorize(frames(2), prepared)
    assert ab.shape == (2, 2, *FRAME) and confidence.shape == (2, 1, *FRAME)
    assert torch.isfinite(ab).all() and torch.isfinite(confidence).all()
    assert confidence.min() >= 0 and confidence.max() <= 1


def test_a_model_without_state_takes_several_references_fused(colorizer, prepared):
    """``recurrent`` declared; one that is not takes a ``FusedReference`` wherever it takes a reference."""
    assert isinstance(colorizer.recurrent, bool)
    if colorizer.recurrent:
        pytest.skip(f"{colorizer.name} is recurrent: it takes one reference per shot")
    other = colorizer.prepare_reference(reference(seed=4))
    alone = run(colorizer, prepared, frames(2), batch=2)
    assert all(torch.equal(a, b) for a, b in zip(alone, run(colorizer, FusedReference((prepared, other, prepared)), frames(2), batch=2)))
    ab, confidence = run(colorizer, FusedReference((prepared, other)), frames(2), batch=2)
    assert ab.shape == (2, 2, *FRAME) and confidence.shape == (2, 1, *FRAME)
    assert not torch.equal(ab, alone[0])
