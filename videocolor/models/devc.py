"""DEVC, the paper's video network (Zhang et al., "Deep Exemplar-based Video Colorization", CVPR 2019).

WarpNet and ColorVidNet are rebuilt exactly as released (zhangmozhe/Deep-Exemplar-based-Video-Colorization,
``models/NonlocalNet.py`` and ``models/ColorVidNet.py``), so the official checkpoints load unchanged with
``strict=True``. :class:`DEVCColorizer` drives them as a :class:`~videocolor.models.base.Colorizer`, fixing the
original's limits: any aspect ratio (padded, never cropped), bounded attention memory, errors instead of skips.

Conventions: L is normalized as ``L - 50`` and ab is raw Lab; the networks run at about 216 x 384.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.color import rgb_to_lab
from .devc_card import COLORNET_FILE, NETWORK_SHAPE, VGG_FILE, WARPNET_FILE, DEVCSettings, DEVCWeights
from .smoothing import fast_global_smoother
from .vgg19 import VGG19
from .weights import load_networks

_EPS = sys.float_info.epsilon  # the original's feature-normalization epsilon
_TAPS = ("r22", "r32", "r42", "r52")  # relu2_2 ... relu5_2 (FrameColor.py calls them relu2_1 ... relu5_1)


def _prelu_block(cin: int, mid: int, cout: int, stride: int, upsample: str) -> nn.Sequential:
    """Pad-conv-norm-PReLU twice; ``upsample`` places nearest x2 layers: "" none, "end", or "both"."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(cin, mid, 3), nn.InstanceNorm2d(mid), nn.PReLU()]
    if upsample == "both":
        layers.append(nn.Upsample(scale_factor=2))
    layers += [nn.ReflectionPad2d(1), nn.Conv2d(mid, cout, 3, stride=stride), nn.InstanceNorm2d(cout), nn.PReLU()]
    if upsample:
        layers.append(nn.Upsample(scale_factor=2))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """Reflection-padded conv-IN-PReLU-conv-IN plus the input, then the same PReLU again (as released)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.padding1 = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(channels, channels, 3)
        self.bn1 = nn.InstanceNorm2d(channels)
        self.prelu = nn.PReLU()
        self.padding2 = nn.ReflectionPad2d(1)
        self.conv2 = nn.Conv2d(channels, channels, 3)
        self.bn2 = nn.InstanceNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.prelu(self.bn1(self.conv1(self.padding1(x))))
        out = self.bn2(self.conv2(self.padding2(out)))
        return self.prelu(out + x)


class WarpNet(nn.Module):
    """The correspondence network: VGG taps -> 256-ch embeddings on a 1/4 grid.

    The released forward pass (embed target and reference, :func:`project` through ``theta``/``phi``,
    :func:`attend`) is split by :class:`DEVCColorizer`, which embeds the reference once per shot and warps
    pooled ab in bounded memory. Inputs must be a multiple of 8 in height and width (the colorizer pads).
    """

    def __init__(self) -> None:
        super().__init__()
        self.layer2_1 = _prelu_block(128, 128, 64, 2, "")
        self.layer3_1 = _prelu_block(256, 128, 64, 1, "")
        self.layer4_1 = _prelu_block(512, 256, 64, 1, "end")
        self.layer5_1 = _prelu_block(512, 256, 64, 1, "both")
        self.layer = nn.Sequential(ResidualBlock(256), ResidualBlock(256), ResidualBlock(256))
        self.theta = nn.Conv2d(256, 256, 1)
        self.phi = nn.Conv2d(256, 256, 1)

    def embed(self, taps: list[torch.Tensor]) -> torch.Tensor:
        """``taps``: L2-normalized relu2_2..relu5_2 of an image of size (H, W) -> ``(B, 256, H/4, W/4)``."""
        f2, f3, f4, f5 = self.layer2_1(taps[0]), self.layer3_1(taps[1]), self.layer4_1(taps[2]), self.layer5_1(taps[3])
        dh, dw = f2.shape[2] - f5.shape[2], f2.shape[3] - f5.shape[3]
        if dh or dw:  # relu5_2 is floored at stride 16; the original pads one row top and bottom at 216 high
            f5 = F.pad(f5, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), mode="replicate")
        return self.layer(torch.cat((f2, f3, f4, f5), 1))


def project(head: nn.Conv2d, features: torch.Tensor) -> torch.Tensor:
    """theta/phi head, centred over positions and L2-normalized over channels: ``(B, 256, N)``."""
    x = head(features).flatten(2)
    x = x - x.mean(dim=-1, keepdim=True)
    return x / (torch.linalg.vector_norm(x, dim=1, keepdim=True) + _EPS)


def attend(
    theta: torch.Tensor, phi: torch.Tensor, colors: torch.Tensor, temperature: float, max_elements: int = 1 << 24,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp ``colors`` by softmax(cosine / temperature), a block of target rows at a time.

    The full N x M cosine matrix is quadratic in positions (107 MB per frame at 216 x 384, 27 GB for a
    1080p grid); computing it ``max_elements`` entries at a time bounds memory at any resolution.

    Args:
        theta: ``(C, N)`` normalized target embedding; ``phi``: ``(C, M)`` normalized reference embedding.
        colors: ``(K, M)`` reference values per position (pooled Lab or ab).

    Returns:
        ``(K, N)`` warped values and ``(N,)`` best cosine similarity per target position.
    """
    rows = max(1, max_elements // phi.shape[1])
    warped, similarity = [], []
    for start in range(0, theta.shape[1], rows):
        cosine = theta[:, start : start + rows].transpose(0, 1) @ phi  # (n, M)
        similarity.append(cosine.amax(dim=1))
        weights = torch.softmax(cosine / temperature, dim=1)
        warped.append(colors @ weights.transpose(0, 1))
    return torch.cat(warped, dim=1), torch.cat(similarity)


class ColorVidNet(nn.Module):
    """The colorization U-Net (Zhang 2017 topology, InstanceNorm, nearest-upsample + conv, added skips).

    Input ``(B, 7, H, W)``: L - 50, warped ab, similarity, previous output Lab (L - 50, ab); H, W multiples
    of 8. Output ``(B, 2, H, W)`` ab = tanh(.) x 128. Modules are registered in the released order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1_1 = nn.Sequential(nn.Conv2d(7, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1, 1))
        self.conv1_2 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv1_2norm_ss = nn.Conv2d(64, 64, 1, 2, bias=False, groups=64)
        self.conv2_1 = nn.Conv2d(64, 128, 3, 1, 1)
        self.conv2_2 = nn.Conv2d(128, 128, 3, 1, 1)
        self.conv2_2norm_ss = nn.Conv2d(128, 128, 1, 2, bias=False, groups=128)
        self.conv3_1 = nn.Conv2d(128, 256, 3, 1, 1)
        self.conv3_2 = nn.Conv2d(256, 256, 3, 1, 1)
        self.conv3_3 = nn.Conv2d(256, 256, 3, 1, 1)
        self.conv3_3norm_ss = nn.Conv2d(256, 256, 1, 2, bias=False, groups=256)
        for stage, dilation in ((4, 1), (5, 2), (6, 2), (7, 1)):
            cin = 256 if stage == 4 else 512
            for index in (1, 2, 3):
                conv = nn.Conv2d(cin if index == 1 else 512, 512, 3, 1, dilation, dilation)
                self.add_module(f"conv{stage}_{index}", conv)
        self.conv8_1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(512, 256, 3, 1, 1))
        self.conv3_3_short = nn.Conv2d(256, 256, 3, 1, 1)
        self.conv8_2 = nn.Conv2d(256, 256, 3, 1, 1)
        self.conv8_3 = nn.Conv2d(256, 256, 3, 1, 1)
        self.conv9_1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(256, 128, 3, 1, 1))
        self.conv2_2_short = nn.Conv2d(128, 128, 3, 1, 1)
        self.conv9_2 = nn.Conv2d(128, 128, 3, 1, 1)
        self.conv10_1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(128, 128, 3, 1, 1))
        self.conv1_2_short = nn.Conv2d(64, 128, 3, 1, 1)
        self.conv10_2 = nn.Conv2d(128, 128, 3, 1, 1)
        self.conv10_ab = nn.Conv2d(128, 2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = F.instance_norm
        x = F.relu(self.conv1_1(x))
        x1 = norm(F.relu(self.conv1_2(x)))
        x = F.relu(self.conv2_2(F.relu(self.conv2_1(self.conv1_2norm_ss(x1)))))
        x2 = norm(x)
        x = F.relu(self.conv3_3(F.relu(self.conv3_2(F.relu(self.conv3_1(self.conv2_2norm_ss(x2)))))))
        x3 = norm(x)
        x = self.conv3_3norm_ss(x3)
        for stage in (4, 5, 6, 7):
            for index in (1, 2, 3):
                x = F.relu(getattr(self, f"conv{stage}_{index}")(x))
            x = norm(x)
        x = F.relu(self.conv8_1(x) + self.conv3_3_short(x3))
        x = norm(F.relu(self.conv8_3(F.relu(self.conv8_2(x)))))
        x = F.relu(self.conv9_1(x) + self.conv2_2_short(x2))
        x = norm(F.relu(self.conv9_2(x)))
        x = F.relu(self.conv10_1(x) + self.conv1_2_short(x1))
        x = F.leaky_relu(self.conv10_2(x), 0.2)
        return torch.tanh(self.conv10_ab(x)) * 128


def _network_size(size: int) -> int:
    """The padded size the networks take: a multiple of 8, at least 32 (relu5_2 needs 2 pixels to pad)."""
    return max(32, 8 * math.ceil(size / 8))


@dataclass(frozen=True)
class DEVCReference:
    """A reference prepared once per shot: its WarpNet embedding ``phi`` ``(256, M)`` and pooled ab ``(2, M)``."""

    phi: torch.Tensor
    colors: torch.Tensor


class DEVCColorizer:
    """The DEVC network as a :class:`~videocolor.models.base.Colorizer`.

    What limits batching: ColorVidNet takes the previous frame's output as input, so within a shot it runs
    one frame after another. Everything before it does not depend on earlier frames and runs on the whole
    batch at once: VGG features and WarpNet embeddings of the frames, and their attention to the
    reference (prepared once per shot). Different shots could run side by side, but the pipeline hands one
    shot at a time, which keeps the recurrent state a single tensor.

    Args:
        vgg, warpnet, colornet: the three networks, with weights loaded.
        device: where they run.
        temperature: attention softmax temperature (1e-10 as in the released test.py: a hard argmax).
        smoothing: apply the released edge-aware smoothing of ab.
    """

    name = "devc"
    recurrent = True  # each frame's input holds the previous frame's output

    def __init__(
        self, vgg: VGG19, warpnet: WarpNet, colornet: ColorVidNet, device: torch.device | str = "cpu", *,
        temperature: float = 1e-10, smoothing: bool = True,
    ) -> None:
        self.device = torch.device(device)
        self.vgg = vgg.to(self.device).eval()
        self.warpnet = warpnet.to(self.device).eval()
        self.colornet = colornet.to(self.device).eval()
        self.temperature = temperature
        self.smoothing = smoothing
        self._previous: torch.Tensor | None = None

    def work_shape(self, height: int, width: int) -> tuple[int, int]:
        """The film's aspect ratio at the pixel count of the network's 216 x 384 (16:9 gives exactly that)."""
        scale = math.sqrt(NETWORK_SHAPE[0] * NETWORK_SHAPE[1] / (height * width))
        return max(8, round(height * scale)), max(8, round(width * scale))

    @torch.inference_mode()
    def prepare_reference(self, rgb: torch.Tensor) -> DEVCReference:
        """``rgb`` ``(3, H, W)`` sRGB in [0, 1], any size -> its embedding at about 216 x 384 (resized, not padded)."""
        if rgb.dim() != 3 or rgb.shape[0] != 3:
            raise ValueError(f"reference must be (3, H, W) RGB, got shape {tuple(rgb.shape)}")
        h, w = (_network_size(s) for s in self.work_shape(rgb.shape[1], rgb.shape[2]))
        image = rgb.to(self.device, torch.float32).unsqueeze(0)
        image = F.interpolate(image, size=(h, w), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
        phi = project(self.warpnet.phi, self.warpnet.embed(self._taps(image)))[0]
        lab = rgb_to_lab(image)
        colors = F.avg_pool2d(lab[:, 1:3], 4).flatten(2)[0]
        return DEVCReference(phi=phi, colors=colors)

    def reset(self) -> None:
        """Start a new shot: the next frame's "previous output" input is zeros."""
        self._previous = None

    @torch.inference_mode()
    def colorize(self, lightness: torch.Tensor, reference: DEVCReference) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict ab for consecutive frames of one shot, continuing the recurrence from the last call.

        Args:
            lightness: ``(B, 1, h, w)`` L in [0, 100], any h, w (``work_shape`` recommended).
            reference: from :meth:`prepare_reference`.

        Returns:
            ab ``(B, 2, h, w)`` after the released x1.25 and smoothing, and confidence ``(B, 1, h, w)`` in
            [0, 1] (WarpNet's best cosine similarity).
        """
        if lightness.dim() != 4 or lightness.shape[1] != 1:
            raise ValueError(f"lightness must be (B, 1, h, w), got shape {tuple(lightness.shape)}")
        h, w = lightness.shape[2:]
        hp, wp = _network_size(h), _network_size(w)
        light = lightness.to(self.device, torch.float32)
        padded = F.pad(light, (0, wp - w, 0, hp - h), mode="replicate")
        theta = project(self.warpnet.theta, self.warpnet.embed(self._taps(padded.expand(-1, 3, -1, -1) / 100)))
        warped, similarity = zip(
            *(attend(t, reference.phi, reference.colors, self.temperature) for t in theta)
        )
        warped = F.interpolate(torch.stack(warped).view(-1, 2, hp // 4, wp // 4), scale_factor=4.0)
        similarity = F.interpolate(torch.stack(similarity).view(-1, 1, hp // 4, wp // 4), scale_factor=4.0)
        centered = padded - 50
        previous = self._previous
        if previous is None or previous.shape[2:] != (hp, wp):
            previous = torch.zeros(1, 3, hp, wp, device=self.device)
        outputs = []
        for i in range(light.shape[0]):  # sequential: each frame's input holds the previous frame's output
            ab = self.colornet(torch.cat((centered[i : i + 1], warped[i : i + 1], similarity[i : i + 1], previous), 1))
            previous = torch.cat((centered[i : i + 1], ab), 1)
            outputs.append(ab)
        self._previous = previous
        ab = torch.cat(outputs)[:, :, :h, :w] * 1.25
        if self.smoothing:
            # The release smooths at 432 x 768 with lambda 500; the same spatial extent at h x w scales
            # lambda by the pixel ratio (the smoothing radius grows as sqrt(lambda)).
            lam = 500.0 * h * w / (4 * NETWORK_SHAPE[0] * NETWORK_SHAPE[1])
            ab = fast_global_smoother(ab, light * 2.55, lam, sigma=4.0)
        return ab, similarity[:, :, :h, :w].clamp(0, 1)

    def _taps(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """L2-normalized relu2_2 ... relu5_2 of ``rgb`` ``(B, 3, H, W)`` in [0, 1]."""
        return [t / (torch.linalg.vector_norm(t, dim=1, keepdim=True) + _EPS) for t in self.vgg(rgb, _TAPS)]


def build(settings: DEVCSettings, device: torch.device, files: Mapping[str, Path]) -> DEVCColorizer:
    """The registry's builder: the three networks loaded strictly from the installed ``files``."""
    networks = load_networks(DEVCWeights.RELEASE_V1.value, files)
    return DEVCColorizer(
        networks[VGG_FILE], networks[WARPNET_FILE], networks[COLORNET_FILE], device,
        temperature=settings.temperature, smoothing=settings.smoothing,
    )
