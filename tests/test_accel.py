"""Speed paths: bfloat16 backbone against float32, repeated frames reused, threads, batch size and codec choice."""

import gc
import platform

import numpy as np
import pytest
import torch
from helpers import mirrored_reference

from videocolor.evaluation import synthetic as synth
from videocolor.io.encoders import EncodeSettings, encoder_options, for_output
from videocolor.models.backbone_lite0 import compute_dtype
from videocolor.models.exemplar import ExemplarColorizer
from videocolor.ops.color import frames_to_lightness
from videocolor.render.colorize import work_lightness
from videocolor.render.devices import apply_process_policy, auto_batch_size, torch_threads
from videocolor.render.memory import freeze_long_lived_objects, keep_freed_memory
from videocolor.render.repeats import HeldFrame, RepeatSkipper


def test_bfloat16_backbone_agrees_with_float32(astronaut):
    frames = synth.pan(astronaut, 3, (144, 256))
    reference = torch.from_numpy(mirrored_reference(astronaut)).permute(2, 0, 1).float() / 255
    lightness = frames_to_lightness(frames, torch.device("cpu"))
    results = {}
    for precision in ("float32", "bfloat16"):
        colorizer = ExemplarColorizer("cpu", precision=precision)
        results[precision] = colorizer.colorize(work_lightness(colorizer, lightness), colorizer.prepare_reference(reference))
    (ab32, conf32), (ab16, conf16) = results["float32"], results["bfloat16"]
    gap = (ab32 - ab16).abs()
    # Stated tolerance, in Lab ab units (colors span about +-100): measured 0.07 mean and 0.7 at the 99th
    # percentile on a CPU and on an H100; a few isolated cells where two matches nearly tie differ more.
    assert gap.mean() < 0.3
    assert gap.flatten().quantile(0.99) < 2.0
    assert (conf32 - conf16).abs().max() < 0.05
    assert ab32.abs().mean() > 5  # the frames are colored at all, so agreeing means something


def test_unknown_precision_is_refused():
    assert compute_dtype("float32", "cpu") == torch.float32
    assert compute_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        compute_dtype("int4", "cpu")


def test_repeated_frames_reuse_their_anchor_and_a_cut_resets_it():
    calls = []

    def predict(small):
        calls.append(small[:, 0, 0, 0].tolist())
        return small.expand(-1, 2, -1, -1) * 2, torch.full_like(small, 0.5)

    base = torch.full((1, 1, 4, 4), 40.0)
    batch = torch.cat((base, base + 0.05, base + 10, base + 10.1))  # 0 and 2 fresh; 1 and 3 repeat them
    skipper = RepeatSkipper(tolerance=0.2)
    ab, confidence = skipper.colorize(predict, batch)
    assert calls == [[40.0, 50.0]]
    assert torch.equal(ab[1], ab[0]) and torch.equal(ab[3], ab[2])
    assert ab[2, 0, 0, 0] == 100.0 and confidence.shape == (4, 1, 4, 4)

    drift = torch.cat([base + 10 + 0.15 * k for k in range(1, 4)])  # next batch: a slow drift away from the anchor
    ab, _ = skipper.colorize(predict, drift)
    assert calls[-1] == [pytest.approx(50.3)]  # 0.15 repeats the anchor; 0.3 off it is fresh; 0.45 repeats 0.3
    assert torch.equal(ab[0], torch.full((2, 4, 4), 100.0)) and torch.equal(ab[2], ab[1])

    skipper.reset()
    skipper.colorize(predict, drift[:1])
    assert len(calls[-1]) == 1 and len(calls) == 3


def test_threads_leave_room_for_the_pipeline():
    cpu = torch.device("cpu")
    assert torch_threads(cpu, cores=2) == 1
    assert torch_threads(cpu, cores=8) == 2
    assert torch_threads(cpu, cores=64) == 4
    assert torch_threads(torch.device("cuda"), cores=64) == 1
    assert auto_batch_size(cpu, 1080, 1920) == 8


def test_process_policy_sets_threads_and_keeps_freed_memory_on_glibc():
    threads = torch.get_num_threads()
    try:
        assert apply_process_policy(torch.device("cpu")) == torch.device("cpu")
        assert torch.get_num_threads() == torch_threads(torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)
    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_frozen_objects_leave_the_collectors_generations():
    before = gc.get_freeze_count()
    alive = [object() for _ in range(3)] + [[]]
    try:
        freeze_long_lived_objects()
        assert gc.get_freeze_count() >= before + 1
        assert not any(alive[-1] is o for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_codec_auto_is_x264_on_the_cpu_and_nvenc_gets_constant_quality():
    assert for_output(EncodeSettings("auto"), ".mp4").codec == "libx264"
    assert for_output(EncodeSettings("libx265", gpu=True), ".mkv").codec == "libx265"
    assert encoder_options(EncodeSettings("libx264", 20, "slow")) == {"crf": "20", "preset": "slow"}
    nvenc = encoder_options(EncodeSettings("h264_nvenc", 20, "slow"))
    assert nvenc["cq"] == "20" and nvenc["preset"] == "p5"  # x264's slow on NVENC's scale
    assert encoder_options(EncodeSettings("ffv1")) == {}


def test_a_held_frame_gets_the_last_picture_again_and_a_changed_one_does_not():
    held = HeldFrame()
    lightness, ab = torch.rand(1, 1, 36, 64) * 100, torch.rand(1, 2, 9, 16) * 20
    picture = np.zeros((36, 64, 3), np.uint8)
    assert held.repeat_of(lightness, ab) is None
    held.remember(lightness, ab, picture)
    assert held.repeat_of(lightness.clone(), ab + 1e-4) is picture  # the temporal blend's rounding
    assert held.repeat_of(lightness, ab + 0.01) is None  # chroma moved
    moved = lightness.clone()
    moved[..., 5, 5] += 0.01
    assert held.repeat_of(moved, ab) is None  # one pixel of lightness changed
