"""Rendering across cuts: the reference switches exactly at the cut and no color crosses it."""

import numpy as np
import pytest
from helpers import SIZE, frames_rgb, mirrored_reference, save_image

import videocolor
from videocolor import Settings
from videocolor.analysis.film import analyse
from videocolor.evaluation import synthetic as synth


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cut")
    astronaut, coffee = synth.load_photo("astronaut"), synth.load_photo("coffee")
    truth = synth.pan(astronaut, 12, SIZE) + synth.zoom(coffee, 12, SIZE)
    film = synth.write_clip(folder / "cut.mp4", truth)
    refs = folder / "refs"
    refs.mkdir()
    save_image(refs / "astronaut.png", mirrored_reference(astronaut))
    save_image(refs / "coffee.png", mirrored_reference(coffee))
    return film, refs


def test_reference_switches_at_the_cut_and_temporal_state_resets(two_shots, tmp_path):
    film, refs = two_shots
    analysis = analyse(film, ref_dir=refs, quiet=True)
    assert [(s.start_frame, s.end_frame) for s in analysis.shots] == [(0, 11), (12, 23)]
    assert [c.path.name for c in analysis.choices] == ["astronaut.png", "coffee.png"]

    smoothed, plain = tmp_path / "dis.mp4", tmp_path / "off.mp4"
    videocolor.colorize_video(film, smoothed, ref_dir=refs, settings=Settings(temporal="dis", crf=0, quiet=True))
    videocolor.colorize_video(film, plain, ref_dir=refs, settings=Settings(temporal="off", crf=0, quiet=True))
    with_flow, without = frames_rgb(smoothed).astype(np.int16), frames_rgb(plain).astype(np.int16)
    # Lossless encoding (CRF 0), so frames compare exactly: the first frame after the cut is what the
    # colorizer alone gives, nothing carried over the cut.
    assert np.abs(with_flow[12] - without[12]).mean() < 0.5
    # Within a shot the temporal stage does act.
    assert np.abs(with_flow[5] - without[5]).mean() > 0.05


def test_fast_lightness_path_matches_the_color_math():
    import torch

    from videocolor.ops.color import frames_to_lightness, rgb_to_lightness

    frames = [np.random.default_rng(seed).integers(0, 256, (9, 13, 3), dtype=np.uint8) for seed in range(3)]
    gray = np.linspace(0, 255, 9 * 13).round().astype(np.uint8).reshape(9, 13, 1)
    frames.append(np.repeat(gray, 3, axis=2))  # neutral (R = G = B), every level from 0 to 255: the 256-entry table
    expected = rgb_to_lightness(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255)
    torch.testing.assert_close(frames_to_lightness(frames, torch.device("cpu")), expected, atol=1e-4, rtol=0)
    wide = [(f.astype(np.uint16) * 257) for f in frames]
    torch.testing.assert_close(frames_to_lightness(wide, torch.device("cpu")), expected, atol=1e-4, rtol=0)


def test_a_failing_encoder_stops_the_render_instead_of_hanging(two_shots):
    import threading

    from videocolor.models.exemplar import ExemplarColorizer
    from videocolor.render.pipeline import Renderer

    film, _ = two_shots
    analysis = analyse(film, quiet=True)
    renderer = Renderer(ExemplarColorizer("cpu"), batch_size=2)

    class FullDisk:
        def write(self, rgb, pts):
            raise OSError(28, "No space left on device")

        def abort(self):
            pass

    outcome = {}

    def render():
        try:
            renderer.render_range(film, analysis.shots, analysis.choices, 0, None, lambda info: FullDisk())
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=render, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the render hung after its encoder failed"
    assert "No space left" in str(outcome["error"])


def test_opencv_lab_conversion_matches_the_color_math():
    import torch

    from videocolor.evaluation.protocol import to_uint8
    from videocolor.ops.color import lab_to_rgb, lab_to_rgb_array

    lab = torch.cat((torch.rand(1, 40, 50) * 100, (torch.rand(2, 40, 50) - 0.5) * 160))
    fast, exact = lab_to_rgb_array(lab).astype(int), to_uint8(lab_to_rgb(lab)[None])[0].astype(int)
    assert np.abs(fast - exact).max() <= 1
