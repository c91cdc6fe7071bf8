"""Quality metrics of colorized clips: temporal consistency, fidelity to ground truth, colorfulness.

Every function takes RGB frames in one of these layouts and returns a Python float:

- numpy ``(T, H, W, 3)`` or ``(H, W, 3)``, uint8 in [0, 255] or float in [0, 1];
- a sequence of such numpy frames (what ``evaluation.synthetic`` returns);
- torch ``(T, 3, H, W)`` or ``(3, H, W)``, float in [0, 1].

>>> clip = np.zeros((3, 8, 8, 3), np.uint8)
>>> psnr(clip, clip), cdc(clip), colorfulness(clip)
(inf, 0.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from ..ops.flow import DIS_MIN_SIDE, flow_validity

Frames = np.ndarray | torch.Tensor | Sequence[np.ndarray]

_CDC_DISTANCES = (1, 2, 4)


def _as_clip(frames: Frames, name: str = "frames") -> np.ndarray:
    """Frames in any accepted layout -> float32 numpy ``(T, H, W, 3)`` in [0, 1]."""
    if isinstance(frames, torch.Tensor):
        clip = frames.detach().cpu().float()
        clip = clip.unsqueeze(0) if clip.dim() == 3 else clip
        if clip.dim() != 4 or clip.shape[1] != 3:
            raise ValueError(f"{name} tensor must have shape (T, 3, H, W) or (3, H, W), got {tuple(frames.shape)}")
        return np.ascontiguousarray(clip.permute(0, 2, 3, 1).numpy())
    clip = np.stack(frames) if isinstance(frames, (list, tuple)) else np.asarray(frames)
    clip = clip[None] if clip.ndim == 3 else clip
    if clip.ndim != 4 or clip.shape[-1] != 3:
        raise ValueError(f"{name} array must have shape (T, H, W, 3) or (H, W, 3), got {clip.shape}")
    if clip.dtype == np.uint8:
        return clip.astype(np.float32) / 255
    return clip.astype(np.float32)


def _pair(a: Frames, b: Frames) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_clip(a, "a"), _as_clip(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"clips differ in shape: {x.shape} vs {y.shape}")
    return x, y


def _luma_u8(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def _sample(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + flow(x)``, bilinear, borders replicated."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent_flow_mask(flow: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """Forward-backward check of Lai et al. (2018): True where the flow is trusted.

    Args:
        flow: ``(H, W, 2)`` flow from frame t to t+1 (frame_t(x) ~ frame_t1(x + flow(x))), in pixels.
        flow_back: ``(H, W, 2)`` flow from t+1 to t.

    Returns:
        bool ``(H, W)``: not occluded, i.e. ``|w + w'|^2 <= 0.01 (|w|^2 + |w'|^2) + 0.5`` with ``w'`` the
        backward flow at ``x + w``, and ``x + w`` inside the frame.
    """
    as_tensor = lambda f: torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None]  # noqa: E731
    return flow_validity(as_tensor(flow), as_tensor(flow_back))[0, 0].numpy()


def warp_error(frames: Frames, flow_frames: Frames | None = None) -> float:
    """Warp error of Lai et al. (2018), "Learning Blind Video Temporal Consistency".

    Frame t+1 is warped onto frame t with the flow t -> t+1 that OpenCV DIS (medium preset) computes on
    ``flow_frames`` (default ``frames``; pass the true color clip to judge a colorization), and the squared
    RGB difference is averaged over channels and the pixels the forward-backward check keeps, then over the
    frame pairs. RGB in [0, 1], so the result is in [0, 1]; lower is steadier.
    """
    clip = _as_clip(frames)
    guide = clip if flow_frames is None else _as_clip(flow_frames, "flow_frames")
    if guide.shape[:3] != clip.shape[:3]:
        raise ValueError(f"flow_frames {guide.shape} do not match frames {clip.shape}")
    if len(clip) < 2:
        raise ValueError("warp error needs at least 2 frames")
    if max(clip.shape[1:3]) < DIS_MIN_SIDE:
        raise ValueError(f"warp error needs frames of {DIS_MIN_SIDE} px or more on one side (the flow's), got {clip.shape[2]}x{clip.shape[1]}")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [_luma_u8(f) for f in guide]
    errors = []
    for t in range(len(clip) - 1):
        flow = dis.calc(gray[t], gray[t + 1], None)
        flow_back = dis.calc(gray[t + 1], gray[t], None)
        mask = consistent_flow_mask(flow, flow_back)
        warped = _sample(clip[t + 1], flow)
        squared = ((clip[t] - warped) ** 2).mean(-1)
        errors.append(float(squared[mask].mean()) if mask.any() else 0.0)
    return float(np.mean(errors))


def _js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) of two histograms, normalized here."""
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        keep = x > 0
        return float((x[keep] * np.log(x[keep] / m[keep])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def cdc(frames: Frames) -> float:
    """Color distribution consistency of TCVC (Liu et al.): lower is steadier.

    Jensen-Shannon divergence between 256-bin histograms of each RGB channel of frames t and t+d, for
    d in 1, 2, 4; the mean over frame pairs and channels per distance, then over distances (a distance
    longer than the clip is skipped). Result in [0, ln 2].
    """
    clip = np.clip(_as_clip(frames) * 255 + 0.5, 0, 255).astype(np.uint8)
    hists = np.stack([[np.bincount(f[..., c].ravel(), minlength=256) for c in range(3)] for f in clip]).astype(np.float64)
    per_distance = []
    for d in _CDC_DISTANCES:
        if d >= len(clip):
            continue
        per_distance.append(np.mean([_js_divergence(hists[t, c], hists[t + d, c]) for t in range(len(clip) - d) for c in range(3)]))
    if not per_distance:
        raise ValueError("CDC needs at least 2 frames")
    return float(np.mean(per_distance))


def psnr(a: Frames, b: Frames) -> float:
    """Peak signal-to-noise ratio in dB (peak 1.0), per frame, averaged over frames; ``inf`` if identical."""
    x, y = _pair(a, b)
    mse = ((x.astype(np.float64) - y) ** 2).reshape(len(x), -1).mean(1)
    with np.errstate(divide="ignore"):
        return float(np.mean(10 * np.log10(1.0 / mse)))


def ssim(a: Frames, b: Frames) -> float:
    """Structural similarity (Wang et al. 2004), per channel, per frame, averaged.

    Gaussian window sigma 1.5 (11 x 11), K1 0.01, K2 0.03, data range 1, border of 5 pixels left out: the
    same numbers as ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)``. Written with OpenCV because
    scikit-image is only a development extra.
    """
    x, y = _pair(a, b)
    c1, c2, pad = 0.01**2, 0.03**2, 5

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    scores = []
    for fx, fy in zip(x.astype(np.float64), y.astype(np.float64)):
        mx, my = blur(fx), blur(fy)
        vx, vy, cov = blur(fx * fx) - mx * mx, blur(fy * fy) - my * my, blur(fx * fy) - mx * my
        s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        scores.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(scores))


def colorfulness(frames: Frames) -> float:
    """Colorfulness M of Hasler & Suesstrunk (2003) on RGB in [0, 255], averaged over frames.

    ``rg = R - G``, ``yb = (R + G) / 2 - B``, ``M = sqrt(var rg + var yb) + 0.3 sqrt(mean rg^2 + mean yb^2)``;
    0 for gray, about 100 or more for very colorful pictures.
    """
    clip = _as_clip(frames).astype(np.float64) * 255
    rg = clip[..., 0] - clip[..., 1]
    yb = 0.5 * (clip[..., 0] + clip[..., 1]) - clip[..., 2]
    axes = (1, 2)
    sigma = np.sqrt(rg.var(axes) + yb.var(axes))
    mu = np.sqrt(rg.mean(axes) ** 2 + yb.mean(axes) ** 2)
    return float(np.mean(sigma + 0.3 * mu))
