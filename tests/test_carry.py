"""Frames carried along the optical flow instead of colorized (``Settings.carry``): which frames, what they get,
and that the model is spared exactly those."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videocolor.evaluation import synthetic as synth
from videocolor.ops.color import rgb_to_lab
from videocolor.ops.flow import warp
from videocolor.render.colorize import predict_chroma
from videocolor.render.temporal import TemporalSmoother, make_smoother

SIZE = (72, 128)


def _pan(photo: str, frames: int) -> torch.Tensor:
    """Lab ``(T, 3, 72, 128)`` of a slow camera pan over a real photo."""
    rgb = np.stack(synth.pan(synth.load_photo(photo), frames, SIZE))
    return rgb_to_lab(torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255)


class CountingColorizer:
    """Colors each frame with its true chroma plus a frame-specific offset, and counts the frames it saw."""

    recurrent = False

    def __init__(self, truth: torch.Tensor) -> None:
        self.truth, self.seen = truth, []

    def colorize(self, lightness: torch.Tensor, reference: object) -> tuple[torch.Tensor, torch.Tensor]:
        index = [int(torch.argmin(((self.truth[:, :1] - frame) ** 2).flatten(1).mean(1))) for frame in lightness]
        self.seen += index
        ab = torch.stack([self.truth[i, 1:] + i for i in index])
        return ab, torch.full_like(lightness, 0.8)


def _still(photo: str, frames: int) -> torch.Tensor:
    """Lab ``(T, 3, 72, 128)`` of a still shot of a real photo: its flow is trusted everywhere."""
    rgb = torch.from_numpy(synth.still(synth.load_photo(photo), SIZE)).permute(2, 0, 1).float() / 255
    return rgb_to_lab(rgb[None]).expand(frames, -1, -1, -1)


def test_every_other_frame_of_a_steady_shot_is_carried_and_a_cut_goes_back_to_the_model():
    lab = torch.cat((_still("astronaut", 6), _still("coffee", 3)))  # a cut that detection missed, at frame 6
    smoother = TemporalSmoother(carry=1)
    predicted, _ = smoother.plan(lab[:, :1])
    assert predicted == [True, False, True, False, True, False, True, False, True]
    lab = torch.cat((_still("astronaut", 5), _still("coffee", 4)))  # the cut falls on a frame that would be carried
    assert TemporalSmoother(carry=1).plan(lab[:, :1])[0] == [True, False, True, False, True, True, False, True, False]
    assert TemporalSmoother(carry=2).plan(lab[:5, :1])[0] == [True, False, False, True, False]
    assert TemporalSmoother(carry=0).plan(lab[:, :1])[0] == [True] * 9


def test_the_model_sees_only_the_planned_frames_and_carried_ones_follow_the_flow():
    lab = _pan("astronaut", 24)[8:16]  # the flow is trusted over more than 60% of each of these frames
    colorizer = CountingColorizer(lab)
    smoother = make_smoother("dis", "cpu", carry=1)
    first, _ = predict_chroma(colorizer, lab[:5, :1], object(), smoother)
    second, confidence = predict_chroma(colorizer, lab[5:, :1], object(), smoother)  # the plan continues across batches
    assert colorizer.seen == [0, 2, 4, 6]
    ab = torch.cat((first, second))
    assert ab.shape == (8, 2, *SIZE) and confidence.shape == (3, 1, *SIZE)
    trust, backward = smoother.flow.estimate(lab[:, :1])
    for t in (1, 3, 5, 7):  # a carried frame is the previous output moved along the flow, nothing new
        assert torch.allclose(ab[t : t + 1], warp(ab[t - 1 : t], backward[t - 1 : t]), atol=1e-4)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    for t in (1, 3, 5, 7):  # and close to the truth: the carried color lands on the right content
        assert (ab[t][inner] - lab[t, 1:][inner]).abs().mean() < 0.5 + t


def test_a_recurrent_model_sees_every_frame():
    lab = _pan("astronaut", 4)
    colorizer = CountingColorizer(lab)
    colorizer.recurrent = True
    predict_chroma(colorizer, lab[:, :1], object(), make_smoother("dis", "cpu", carry=1))
    assert colorizer.seen == [0, 1, 2, 3]


def test_blend_refuses_a_plan_that_does_not_fit_its_predictions():
    lab = _pan("astronaut", 3)
    smoother = TemporalSmoother(carry=1)
    with pytest.raises(ValueError, match="first frame of a shot must be predicted"):
        smoother.blend(lab[:, :1], lab[1:, 1:], torch.ones(2, 1, *SIZE), predicted=[False, True, True])
    with pytest.raises(ValueError, match="marks 2 of 3 frames"):
        smoother.blend(lab[:, :1], lab[:, 1:], torch.ones(3, 1, *SIZE), predicted=[True, False, True])
