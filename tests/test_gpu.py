"""The CUDA path: the same film rendered on the GPU and on the CPU. Skipped on machines without a GPU."""

import av
import numpy as np
import pytest
import torch

import videocolor
from videocolor import Settings

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def decode(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)])


@pytest.mark.parametrize("temporal", ["off", "dis"])
def test_cuda_render_matches_the_cpu_render(pan_clip, color_ref, tmp_path, temporal):
    outputs = {}
    for device in ("cpu", "cuda"):
        outputs[device] = tmp_path / f"{device}.mp4"
        settings = Settings(device=device, temporal=temporal, crf=0, quiet=True)
        videocolor.colorize_video(pan_clip, outputs[device], ref=color_ref, settings=settings)
    cpu, gpu = decode(outputs["cpu"]), decode(outputs["cuda"])
    assert cpu.shape == gpu.shape
    assert np.abs(cpu - gpu).mean() < 1.0  # float rounding differs between devices; colors must not
