"""Tests of videocolor.render.temporal and ops.flow: flicker reduction on simulated colorizer output, cuts, streaming, RAFT plumbing."""

from __future__ import annotations

import json
import urllib.error

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import frames_rgb

from videocolor import Settings, colorize_video
from videocolor.errors import WeightsError
from videocolor.evaluation import metrics
from videocolor.evaluation import synthetic as synth
from videocolor.ops.color import lab_to_rgb, rgb_to_lab
from videocolor.ops.flow import FlowEstimator, flow_validity, warp
from videocolor.render.temporal import TemporalSmoother, make_smoother

SIZE = (144, 256)  # the pipeline's work resolution


def _clip(kind: str, num_frames: int = 24) -> torch.Tensor:
    """A true color pan or zoom over a real photo: RGB (T, 3, 144, 256) in [0, 1]."""
    photo = synth.load_photo("astronaut" if kind == "pan" else "coffee")
    frames = synth.pan(photo, num_frames, SIZE) if kind == "pan" else synth.zoom(photo, num_frames, SIZE)
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255


def _simulate_colorizer(lab: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flickering per-frame predictions (ab, confidence) for a true Lab clip ``(T, 3, H, W)``.

    Errors are a content-attached color bias (a function of L, so steady along the motion: smoothing
    cannot fix it and must not smear it), spatially smooth noise that changes from frame to frame (AR(1),
    rho 0.5), and mis-colored blobs lasting 1 to 3 frames where the confidence drops.
    """
    g = torch.Generator().manual_seed(seed)
    n, _, h, w = lab.shape

    def smooth_noise(channels: int) -> torch.Tensor:
        return F.interpolate(torch.randn(n, channels, 4, 6, generator=g), size=(h, w), mode="bicubic", align_corners=False)

    lightness = lab[:, :1]
    phase = torch.rand(2, generator=g) * 6.28
    bias = 10 * torch.cat((torch.sin(lightness / 12 + phase[0]), torch.cos(lightness / 17 + phase[1])), 1)
    white = smooth_noise(2)
    noise = white.clone()
    for t in range(1, n):
        noise[t] = 0.5 * noise[t - 1] + 0.75**0.5 * white[t]
    ab = lab[:, 1:] + bias + 8 * noise
    confidence = 0.7 + 0.1 * smooth_noise(1)
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    t = 0
    while t < n:
        if torch.rand(1, generator=g) < 0.3:
            cy, cx = torch.rand(2, generator=g) * torch.tensor([h, w])
            blob = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * (0.08 * w) ** 2))
            color = torch.randn(2, 1, 1, generator=g)
            length = int(torch.randint(1, 4, (1,), generator=g))
            ab[t : t + length] += 35 * color / color.norm() * blob
            confidence[t : t + length, 0] -= 0.3 * blob
            t += length
        else:
            t += 1
    return ab, confidence.clamp(0, 1)


def _run(smoother: TemporalSmoother, lightness, ab, confidence, batch: int) -> torch.Tensor:
    return torch.cat([smoother.smooth(lightness[i : i + batch], ab[i : i + batch], confidence[i : i + batch]) for i in range(0, len(ab), batch)])


@pytest.mark.parametrize(("kind", "seed"), [("pan", 0), ("zoom", 1)])
def test_reduces_flicker_without_losing_fidelity(kind, seed):
    """Issue #4, must-show 1 on simulated colorizer output: excess warp error <= 0.7x, PSNR drop <= 0.3 dB."""
    truth = _clip(kind)
    lab = rgb_to_lab(truth)
    lightness = lab[:, :1]
    ab, confidence = _simulate_colorizer(lab, seed)
    before = lab_to_rgb(torch.cat((lightness, ab), 1))
    after = lab_to_rgb(torch.cat((lightness, _run(TemporalSmoother(), lightness, ab, confidence, batch=8)), 1))
    own = metrics.warp_error(truth)
    excess_before = metrics.warp_error(before, flow_frames=truth) - own
    excess_after = metrics.warp_error(after, flow_frames=truth) - own
    assert excess_after <= 0.7 * excess_before
    assert metrics.psnr(after, truth) >= metrics.psnr(before, truth) - 0.3


def test_cut_carries_no_color_from_previous_shot():
    """Issue #4, must-show 2: after reset() the new shot's first frame is the colorizer's output, exactly."""
    first, second = rgb_to_lab(_clip("pan", 6)), rgb_to_lab(_clip("zoom", 6))
    smoother = TemporalSmoother()
    ab, confidence = _simulate_colorizer(first, 0)
    smoother.smooth(first[:, :1], ab, confidence)
    smoother.reset()
    ab, confidence = _simulate_colorizer(second, 1)
    out = smoother.smooth(second[:, :1], ab, confidence)
    assert torch.equal(out[0], ab[0])
    assert not torch.equal(out[1], ab[1])


def test_unreliable_flow_takes_new_colors():
    """Without a reset, a cut is caught by the flow checks: nearly all of the new frame keeps its colors."""
    first, second = rgb_to_lab(_clip("pan", 4)), rgb_to_lab(_clip("zoom", 4))
    lab = torch.cat((first, second))
    out = TemporalSmoother().smooth(lab[:, :1], lab[:, 1:], torch.full_like(lab[:, :1], 0.7))
    kept = (out[4] == lab[4, 1:]).all(0).float().mean()
    assert kept > 0.9


def test_content_entering_the_frame_takes_new_colors():
    """In a pan to the right, the columns entering at the right edge have no past and keep their colors."""
    lab = rgb_to_lab(_clip("pan", 6))
    ab = lab[:, 1:] + torch.randn(lab[:, 1:].shape, generator=torch.Generator().manual_seed(0))
    out = TemporalSmoother().smooth(lab[:, :1], ab, torch.full_like(lab[:, :1], 0.7))
    assert torch.equal(out[1:, :, :, -2:], ab[1:, :, :, -2:])


def test_streaming_matches_one_batch():
    lab = rgb_to_lab(_clip("zoom", 7))
    ab, confidence = _simulate_colorizer(lab, 0)
    whole = TemporalSmoother().smooth(lab[:, :1], ab, confidence)
    for batch in (1, 3):
        assert torch.allclose(_run(TemporalSmoother(), lab[:, :1], ab, confidence, batch), whole, atol=1e-4)


def test_keeps_dtype_and_static_colors():
    lightness = torch.linspace(20, 80, 64).view(1, 1, 1, 64).expand(3, 1, 36, 64)
    ab = torch.full((3, 2, 36, 64), 12.5, dtype=torch.float64)
    out = TemporalSmoother().smooth(lightness.double(), ab, torch.ones(3, 1, 36, 64, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.shape == ab.shape
    assert torch.equal(out[0], ab[0]) and torch.allclose(out, ab)


def test_checks_shapes():
    smoother = TemporalSmoother()
    lightness, ab, confidence = torch.zeros(2, 1, 16, 16), torch.zeros(2, 2, 16, 16), torch.zeros(2, 1, 16, 16)
    with pytest.raises(ValueError, match="ab"):
        smoother.smooth(lightness, ab[:, :1], confidence)
    with pytest.raises(ValueError, match="confidence"):
        smoother.smooth(lightness, ab, confidence[:1])
    smoother.smooth(lightness, ab, confidence)
    with pytest.raises(ValueError, match="reset"):
        smoother.smooth(lightness[..., :8], ab[..., :8], confidence[..., :8])
    smoother.reset()
    smoother.smooth(lightness[..., :8], ab[..., :8], confidence[..., :8])
    with pytest.raises(ValueError, match="method"):
        FlowEstimator("farneback")


def test_warp_and_validity_on_a_known_shift():
    image = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 4, 8)
    shift = torch.zeros(1, 2, 4, 8)
    shift[:, 0] = 1.0
    assert torch.allclose(warp(image, shift)[..., :7], image[..., 1:])
    valid = flow_validity(shift, -shift)
    assert valid[..., :7].all() and not valid[..., 7].any()


def test_make_smoother():
    assert make_smoother("off", "cpu") is None
    assert isinstance(make_smoother("dis", torch.device("cpu")), TemporalSmoother)


def test_raft_without_weights_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match="--temporal dis"):
        make_smoother("raft", "cpu")


def test_raft_plumbing():
    """RAFT's plumbing only (padding to multiples of 8, flow direction, blend): weights are uninitialised
    because the pretrained ones cannot be downloaded here, so the flow itself is meaningless."""
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    smoother = TemporalSmoother(FlowEstimator("raft", "cpu", flow_model=raft_small(weights=None), raft_updates=2))
    lightness = torch.rand(3, 1, 36, 60) * 100
    ab = torch.randn(3, 2, 36, 60) * 20
    out = smoother.smooth(lightness, ab, torch.full((3, 1, 36, 60), 0.5))
    assert out.shape == ab.shape and torch.isfinite(out).all()
    assert torch.equal(out[0], ab[0])


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "photo"), [("pan", "astronaut"), ("zoom", "chelsea")])
def test_end_to_end_on_generated_film(tmp_path, kind, photo):
    """Issue #4, must-show 1 through colorize_video: excess warp error (flow from the true clip) with the
    temporal stage <= 0.7x the excess without it, PSNR against the truth down by at most 0.3 dB."""
    picture = synth.load_photo(photo)
    frames = synth.pan(picture, 24, SIZE) if kind == "pan" else synth.zoom(picture, 24, SIZE)
    film = synth.write_clip(tmp_path / "film.mp4", frames, audio_seconds=0)
    truth = frames_rgb(synth.write_clip(tmp_path / "truth.mp4", frames, gray=False, audio_seconds=0))
    reference = tmp_path / "reference.png"
    cv2.imwrite(str(reference), cv2.cvtColor(cv2.resize(picture[:, ::-1], None, fx=0.8, fy=0.8), cv2.COLOR_RGB2BGR))
    own = metrics.warp_error(truth)
    excess, fidelity = {}, {}
    for mode in ("off", "dis"):
        output = tmp_path / f"{mode}.mp4"
        colorize_video(film, output, ref=reference, settings=Settings(temporal=mode, quiet=True))
        colored = frames_rgb(output)
        excess[mode] = metrics.warp_error(colored, flow_frames=truth) - own
        fidelity[mode] = metrics.psnr(colored, truth)
    assert excess["off"] > 0, "the clip must flicker without the temporal stage for the comparison to mean anything"
    assert excess["dis"] <= 0.7 * excess["off"]
    assert fidelity["dis"] >= fidelity["off"] - 0.3


