"""Optical flow on Lab lightness and what is built on it: warping, forward-backward validity, carry weights.

Flow runs on the lightness only: OpenCV DIS on the CPU (no weights) or torchvision's RAFT on a given
device. :class:`FlowEstimator` turns a pair of frames into a backward flow and a map of where it is trusted
(forward-backward consistent, Lai et al. 2018, and the warped lightness close to the current one); the
temporal stage, the reference's flow refinement and keyframe propagation all carry colour along it.
"""

from __future__ import annotations

import cv2
import torch
import torch.nn.functional as F

from ..errors import WeightsError
from .color import lightness_to_u8

METHODS = ("dis", "raft")
Motion = tuple[torch.Tensor | None, torch.Tensor | None]  # (trust, backward flow) of consecutive frame pairs
_DIS_PRESETS = ("ultrafast", "fast", "medium")
_RAFT_VARIANTS = ("small", "large")
_RAFT_MIN_SIZE = 128
DIS_MIN_SIDE = 12  # OpenCV DIS refuses a picture whose sides are both shorter (cv2.error)
_EPS = 1e-6
CARRY_WEIGHT = 0.85  # the most a color carried along the flow weighs against a new prediction


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` at ``x + flow(x)``, bilinear, borders replicated.

    Args:
        image: ``(N, C, H, W)`` float.
        flow: ``(N, 2, H, W)`` displacement in pixels, channel 0 along x (width), channel 1 along y.

    Returns:
        ``(N, C, H, W)``: with backward flow (current -> previous), the previous frame seen from the current.
    """
    n, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=flow.device, dtype=flow.dtype), torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij"
    )
    gx = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return F.grid_sample(image, torch.stack((gx, gy), -1), mode="bilinear", padding_mode="border", align_corners=True)


def carry_weight(trust: torch.Tensor, carried_conf: torch.Tensor, conf: torch.Tensor, max_weight: float = CARRY_WEIGHT) -> torch.Tensor:
    """Weight in [0, ``max_weight``] of a color carried along the flow against a new prediction.

    Zero where the flow is not trusted; else ``max_weight`` scaled by the carried color's confidence relative
    to the new one's (full once the carried one is at least as confident). All ``(N, 1, H, W)``: ``trust`` in
    [0, 1], confidences in [0, 1].
    """
    return trust * max_weight * (2 * carried_conf / (carried_conf + conf + _EPS)).clamp(max=1)


def flow_validity(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """Forward-backward consistency (Lai et al. 2018) of the backward flow, on the current frame.

    Args:
        backward: ``(N, 2, H, W)`` flow current -> previous.
        forward: ``(N, 2, H, W)`` flow previous -> current.

    Returns:
        bool ``(N, 1, H, W)``: ``|w + w'|^2 <= 0.01 (|w|^2 + |w'|^2) + 0.5`` with ``w'`` the forward flow at
        ``x + w``, and ``x + w`` inside the frame.
    """
    _, _, h, w = backward.shape
    back = warp(forward, backward)
    lhs = (backward + back).pow(2).sum(1, keepdim=True)
    rhs = 0.01 * (backward.pow(2).sum(1, keepdim=True) + back.pow(2).sum(1, keepdim=True)) + 0.5
    xs = torch.arange(w, device=backward.device, dtype=backward.dtype).view(1, 1, 1, w) + backward[:, :1]
    ys = torch.arange(h, device=backward.device, dtype=backward.dtype).view(1, 1, h, 1) + backward[:, 1:]
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    return (lhs <= rhs) & inside


class _DisFlow:
    """OpenCV DIS on uint8 lightness, CPU. One instance per smoother: DIS objects are not shared across threads."""

    def __init__(self, preset: str) -> None:
        presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST, "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
        self._dis = cv2.DISOpticalFlow_create(presets[preset])

    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Flow ``first -> second`` for ``(N, 1, H, W)`` lightness in [0, 100]; returns ``(N, 2, H, W)`` on their device."""
        a, b = lightness_to_u8(first[:, 0]).cpu().numpy(), lightness_to_u8(second[:, 0]).cpu().numpy()
        flows = [torch.from_numpy(self._dis.calc(a[i], b[i], None)) for i in range(len(a))]
        return torch.stack(flows).permute(0, 3, 1, 2).to(device=first.device, dtype=first.dtype)


class _RaftFlow:
    """torchvision RAFT on lightness replicated to RGB, on the model's device; pads sizes to multiples of 8."""

    def __init__(self, model: torch.nn.Module, device: torch.device, updates: int) -> None:
        self._model = model.eval().to(device)
        self._device = device
        self._updates = updates

    @torch.inference_mode()
    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Flow ``first -> second`` for ``(N, 1, H, W)`` lightness in [0, 100]; returns ``(N, 2, H, W)`` on their device."""
        h, w = first.shape[-2:]
        # RAFT's features are 1/8 of the input and its correlation pyramid halves them 3 times more.
        pad = (0, max(-w % 8, _RAFT_MIN_SIZE - w), 0, max(-h % 8, _RAFT_MIN_SIZE - h))

        def prepare(x: torch.Tensor) -> torch.Tensor:
            x = x.to(self._device, torch.float32).div(50).sub(1).expand(-1, 3, -1, -1)
            return F.pad(x, pad, mode="replicate")

        flow = self._model(prepare(first), prepare(second), num_flow_updates=self._updates)[-1]
        return flow[..., :h, :w].to(device=first.device, dtype=first.dtype)


def load_raft(variant: str = "small") -> torch.nn.Module:
    """torchvision's RAFT (``small`` or ``large``) with its default pretrained weights, from the torch hub cache.

    Raises:
        WeightsError: the weights are not cached and cannot be downloaded (offline), or are corrupt.
    """
    # torchvision's model zoo takes seconds to import, and only the raft setting needs it
    from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights, raft_large, raft_small

    if variant not in _RAFT_VARIANTS:
        raise ValueError(f"unknown RAFT variant {variant!r}: choose small or large")
    builder, weights = (raft_small, Raft_Small_Weights.DEFAULT) if variant == "small" else (raft_large, Raft_Large_Weights.DEFAULT)
    try:
        return builder(weights=weights, progress=False)
    except (OSError, RuntimeError) as exc:
        cache = f"{torch.hub.get_dir()}/checkpoints"
        raise WeightsError(
            f"RAFT weights {weights.url.rsplit('/', 1)[-1]} are not in {cache} and cannot be fetched ({exc}): "
            f"download {weights.url} into {cache} on a machine with internet, or use --temporal dis"
        ) from exc




class FlowEstimator:
    """Backward optical flow between Lab lightness frames, and where it is trusted.

    Args:
        method: ``dis`` (OpenCV DIS on the CPU) or ``raft`` (torchvision RAFT on ``device``).
        device: where the trust maps are computed (and RAFT runs); inputs may live on any device.
        lightness_tolerance: flow is not trusted where the warped previous lightness differs from the
            current one by more than this (Lab L units).
        dis_preset: ``ultrafast``, ``fast`` or ``medium`` (DIS only); ``ultrafast`` is half the cost of ``fast``
            for the same excess warp error on pans in the temporal stage (0.15-0.19 of no smoothing, both measured).
        raft_variant: ``small`` or ``large`` (RAFT only).
        raft_updates: RAFT's recurrent refinement steps (RAFT only).
        flow_model: a RAFT model to use instead of loading torchvision's pretrained weights (RAFT only).
    """

    def __init__(
        self,
        method: str = "dis",
        device: torch.device | str = "cpu",
        *,
        lightness_tolerance: float = 8.0,
        dis_preset: str = "ultrafast",
        raft_variant: str = "small",
        raft_updates: int = 12,
        flow_model: torch.nn.Module | None = None,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown temporal method {method!r}: choose one of {', '.join(METHODS)}")
        if dis_preset not in _DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {dis_preset!r}: choose one of {', '.join(_DIS_PRESETS)}")
        self.method = method
        self.device = torch.device(device)
        self.lightness_tolerance = lightness_tolerance
        if method == "dis":
            self._flow = _DisFlow(dis_preset)
        else:
            self._flow = _RaftFlow(flow_model if flow_model is not None else load_raft(raft_variant), self.device, raft_updates)

    def estimate(self, lightness: torch.Tensor, previous: torch.Tensor | None = None) -> Motion:
        """The motion ``smooth`` needs, from lightness alone, so it can be computed ahead in another thread.

        Args:
            lightness: ``(B, 1, h, w)`` Lab L in [0, 100] of consecutive frames of one shot.
            previous: ``(1, 1, h, w)`` the shot's frame before them, ``None`` at the start of a shot.

        Returns:
            trust ``(N, 1, h, w)`` in [0, 1] and backward flow ``(N, 2, h, w)`` of each (previous, current) pair,
            ``N = B`` with ``previous`` else ``B - 1``; ``(None, None)`` when there is no pair.
        """
        lightness = lightness.to(self.device, torch.promote_types(lightness.dtype, torch.float32))
        sequence = lightness if previous is None else torch.cat((previous.to(lightness), lightness))
        return self.validity(sequence[:-1], sequence[1:]) if len(sequence) > 1 else (None, None)


    def validity(self, prev: torch.Tensor, cur: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trust map ``(N, 1, h, w)`` in {0, 1} and backward flow ``(N, 2, h, w)`` (cur -> prev) for each (prev, cur) pair.

        ``prev`` and ``cur``: ``(N, 1, h, w)`` Lab L in [0, 100]. Trusted: forward-backward consistent and the
        warped ``prev`` within ``lightness_tolerance`` of ``cur`` (also used to match a frame to its reference).

        A pair of identical frames (a static shot, a held frame) has zero flow and full trust, which is what
        the flow and its checks would find: the optical flow only runs on the pairs that differ. Frames too
        small for the flow (DIS under ``DIS_MIN_SIDE`` px on both sides) that differ are not trusted anywhere:
        nothing is carried between them (no temporal smoothing, refinement or propagation), each keeps its own colors.
        """
        return self._checked(prev, cur, both_ways=False)[0]

    def validity_both_ways(self, prev: torch.Tensor, cur: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[validity(prev, cur), validity(cur, prev)]`` from the same two flows of each pair (half the flow of two calls)."""
        return self._checked(prev, cur, both_ways=True)

    def _checked(self, prev: torch.Tensor, cur: torch.Tensor, both_ways: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``validity`` of (prev, cur), and with ``both_ways`` of (cur, prev) too."""
        out = [(torch.ones_like(x), torch.zeros(x.shape[0], 2, *x.shape[-2:], device=x.device, dtype=x.dtype)) for x in (cur, prev)]
        out = out if both_ways else out[:1]
        moved = [i for i in range(cur.shape[0]) if not torch.equal(prev[i], cur[i])]
        if moved and self.method == "dis" and max(cur.shape[-2:]) < DIS_MIN_SIDE:
            for trust, _ in out:
                trust[moved] = 0
        elif moved:
            prev, cur = prev[moved], cur[moved]
            both = self._flow(torch.cat((cur, prev)), torch.cat((prev, cur)))
            flow, forward = both[: len(cur)], both[len(cur) :]
            for (trust, backward), (there, back, source, target) in zip(out, ((flow, forward, prev, cur), (forward, flow, cur, prev))):
                similar = (warp(source, there) - target).abs() <= self.lightness_tolerance
                trust[moved] = (flow_validity(there, back) & similar).to(trust.dtype)
                backward[moved] = there
        return out
