"""Colors measured against ground truth: camera moves over real photos, gray in, the true colors known."""

import numpy as np
import pytest
import torch
from helpers import frames_rgb, mirrored_reference, save_image

import videocolor
from videocolor import Settings
from videocolor.evaluation import synthetic as synth
from videocolor.evaluation.baselines import luminance_transfer
from videocolor.ops.color import lab_to_rgb, rgb_to_lightness

SIZE = (144, 256)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.mark.slow
@pytest.mark.parametrize("move, photo", [("pan", "astronaut"), ("zoom", "flower"), ("pan", "chelsea")])
def test_beats_luminance_transfer_by_3db(move, photo, tmp_path):
    picture = synth.load_photo(photo)
    truth = np.stack(getattr(synth, move)(picture, 12, SIZE))
    film = synth.write_clip(tmp_path / "film.mp4", truth)
    ref = save_image(tmp_path / "ref.png", mirrored_reference(picture))
    out = tmp_path / "film_color.mp4"
    videocolor.colorize_video(film, out, ref=ref, settings=Settings(quiet=True))
    ours = frames_rgb(out)
    assert ours.shape == truth.shape

    gray = frames_rgb(film)
    lightness = rgb_to_lightness(torch.from_numpy(gray).permute(0, 3, 1, 2).float() / 255)
    reference = torch.from_numpy(mirrored_reference(picture)).permute(2, 0, 1).float() / 255
    transfer = lab_to_rgb(torch.cat((lightness, luminance_transfer(lightness, reference)), 1))
    baseline = transfer.mul(255).round().byte().permute(0, 2, 3, 1).numpy()

    gain = psnr(ours, truth) - psnr(baseline, truth)
    assert gain >= 3.0, f"{move} over {photo}: ours {psnr(ours, truth):.2f} dB, baseline {psnr(baseline, truth):.2f} dB"