def test_identical_frames_need_no_flow_and_are_fully_trusted():
    estimator = FlowEstimator("dis")
    calls = []
    flow = estimator._flow
    estimator._flow = lambda first, second: calls.append(len(first)) or flow(first, second)
    photo = torch.from_numpy(synth.load_photo("astronaut")[::8, ::8].copy()).permute(2, 0, 1)[None].float() / 255
    still = rgb_to_lab(photo)[:, :1]
    moved = torch.roll(still, 2, dims=-1)  # current x shows previous x - 2: backward flow -2
    trust, backward = estimator.estimate(torch.cat((still, still, moved)), still)
    assert calls == [2]  # one pair differs: its two directions, in one call
    assert torch.equal(trust[:2], torch.ones(2, 1, 64, 64)) and torch.equal(backward[:2], torch.zeros(2, 2, 64, 64))
    assert backward[2, 0, 8:-8, 8:-8].median() == pytest.approx(-2, abs=0.5)  # the moved frame got its flow


def test_validity_both_ways_is_two_validities_from_one_flow():
    estimator = FlowEstimator("dis")
    photo = torch.from_numpy(synth.load_photo("astronaut")[::8, ::8].copy()).permute(2, 0, 1)[None].float() / 255
    still = rgb_to_lab(photo)[:, :1]
    frames = torch.cat((still, torch.roll(still, 2, dims=-1), torch.roll(still, 2, dims=-1), torch.roll(still, 5, dims=-2)))
    calls = []
    flow = estimator._flow
    estimator._flow = lambda first, second: calls.append(len(first)) or flow(first, second)
    both = estimator.validity_both_ways(frames[:-1], frames[1:])
    assert calls == [4]  # the two pairs that differ, both directions, once
    for (trust, backward), expected in zip(both, (estimator.validity(frames[:-1], frames[1:]), estimator.validity(frames[1:], frames[:-1]))):
        assert torch.equal(trust, expected[0]) and torch.equal(backward, expected[1])
    assert both[1][1][0, 0, 8:-8, 8:-8].median() == pytest.approx(2, abs=0.5)  # frame 0 -> 1: x shows x + 2 of frame 1
    assert both[1][0].mean() < 1 and torch.equal(both[1][0][1], torch.ones(1, 64, 64))


