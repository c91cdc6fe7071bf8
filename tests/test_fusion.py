"""Several references per shot: fused chroma, and the renderer preparing each reference once."""

from __future__ import annotations

import cv2
import torch

from videocolor.models.base import FusedReference
from videocolor.models.exemplar import ExemplarColorizer
from videocolor.ops.color import lab_to_rgb, rgb_to_lab
from videocolor.ops.fusion import fuse
from videocolor.records import ReferenceChoice
from videocolor.render.colorize import predict_chroma
from videocolor.render.devices import refs_per_shot
from videocolor.render.pipeline import Renderer


def quadrants(a: float, b: float) -> torch.Tensor:
    """RGB ``(3, 64, 64)``: four flat quadrants of lightness 30, 50, 70, 90, chroma ``(a, b)`` and its opposite."""
    lab = torch.empty(1, 3, 64, 64)
    for k in range(4):
        sign = 1 if k % 2 == 0 else -1
        rows, cols = slice(32 * (k // 2), 32 * (k // 2) + 32), slice(32 * (k % 2), 32 * (k % 2) + 32)
        lab[0, :, rows, cols] = torch.tensor((30.0 + 20 * k, sign * a, sign * b)).view(3, 1, 1)
    return lab_to_rgb(lab)[0].clamp(0, 1)


def test_fusing_a_right_and_a_wrong_reference_beats_the_wrong_one_alone():
    truth = quadrants(40.0, 20.0)
    wrong = quadrants(-40.0, -20.0)  # same lightness layout, every color turned to its opposite
    colorizer = ExemplarColorizer("cpu", work_size=64, match_stride=8)
    lightness = rgb_to_lab(truth[None])[:, :1]
    true_ab = rgb_to_lab(truth[None])[:, 1:]
    right_ref, wrong_ref = colorizer.prepare_reference(truth), colorizer.prepare_reference(wrong)
    error = {}
    for name, reference in (("wrong", wrong_ref), ("right", right_ref), ("fused", FusedReference((wrong_ref, right_ref)))):
        ab, confidence = predict_chroma(colorizer, lightness, reference)
        assert ab.shape == (1, 2, 64, 64) and confidence.shape == (1, 1, 64, 64)
        error[name] = float((ab - true_ab).abs().mean())
    assert error["right"] < 5 < 30 < error["wrong"]
    assert error["fused"] < 0.6 * error["wrong"]
    ab, _ = predict_chroma(colorizer, lightness, FusedReference((wrong_ref, right_ref, right_ref)))  # two of three agree
    assert float((ab - true_ab).abs().mean()) < error["right"] + 1


def test_fuse_keeps_the_color_most_references_agree_on():
    ab = torch.stack((torch.full((1, 2, 4, 4), 10.0), torch.full((1, 2, 4, 4), 12.0), torch.full((1, 2, 4, 4), -60.0)))
    ab[2, 0, :, 1, :2] = 11.0  # where the third is close, the middle value wins
    confidence = torch.stack((torch.full((1, 1, 4, 4), 0.9), torch.full((1, 1, 4, 4), 0.5), torch.full((1, 1, 4, 4), 0.7)))
    fused, trust = fuse(ab, confidence)
    assert fused.shape == (1, 2, 4, 4) and trust.shape == (1, 1, 4, 4)
    assert fused[0, 0, 0].tolist() == [10.0, 10.0, 10.0, 10.0] and fused[0, 0, 1].tolist() == [11.0, 11.0, 10.0, 10.0]
    assert torch.allclose(trust, torch.full_like(trust, 0.7))
    two, _ = fuse(ab[:2], confidence[:2])  # an even count: the mean of the two middle values
    assert torch.allclose(two, torch.full_like(two, 11.0))


class Counting:
    """A stand-in colorizer that counts the references it prepares."""

    name, device = "counting", torch.device("cpu")

    def __init__(self, recurrent: bool) -> None:
        self.recurrent = recurrent
        self.prepared = 0

    def prepare_reference(self, rgb: torch.Tensor) -> int:
        self.prepared += 1
        return self.prepared


def test_renderer_prepares_each_reference_once_and_fuses_only_for_a_model_without_state(tmp_path):
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"{k}.png")
        cv2.imwrite(str(paths[-1]), (quadrants(10.0 * k + 5, 0.0).permute(1, 2, 0).numpy()[..., ::-1] * 255).astype("uint8"))
    stateless = Renderer(Counting(recurrent=False))
    first = stateless.reference_for(ReferenceChoice(0, paths[0], fused=(paths[1], paths[2])))
    second = stateless.reference_for(ReferenceChoice(1, paths[1], fused=(paths[0],)))
    assert first == FusedReference((1, 2, 3)) and second == FusedReference((2, 1)) and stateless.colorizer.prepared == 3
    recurrent = Renderer(Counting(recurrent=True))
    assert recurrent.reference_for(ReferenceChoice(0, paths[2], fused=(paths[0],))) == 1 and recurrent.colorizer.prepared == 1


def test_three_references_are_fused_per_shot_unless_set():
    assert (refs_per_shot(0), refs_per_shot(2), refs_per_shot(1)) == (3, 2, 1)
