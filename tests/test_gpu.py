"""The CUDA path: the same film rendered on the GPU and on the CPU. Skipped on machines without a GPU."""

import numpy as np
import pytest
import torch
from helpers import frames_rgb

import videocolor
from videocolor import Settings

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("temporal", ["off", "dis"])
def test_cuda_render_matches_the_cpu_render(pan_clip, color_ref, tmp_path, temporal):
    outputs = {}
    for device in ("cpu", "cuda"):
        outputs[device] = tmp_path / f"{device}.mp4"
        # A GPU's own defaults match finer (512 px, stride 4): compare the two devices on the same grid.
        settings = Settings(device=device, temporal=temporal, crf=0, quiet=True).replace_section("exemplar", work_size=256, match_stride=8)
        videocolor.colorize_video(pan_clip, outputs[device], ref=color_ref, settings=settings)
    cpu, gpu = frames_rgb(outputs["cpu"]).astype(np.int16), frames_rgb(outputs["cuda"]).astype(np.int16)
    assert cpu.shape == gpu.shape
    assert np.abs(cpu - gpu).mean() < 1.0  # float rounding differs between devices; colors must not
