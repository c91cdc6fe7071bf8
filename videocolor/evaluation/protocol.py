"""Real-footage evaluation: the protocols of an evaluation folder, its cases, baselines and scores.

The folder holds ``pairs/NAME_target.*`` and ``pairs/NAME_ref.*`` (a picture to colorize and its color
reference) and ``video/*.mp4`` (real color films). Every case is a true color clip (a pair's target is a
clip of one frame) and a color reference; the clip is made gray, colorized, and compared with its true
colors. The gray input stores CIE L of the truth linearly as the pixel value (``round(2.55 L)``, R = G =
B), as the folder's README prescribes; a tool then keeps the lightness it reads from that picture.

Video protocols, per shot of each film (shots found on the true colors; shots under ``MIN_SHOT`` frames
are left out): the scored frames are the shot's first half (at most ``WINDOW`` frames), and the
reference is

- ``in-shot``: the shot's last frame in color, about 1-3 s after the scored frames;
- ``other-shot``: the middle frame of the other shot of the same film that the project's own reference
  retrieval ranks first for the scored frames (needs at least two shots); with ``refs`` above 1, the
  middle frames of the next-ranked other shots too (``Case.more_references``), fused per pixel
  (``ops/fusion.py``) by the methods that take them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from ..analysis import retrieval
from ..analysis.shots import detect_shots
from ..io.images import IMAGE_EXTENSIONS, read_rgb
from ..models.base import Colorizer, FusedReference
from ..ops.color import lab_to_rgb, lab_to_rgb_array, rgb_to_lightness
from ..ops.flow import DIS_MIN_SIDE
from ..ops.upsample import guided_upsample
from ..render.colorize import predict_chroma, work_lightness
from ..render.temporal import make_smoother
from . import metrics
from .baselines import luminance_transfer

PROTOCOLS = ("pairs", "in-shot", "other-shot")
COLUMNS = ("PSNR", "SSIM", "colorfulness / truth", "warp err x1e3", "CDC x1e3")
MIN_SHOT = 20  # frames: shorter shots give too few scored frames to judge
WINDOW = 48  # most frames scored per shot
_BATCH = 8


@dataclass
class Case:
    """One thing to colorize and judge.

    Attributes:
        protocol: one of ``PROTOCOLS``.
        name: the pair's name, or ``film:shot``.
        truth: ``(T, H, W, 3)`` uint8 true colors (T = 1 for a pair).
        reference: ``(h, w, 3)`` uint8 color reference.
        fps: frame rate of the film (1 for a pair).
        more_references: the next-ranked references after ``reference``, ``(h, w, 3)`` uint8 each (other-shot, ``refs`` > 1).
    """

    protocol: str
    name: str
    truth: np.ndarray
    reference: np.ndarray
    fps: Fraction
    more_references: tuple[np.ndarray, ...] = ()

    @property
    def gray(self) -> np.ndarray:
        """``(T, H, W, 3)`` uint8: the gray input, CIE L of the truth as the pixel value (``round(2.55 L)``)."""
        return gray_input(self.truth)

    def reference_rgb(self) -> torch.Tensor:
        """The reference as RGB ``(3, h, w)`` float in [0, 1]."""
        return to_tensor(self.reference[None])[0]


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` -> float RGB ``(T, 3, H, W)`` in [0, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255)


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """float RGB ``(T, 3, H, W)`` in [0, 1] -> uint8 ``(T, H, W, 3)``."""
    return rgb.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).numpy()


def gray_input(truth: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 true colors -> gray frames whose pixel value is ``round(2.55 L)``, R = G = B."""
    lightness = rgb_to_lightness(to_tensor(truth))
    return np.ascontiguousarray(to_uint8(lightness.div(100).expand(-1, 3, -1, -1)))


