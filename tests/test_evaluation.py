"""The real-footage evaluation, run on a tiny generated evaluation folder (never on ../shared)."""

import dataclasses
import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import save_image

from videocolor.evaluation import protocol as evaluation
from videocolor.evaluation import synthetic as synth
from videocolor.models.exemplar import ExemplarColorizer
from videocolor.ops.color import rgb_to_lightness

SIZE = (64, 96)
SHOT = 24  # frames per generated shot


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pairs/ with two pairs (a shifted view of a photo as reference) and video/ with a two-shot color film."""
    root = tmp_path_factory.mktemp("eval")
    (root / "pairs").mkdir()
    (root / "video").mkdir()
    for name in ("astronaut", "coffee"):
        photo = synth.cv2.resize(synth.load_photo(name), (144, 96), interpolation=synth.cv2.INTER_AREA)
        save_image(root / "pairs" / f"{name}_target.png", photo[16:80, 8:104])
        save_image(root / "pairs" / f"{name}_ref.png", photo[8:72, 24:120])
    shots = [synth.pan(synth.load_photo(name), SHOT, SIZE) for name in ("astronaut", "coffee")]
    synth.write_clip(root / "video" / "film.mp4", shots[0] + shots[1], gray=False, audio_seconds=0, options={"crf": "4"})
    return root


@pytest.fixture(scope="module")
def cases(eval_dir: Path) -> list[evaluation.Case]:
    return evaluation.load_cases(eval_dir)


def test_cases_follow_the_protocols(cases, eval_dir):
    assert [(c.protocol, c.name) for c in cases] == [
        ("pairs", "astronaut"),
        ("pairs", "coffee"),
        ("in-shot", "film:0"),
        ("in-shot", "film:1"),
        ("other-shot", "film:0<-1"),
        ("other-shot", "film:1<-0"),
    ]
    frames, fps = evaluation.read_frames(eval_dir / "video" / "film.mp4")
    assert fps == Fraction(25) and len(frames) == 2 * SHOT
    in_shot, other_shot = cases[3], cases[5]
    # Scored: the first half of the shot; in-shot reference: its last frame; other-shot: the other shot's middle.
    np.testing.assert_array_equal(in_shot.truth, frames[SHOT : SHOT + SHOT // 2])
    np.testing.assert_array_equal(in_shot.reference, frames[2 * SHOT - 1])
    np.testing.assert_array_equal(other_shot.truth, in_shot.truth)
    np.testing.assert_array_equal(other_shot.reference, frames[(SHOT - 1) // 2])
    assert cases[0].truth.shape == (1, 64, 96, 3) and cases[0].reference.shape == (64, 96, 3)


def test_gray_input_stores_lightness_as_the_pixel_value(cases):
    truth = cases[2].truth
    gray = evaluation.gray_input(truth)
    assert gray.dtype == np.uint8 and gray.shape == truth.shape
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    lightness = rgb_to_lightness(torch.from_numpy(truth).permute(0, 3, 1, 2).float() / 255)[:, 0].numpy()
    assert np.abs(gray[..., 1].astype(np.float64) - 2.55 * lightness).max() <= 0.5 + 1e-3


def test_missing_reference_is_named(tmp_path):
    (tmp_path / "pairs").mkdir()
    save_image(tmp_path / "pairs" / "x_target.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="x_ref"):
        evaluation.load_cases(tmp_path)
    with pytest.raises(FileNotFoundError, match="no pairs"):
        evaluation.load_cases(tmp_path / "pairs")


def test_scores_rank_the_model_above_the_baselines(cases):
    colorizer = ExemplarColorizer(torch.device("cpu"), work_size=96)
    methods = {
        "gray": evaluation.gray_row,
        "transfer": evaluation.transfer_row,
        "ours": lambda case: evaluation.colorize_case(colorizer, case),
    }
    results = evaluation.evaluate(cases, methods)
    assert list(results) == ["pairs", "in-shot", "other-shot"]
    assert list(results["pairs"]) == ["gray", "transfer", "ours"]
    assert list(results["in-shot"]) == ["truth", "gray", "transfer", "ours"]
    for protocol, table in results.items():
        means = {name: np.mean(rows, axis=0) for name, rows in table.items()}
        assert means["ours"][0] > means["gray"][0] + 3, protocol
        assert means["gray"][2] < 0.05  # colorfulness ratio of a gray picture
    truth = np.array(results["in-shot"]["truth"])
    assert np.isinf(truth[:, 0]).all() and np.allclose(truth[:, 1:3], 1)
    assert np.isnan(np.array(results["pairs"]["ours"])[:, 3:]).all()  # no temporal metrics for one frame


def test_script_renders_cases_through_the_command_line(cases, tmp_path):
    spec = importlib.util.spec_from_file_location("evaluate_script", Path(__file__).parents[1] / "scripts" / "evaluate.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    method = script.rendered(["--model", "exemplar", "--work-size", "96"], tmp_path)
    for case in (cases[0], cases[2]):
        colored = method(case)
        assert colored.shape == case.truth.shape
        assert evaluation.score(colored, case)[0] > evaluation.score(case.gray, case)[0] + 3
    # Other-shot with a second reference, the scored shot's own frame: rendered with --ref-dir and --refs-per-shot 2.
    wrong = cases[4]
    both = dataclasses.replace(wrong, more_references=(cases[5].reference,))
    assert evaluation.score(method(both), both)[0] > evaluation.score(method(wrong), wrong)[0] + 1
