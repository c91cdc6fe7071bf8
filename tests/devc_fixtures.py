"""Fake DEVC release archives for tests: every official tensor name and shape, almost no bytes.

The tables below are the official checkpoints' tensor names and shapes, taken from the upstream classes
(zhangmozhe/Deep-Exemplar-based-Video-Colorization), written out here independently of
``videocolor.models`` so tests check the models against them rather than against themselves.

Tensors are zero views of a single stored float (``torch.zeros(1).expand(shape)``), so each .pth file is a
few kilobytes yet loads as full-size tensors; ``conv10_ab.bias`` is set so the colorizer's output is a
known constant, ``FAKE_AB``.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

WARPNET_PATH = "checkpoints/video_moredata_l1/nonlocal_net_iter_76000.pth"
COLORNET_PATH = "checkpoints/video_moredata_l1/colornet_iter_76000.pth"
VGG19_CONV_PATH = "data/vgg19_conv.pth"
VGG19_GRAY_PATH = "data/vgg19_gray.pth"
OFFICIAL_PARAMS = {WARPNET_PATH: 6_917_131, COLORNET_PATH: 32_802_370, VGG19_CONV_PATH: 20_024_384}
FAKE_COLORNET_BIAS = (0.25, -0.125)
# ab the colorizer returns with the fake weights: tanh(bias) x 128, then the released x 1.25.
FAKE_AB = tuple(1.25 * 128 * math.tanh(b) for b in FAKE_COLORNET_BIAS)

WARPNET = (
    ('layer2_1.1.weight', (128, 128, 3, 3)),
    ('layer2_1.1.bias', (128,)),
    ('layer2_1.3.weight', (1,)),
    ('layer2_1.5.weight', (64, 128, 3, 3)),
    ('layer2_1.5.bias', (64,)),
    ('layer2_1.7.weight', (1,)),
    ('layer3_1.1.weight', (128, 256, 3, 3)),
    ('layer3_1.1.bias', (128,)),
    ('layer3_1.3.weight', (1,)),
    ('layer3_1.5.weight', (64, 128, 3, 3)),
    ('layer3_1.5.bias', (64,)),
    ('layer3_1.7.weight', (1,)),
    ('layer4_1.1.weight', (256, 512, 3, 3)),
    ('layer4_1.1.bias', (256,)),
    ('layer4_1.3.weight', (1,)),
    ('layer4_1.5.weight', (64, 256, 3, 3)),
    ('layer4_1.5.bias', (64,)),
    ('layer4_1.7.weight', (1,)),
    ('layer5_1.1.weight', (256, 512, 3, 3)),
    ('layer5_1.1.bias', (256,)),
    ('layer5_1.3.weight', (1,)),
    ('layer5_1.6.weight', (64, 256, 3, 3)),
    ('layer5_1.6.bias', (64,)),
    ('layer5_1.8.weight', (1,)),
    ('layer.0.conv1.weight', (256, 256, 3, 3)),
    ('layer.0.conv1.bias', (256,)),
    ('layer.0.prelu.weight', (1,)),
    ('layer.0.conv2.weight', (256, 256, 3, 3)),
    ('layer.0.conv2.bias', (256,)),
    ('layer.1.conv1.weight', (256, 256, 3, 3)),
    ('layer.1.conv1.bias', (256,)),
    ('layer.1.prelu.weight', (1,)),
    ('layer.1.conv2.weight', (256, 256, 3, 3)),
    ('layer.1.conv2.bias', (256,)),
    ('layer.2.conv1.weight', (256, 256, 3, 3)),
    ('layer.2.conv1.bias', (256,)),
    ('layer.2.prelu.weight', (1,)),
    ('layer.2.conv2.weight', (256, 256, 3, 3)),
    ('layer.2.conv2.bias', (256,)),
    ('theta.weight', (256, 256, 1, 1)),
    ('theta.bias', (256,)),
    ('phi.weight', (256, 256, 1, 1)),
    ('phi.bias', (256,)),
)
COLORNET = (
    ('conv1_1.0.weight', (32, 7, 3, 3)),
    ('conv1_1.0.bias', (32,)),
    ('conv1_1.2.weight', (64, 32, 3, 3)),
    ('conv1_1.2.bias', (64,)),
    ('conv1_2.weight', (64, 64, 3, 3)),
    ('conv1_2.bias', (64,)),
    ('conv1_2norm_ss.weight', (64, 1, 1, 1)),
    ('conv2_1.weight', (128, 64, 3, 3)),
    ('conv2_1.bias', (128,)),
    ('conv2_2.weight', (128, 128, 3, 3)),
    ('conv2_2.bias', (128,)),
    ('conv2_2norm_ss.weight', (128, 1, 1, 1)),
    ('conv3_1.weight', (256, 128, 3, 3)),
    ('conv3_1.bias', (256,)),
    ('conv3_2.weight', (256, 256, 3, 3)),
    ('conv3_2.bias', (256,)),
    ('conv3_3.weight', (256, 256, 3, 3)),
    ('conv3_3.bias', (256,)),
    ('conv3_3norm_ss.weight', (256, 1, 1, 1)),
    ('conv4_1.weight', (512, 256, 3, 3)),
    ('conv4_1.bias', (512,)),
    ('conv4_2.weight', (512, 512, 3, 3)),
    ('conv4_2.bias', (512,)),
    ('conv4_3.weight', (512, 512, 3, 3)),
    ('conv4_3.bias', (512,)),
    ('conv5_1.weight', (512, 512, 3, 3)),
    ('conv5_1.bias', (512,)),
    ('conv5_2.weight', (512, 512, 3, 3)),
    ('conv5_2.bias', (512,)),
    ('conv5_3.weight', (512, 512, 3, 3)),
    ('conv5_3.bias', (512,)),
    ('conv6_1.weight', (512, 512, 3, 3)),
    ('conv6_1.bias', (512,)),
    ('conv6_2.weight', (512, 512, 3, 3)),
    ('conv6_2.bias', (512,)),
    ('conv6_3.weight', (512, 512, 3, 3)),
    ('conv6_3.bias', (512,)),
    ('conv7_1.weight', (512, 512, 3, 3)),
    ('conv7_1.bias', (512,)),
    ('conv7_2.weight', (512, 512, 3, 3)),
    ('conv7_2.bias', (512,)),
    ('conv7_3.weight', (512, 512, 3, 3)),
    ('conv7_3.bias', (512,)),
    ('conv8_1.1.weight', (256, 512, 3, 3)),
    ('conv8_1.1.bias', (256,)),
    ('conv3_3_short.weight', (256, 256, 3, 3)),
    ('conv3_3_short.bias', (256,)),
    ('conv8_2.weight', (256, 256, 3, 3)),
    ('conv8_2.bias', (256,)),
    ('conv8_3.weight', (256, 256, 3, 3)),
    ('conv8_3.bias', (256,)),
    ('conv9_1.1.weight', (128, 256, 3, 3)),
    ('conv9_1.1.bias', (128,)),
    ('conv2_2_short.weight', (128, 128, 3, 3)),
    ('conv2_2_short.bias', (128,)),
    ('conv9_2.weight', (128, 128, 3, 3)),
    ('conv9_2.bias', (128,)),
    ('conv10_1.1.weight', (128, 128, 3, 3)),
    ('conv10_1.1.bias', (128,)),
    ('conv1_2_short.weight', (128, 64, 3, 3)),
    ('conv1_2_short.bias', (128,)),
    ('conv10_2.weight', (128, 128, 3, 3)),
    ('conv10_2.bias', (128,)),
    ('conv10_ab.weight', (2, 128, 1, 1)),
    ('conv10_ab.bias', (2,)),
)
VGG19_CONV = (
    ('conv1_1.weight', (64, 3, 3, 3)),
    ('conv1_1.bias', (64,)),
    ('conv1_2.weight', (64, 64, 3, 3)),
    ('conv1_2.bias', (64,)),
    ('conv2_1.weight', (128, 64, 3, 3)),
    ('conv2_1.bias', (128,)),
    ('conv2_2.weight', (128, 128, 3, 3)),
    ('conv2_2.bias', (128,)),
    ('conv3_1.weight', (256, 128, 3, 3)),
    ('conv3_1.bias', (256,)),
    ('conv3_2.weight', (256, 256, 3, 3)),
    ('conv3_2.bias', (256,)),
    ('conv3_3.weight', (256, 256, 3, 3)),
    ('conv3_3.bias', (256,)),
    ('conv3_4.weight', (256, 256, 3, 3)),
    ('conv3_4.bias', (256,)),
    ('conv4_1.weight', (512, 256, 3, 3)),
    ('conv4_1.bias', (512,)),
    ('conv4_2.weight', (512, 512, 3, 3)),
    ('conv4_2.bias', (512,)),
    ('conv4_3.weight', (512, 512, 3, 3)),
    ('conv4_3.bias', (512,)),
    ('conv4_4.weight', (512, 512, 3, 3)),
    ('conv4_4.bias', (512,)),
    ('conv5_1.weight', (512, 512, 3, 3)),
    ('conv5_1.bias', (512,)),
    ('conv5_2.weight', (512, 512, 3, 3)),
    ('conv5_2.bias', (512,)),
    ('conv5_3.weight', (512, 512, 3, 3)),
    ('conv5_3.bias', (512,)),
    ('conv5_4.weight', (512, 512, 3, 3)),
    ('conv5_4.bias', (512,)),
)
VGG19_GRAY = (
    ('0.weight', (64, 3, 3, 3)),
    ('0.bias', (64,)),
    ('2.weight', (64, 64, 3, 3)),
    ('2.bias', (64,)),
    ('5.weight', (128, 64, 3, 3)),
    ('5.bias', (128,)),
    ('7.weight', (128, 128, 3, 3)),
    ('7.bias', (128,)),
    ('10.weight', (256, 128, 3, 3)),
    ('10.bias', (256,)),
    ('12.weight', (256, 256, 3, 3)),
    ('12.bias', (256,)),
    ('14.weight', (256, 256, 3, 3)),
    ('14.bias', (256,)),
    ('16.weight', (256, 256, 3, 3)),
    ('16.bias', (256,)),
    ('19.weight', (512, 256, 3, 3)),
    ('19.bias', (512,)),
    ('21.weight', (512, 512, 3, 3)),
    ('21.bias', (512,)),
    ('23.weight', (512, 512, 3, 3)),
    ('23.bias', (512,)),
    ('25.weight', (512, 512, 3, 3)),
    ('25.bias', (512,)),
    ('28.weight', (512, 512, 3, 3)),
    ('28.bias', (512,)),
    ('30.weight', (512, 512, 3, 3)),
    ('30.bias', (512,)),
    ('32.weight', (512, 512, 3, 3)),
    ('32.bias', (512,)),
    ('34.weight', (512, 512, 3, 3)),
    ('34.bias', (512,)),
    ('38.1.weight', (4096, 25088)),
    ('38.1.bias', (4096,)),
    ('40.1.weight', (4096, 4096)),
    ('40.1.bias', (4096,)),
    ('42.1.weight', (1000, 4096)),
    ('42.1.bias', (1000,)),
)

TABLES = {WARPNET_PATH: WARPNET, COLORNET_PATH: COLORNET, VGG19_CONV_PATH: VGG19_CONV, VGG19_GRAY_PATH: VGG19_GRAY}


def fake_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A state_dict with every official tensor of ``path`` (a file in the zip) at its official shape."""
    zero = torch.zeros(1)
    state = {name: zero.expand(shape) for name, shape in TABLES[path]}
    if path == COLORNET_PATH:
        state["conv10_ab.bias"] = torch.tensor(FAKE_COLORNET_BIAS)
    return state


def write_fake_devc_zip(
    path: str | Path,
    include_gray: bool = True,
    *,
    edit: Callable[[str, dict[str, torch.Tensor]], None] | None = None,
    prefix: str = "",
) -> Path:
    """Write a zip laid out like the official ``colorization_checkpoint.zip``.

    Args:
        path: where to write the zip.
        include_gray: also write ``data/vgg19_gray.pth`` (shipped officially, unused at inference).
        edit: called as ``edit(file_in_zip, state_dict)`` before each file is saved, to break a tensor.
        prefix: a top folder to put everything under (e.g. ``"colorization_checkpoint/"``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    files = [WARPNET_PATH, COLORNET_PATH, VGG19_CONV_PATH] + ([VGG19_GRAY_PATH] if include_gray else [])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in files:
            state = fake_state_dict(name)
            if edit is not None:
                edit(name, state)
            buffer = io.BytesIO()
            torch.save(state, buffer)
            zf.writestr(prefix + name, buffer.getvalue())
    return path