def read_frames(path: Path) -> tuple[np.ndarray, Fraction | None]:
    """Every frame of a video as uint8 ``(T, H, W, 3)``, and its frame rate (``None`` where the container states
    none and FFmpeg guesses none: PyAV 18.0 gives no average rate for FFV1 in Matroska)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
        rate = stream.average_rate or stream.guessed_rate
        return frames, Fraction(rate) if rate else None


def write_film(path: Path, frames: np.ndarray, fps: Fraction) -> Path:
    """Encode uint8 RGB frames losslessly enough to be the tool's input (x264 qp 0, yuv444p)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt, stream.options = "yuv444p", {"qp": "0", "preset": "veryfast"}
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, 1 / fps
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def pair_cases(folder: Path) -> list[Case]:
    """The ``pairs/`` cases of an evaluation folder, by name."""
    found = {p.name.rsplit("_", 1)[0]: p for p in sorted(folder.glob("*_target.*")) if p.suffix.lower() in IMAGE_EXTENSIONS}
    cases = []
    for name, target in found.items():
        refs = [p for p in sorted(folder.glob(f"{name}_ref.*")) if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not refs:
            raise FileNotFoundError(f"{target}: no {name}_ref.* beside it")
        truth, reference = (to_uint8(read_rgb(p)[None]) for p in (target, refs[0]))
        cases.append(Case("pairs", name, truth, reference[0], Fraction(1)))
    return cases


def video_cases(path: Path, window: int = WINDOW, refs: int = 1) -> list[Case]:
    """The ``in-shot`` and ``other-shot`` cases of one film (see the module docstring), at most ``window`` frames scored.

    ``refs``: other-shot references per case, the retrieval's best first.
    """
    frames, fps = read_frames(path)
    gray = [(i, i, cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) for i, f in enumerate(frames)]
    shots = [s for s in detect_shots(gray, fps, 1 / fps).shots if s.num_frames >= MIN_SHOT]
    windows = [range(s.start_frame, s.start_frame + min(s.num_frames // 2, window)) for s in shots]
    cases = [
        Case("in-shot", f"{path.stem}:{s.index}", frames[w.start : w.stop], frames[s.end_frame], fps)
        for s, w in zip(shots, windows)
    ]
    if len(shots) < 2:
        return cases
    middles = [frames[(s.start_frame + s.end_frame) // 2] for s in shots]
    candidates = retrieval.extract(to_tensor(gray_input(np.stack(middles))))
    for i, (shot, window) in enumerate(zip(shots, windows)):
        others = [j for j in range(len(shots)) if j != i]
        query = retrieval.extract(to_tensor(gray_input(frames[[window.start, window[len(window) // 2], window[-1]]])))
        pool = retrieval.Features(*(getattr(candidates, f)[others] for f in ("globals", "cells", "hists")))
        best, *more = (int(p.name) for p, _ in retrieval.rank(query, pool, [Path(str(j)) for j in others], top=refs))
        name = f"{path.stem}:{shot.index}<-{shots[best].index}"
        cases.append(Case("other-shot", name, frames[window.start : window.stop], middles[best], fps, tuple(middles[j] for j in more)))
    return cases


def load_cases(folder: Path, window: int = WINDOW, refs: int = 1) -> list[Case]:
    """Every case of an evaluation folder: its ``pairs/``, then the video protocols of ``video/*.mp4`` (``refs``: see ``video_cases``)."""
    cases = pair_cases(folder / "pairs") if (folder / "pairs").is_dir() else []
    for film in sorted((folder / "video").glob("*.mp4")) if (folder / "video").is_dir() else []:
        cases += video_cases(film, window, refs)
    if not cases:
        raise FileNotFoundError(f"{folder}: no pairs/*_target.* and no video/*.mp4")
    return cases


def score(colored: np.ndarray, case: Case) -> tuple[float, ...]:
    """``COLUMNS`` for a colorization ``(T, H, W, 3)`` uint8 of ``case``; temporal ones NaN for one frame, or for
    frames too small for the optical flow."""
    truth = case.truth
    moving = len(truth) > 1 and max(truth.shape[1:3]) >= DIS_MIN_SIDE
    temporal = (1e3 * metrics.warp_error(colored, flow_frames=truth), 1e3 * metrics.cdc(colored)) if moving else (np.nan, np.nan)
    return (metrics.psnr(colored, truth), metrics.ssim(colored, truth), metrics.colorfulness(colored) / metrics.colorfulness(truth), *temporal)


def truth_row(case: Case) -> tuple[float, ...]:
    """The truth's own scores: its warp error and CDC are what a colorization's are judged against."""
    return score(case.truth, case)


def gray_row(case: Case) -> np.ndarray:
    """The gray input itself."""
    return case.gray


def transfer_row(case: Case) -> np.ndarray:
    """Luminance-binned color transfer from the reference onto the lightness of the gray input."""
    lightness = rgb_to_lightness(to_tensor(case.gray))
    ab = luminance_transfer(lightness, case.reference_rgb())
    return to_uint8(lab_to_rgb(torch.cat((lightness, ab), 1)))


# (ab, work-resolution L, full-resolution L) -> full-resolution ab, as ``upsample.guided_upsample``.
Upsample = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def colorize_case(
    colorizer: Colorizer, case: Case, temporal: str = "dis", upsample: Upsample = guided_upsample, carry: int = 0
) -> np.ndarray:
    """Colorize a case in this process with the library's stages (no codec): ``(T, H, W, 3)`` uint8.

    ``temporal``, ``carry`` and ``upsample`` replace the pipeline's temporal stage and chroma upsampling (ablations); a case's
    ``more_references`` are fused with its reference (``ops/fusion.py``).
    """
    prepared = [colorizer.prepare_reference(to_tensor(r[None])[0].to(colorizer.device)) for r in (case.reference, *case.more_references)]
    reference = FusedReference(tuple(prepared)) if len(prepared) > 1 else prepared[0]
    smoother = make_smoother(temporal, colorizer.device, carry) if len(case.truth) > 1 else None
    colorizer.reset()
    return np.stack(list(_frames(colorizer, case.gray, reference, smoother, upsample)))


def _frames(colorizer: Colorizer, gray: np.ndarray, reference: object, smoother: object, upsample: Upsample) -> Iterator[np.ndarray]:
    for start in range(0, len(gray), _BATCH):
        lightness = rgb_to_lightness(to_tensor(gray[start : start + _BATCH]).to(colorizer.device))
        small = work_lightness(colorizer, lightness)
        ab, _ = predict_chroma(colorizer, small, reference, smoother)
        for i in range(len(lightness)):
            full = lightness[i : i + 1]
            ab_full = upsample(ab[i : i + 1], small[i : i + 1], full)
            yield lab_to_rgb_array(torch.cat((full, ab_full), dim=1)[0])


Method = Callable[[Case], np.ndarray]


def evaluate(cases: list[Case], methods: dict[str, Method], progress: Callable[[str], None] = lambda _: None) -> dict[str, dict[str, list[tuple[float, ...]]]]:
    """Scores per protocol, per method (the ``truth`` row first for videos), one row per case in order."""
    results: dict[str, dict[str, list[tuple[float, ...]]]] = {}
    for case in cases:
        table = results.setdefault(case.protocol, {})
        if len(case.truth) > 1:
            table.setdefault("truth", []).append(truth_row(case))
        for name, method in methods.items():
            table.setdefault(name, []).append(score(method(case), case))
        progress(f"{case.protocol} {case.name}")
    return results