def test_frames_too_small_for_the_flow_carry_nothing():
    smoother = TemporalSmoother(FlowEstimator("dis"))
    still = torch.rand(1, 1, 8, 8) * 100
    frames = torch.cat((still, still, torch.roll(still, 1, dims=-1)))
    trust, backward = smoother.flow.estimate(frames)  # DIS itself raises cv2.error below 12 px on both sides
    assert torch.equal(trust[0], torch.ones(1, 8, 8)) and torch.equal(trust[1], torch.zeros(1, 8, 8))
    assert torch.equal(backward, torch.zeros(2, 2, 8, 8))
    ab = torch.rand(3, 2, 8, 8) * 40
    out = smoother.smooth(frames, ab, torch.ones(3, 1, 8, 8))
    assert torch.equal(out[2], ab[2])  # the moved frame keeps its own colors


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (8, 8), (6, 10), (11, 11), (11, 200)])
def test_tiny_films_render_through_the_cli(tmp_path, size):
    """A film under the optical flow's 12 px renders colored through the whole CLI, from a reference and from a
    colored keyframe (temporal stage, flow refinement and keyframe propagation: no flow below 12 px)."""
    from videocolor._cli.main import main

    h, w = size
    truth = [f[:h, :w] for f in synth.pan(synth.load_photo("astronaut"), 6, (max(h, 12), max(w, 12)))]
    film = synth.write_clip(tmp_path / "film.mkv", truth, audio_seconds=0, codec="ffv1", pix_fmt="yuv444p")
    reference = tmp_path / "ref.png"
    cv2.imwrite(str(reference), cv2.cvtColor(cv2.resize(synth.load_photo("astronaut"), (64, 64)), cv2.COLOR_RGB2BGR))
    assert main([str(film), "--ref", str(reference), "-o", str(tmp_path / "ref.mkv"), "--quiet"]) == 0
    colored = frames_rgb(tmp_path / "ref.mkv").astype(int)
    assert colored.shape == (6, h, w, 3) and np.abs(colored - colored[..., :1]).max() > 10
    keys = tmp_path / "keys"
    assert main(["shots", str(film), "--export-keyframes", str(keys), "--quiet"]) == 0
    frame = json.loads((keys / "keyframes.json").read_text())["shots"][0]["frame"]
    cv2.imwrite(str(keys / "shot_0000.png"), cv2.cvtColor(truth[frame], cv2.COLOR_RGB2BGR))
    assert main([str(film), "--keyframes", str(keys), "-o", str(tmp_path / "keys.mkv"), "--quiet"]) == 0
    out, gray = frames_rgb(tmp_path / "keys.mkv"), frames_rgb(film)
    assert out.shape == (6, h, w, 3)  # the keyframe's colors at its frame (yuv420p where the size is even: 3.7 dB or more)
    assert metrics.psnr(out[frame][None], truth[frame][None]) > metrics.psnr(gray[frame][None], truth[frame][None]) + 3
