"""VGG19 convolutional trunk as released with DEVC (``data/vgg19_conv.pth``).

Key names are ``conv1_1.weight`` ... ``conv5_4.bias`` (not torchvision's ``features.N``), so the official
state_dict loads with ``strict=True``. Input is Caffe style: BGR in [0, 255] minus the ImageNet means.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (stage, convs per stage, in channels, out channels)
_STAGES = ((1, 2, 3, 64), (2, 2, 64, 128), (3, 4, 128, 256), (4, 4, 256, 512), (5, 4, 512, 512))
_BGR_MEAN = (103.939, 116.779, 123.68)


def vgg_preprocess(rgb: torch.Tensor) -> torch.Tensor:
    """Caffe-style VGG input: ``rgb`` ``(B, 3, H, W)`` in [0, 1] -> BGR x 255 minus the BGR means."""
    mean = torch.tensor(_BGR_MEAN, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    return rgb.flip(1) * 255.0 - mean


class VGG19(nn.Module):
    """The 16 convolutions of VGG19 with ReLU and 2x2 max pooling, returning chosen ReLU outputs."""

    def __init__(self) -> None:
        super().__init__()
        for stage, count, cin, cout in _STAGES:
            for index in range(1, count + 1):
                self.add_module(f"conv{stage}_{index}", nn.Conv2d(cin if index == 1 else cout, cout, 3, padding=1))

    def forward(self, rgb: torch.Tensor, taps: tuple[str, ...] = ("r22", "r32", "r42", "r52")) -> list[torch.Tensor]:
        """ReLU outputs named ``r{stage}{index}`` (``r22`` = relu2_2, stride 2; ``r52`` = relu5_2, stride 16).

        Args:
            rgb: ``(B, 3, H, W)`` sRGB in [0, 1]; preprocessed here with :func:`vgg_preprocess`.
            taps: names of the ReLU outputs to return, in the order wanted.

        Returns:
            One ``(B, C, H / 2**(stage-1), W / 2**(stage-1))`` tensor (sizes floored) per tap.
        """
        x = vgg_preprocess(rgb)
        out: dict[str, torch.Tensor] = {}
        for stage, count, _, _ in _STAGES:
            if stage > 1:
                x = F.max_pool2d(x, 2, 2)
            for index in range(1, count + 1):
                x = F.relu(getattr(self, f"conv{stage}_{index}")(x))
                out[f"r{stage}{index}"] = x
                if all(tap in out for tap in taps):
                    return [out[tap] for tap in taps]
        raise ValueError(f"unknown VGG19 tap in {taps}: use r11 ... r54")
