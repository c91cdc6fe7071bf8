"""Reference recommendation: the two stages of He et al. 2018's tool, on the embedded EfficientNet-Lite0.

Everything is compared in grayscale. Global stage: cosine of pooled head features keeps the best
``min(200, N/2)`` references (at least 5). Local stage, per candidate: a 7x7 grid of head features;
each query cell takes its best-matching candidate cell anywhere; ``d_feat = 1 - mean best cosine``; the
10-bin lightness histograms of matched cells are compared by correlation,
``d_hist = 0.5 (mean(1 - corr) + 1)``; ``score = d_feat + 0.25 d_hist``, lower is better.
A :class:`ReferenceIndex` computes a folder's features once and caches them on disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import InputError, OutputError
from ..home import cache_dir
from ..io.atomic import write_atomic
from ..io.images import load_reference, reference_files
from ..models.backbone_lite0 import EfficientNetLite0, shared_efficientnet_lite0
from ..ops.color import lightness_to_gray_rgb, rgb_to_lightness

log = logging.getLogger("videocolor")

INDEX_VERSION = "lite0-head-7x7-v1"
INPUT_SIZE = 224  # backbone input: 7x7 head grid
GRID = 7
BINS = 10
HIST_WEIGHT = 0.25
TOP = 5
STICKY_MARGIN = 0.03  # keep the previous shot's reference when it scores within this of the best...
ALIKE = 0.9  # ...and the two shots' global features have at least this cosine
INDEX_BATCH = 16  # pictures per backbone pass while indexing
SAVE_SECONDS = 30.0  # an index being built is saved at least this often, and when interrupted


@dataclass
class Features:
    """Retrieval features of a batch of gray pictures.

    Attributes:
        globals: ``(B, 1280)`` L2-normalized pooled head features.
        cells: ``(B, 49, 1280)`` L2-normalized head features of the 7x7 grid cells.
        hists: ``(B, 49, 10)`` lightness histograms (fractions) of the grid cells.
    """

    globals: torch.Tensor
    cells: torch.Tensor
    hists: torch.Tensor


_FIELDS = ("globals", "cells", "hists")


def backbone(device: torch.device) -> EfficientNetLite0:
    """The strict-loaded backbone on ``device``, built once per device and shared with the exemplar model."""
    return shared_efficientnet_lite0(device)


def gray_of_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """The neutral picture of the same lightness: RGB ``(*, 3, H, W)`` in [0, 1] -> gray RGB, same shape."""
    return lightness_to_gray_rgb(rgb_to_lightness(rgb))


@torch.no_grad()
def extract(gray_rgb: torch.Tensor, device: torch.device | None = None) -> Features:
    """Features of gray pictures ``(B, 3, H, W)`` in [0, 1] (R = G = B), resized to 224x224."""
    device = device or torch.device("cpu")
    x = F.interpolate(gray_rgb.to(device).float(), size=(INPUT_SIZE, INPUT_SIZE), mode="area")
    model = backbone(device)
    head = model.head_features(x)
    cells = F.adaptive_avg_pool2d(head, GRID).flatten(2).transpose(1, 2)
    lightness = rgb_to_lightness(x) / 100.0
    patches = F.unfold(lightness, INPUT_SIZE // GRID, stride=INPUT_SIZE // GRID)  # (B, 32*32, 49)
    bins = (patches.clamp(0, 1) * BINS).long().clamp_max(BINS - 1)
    hists = F.one_hot(bins, BINS).float().mean(1)  # (B, 49, 10)
    return Features(
        F.normalize(head.mean((2, 3)), dim=1).cpu(), F.normalize(cells, dim=2).cpu(), hists.cpu()
    )


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of histograms along the last axis (OpenCV's HISTCMP_CORREL); flat ones give 0."""
    a = a - a.mean(-1, keepdim=True)
    b = b - b.mean(-1, keepdim=True)
    return (a * b).sum(-1) / ((a.square().sum(-1) * b.square().sum(-1)).sqrt() + 1e-12)


def local_distance(query: Features, cand: Features) -> torch.Tensor:
    """Second-stage distance of each candidate to the query, averaged over the query's pictures: ``(K,)``."""
    sim = torch.einsum("qic,kjc->qkij", query.cells.float(), cand.cells.float())  # (Q, K, 49, 49)
    best, match = sim.max(-1)
    d_feat = 1.0 - best.mean(-1)
    matched = cand.hists[torch.arange(cand.hists.shape[0])[:, None], match]  # (Q, K, 49, 10)
    d_hist = 0.5 * ((1.0 - _correlation(query.hists[:, None], matched)).mean(-1) + 1.0)
    return (d_feat + HIST_WEIGHT * d_hist).mean(0)


def rank(query: Features, refs: Features, paths: list[Path], top: int = TOP) -> list[tuple[Path, float]]:
    """The ``top`` references for a shot's keyframes ``query``, best first, as ``(path, score)``."""
    n = len(paths)
    keep = min(n, max(TOP, min(200, n // 2)))
    coarse = (query.globals @ refs.globals.T).mean(0)
    idx = coarse.topk(keep).indices
    cand = Features(refs.globals[idx], refs.cells[idx], refs.hists[idx])
    scores = local_distance(query, cand)
    order = scores.argsort()[:top]
    return [(paths[int(idx[o])], float(scores[o])) for o in order]


def gray_frames_to_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    """uint8 gray ``(h, w)`` frames of one size -> gray RGB ``(B, 3, h, w)`` in [0, 1]."""
    batch = torch.from_numpy(np.stack(frames)).float().div(255.0)
    return batch[:, None].expand(-1, 3, -1, -1)


def choose(rankings: list[list[tuple[Path, float]]], shot_globals: list[torch.Tensor]) -> list[int]:
    """Which candidate each shot uses: the best, unless the previous shot's pick is within a margin and alike.

    ``shot_globals`` are the shots' mean global features ``(1280,)``. Returns an index into each ranking.
    """
    picks: list[int] = []
    for k, ranking in enumerate(rankings):
        pick = 0
        if k and picks and ranking and rankings[k - 1]:
            prev = rankings[k - 1][picks[-1]][0]
            alike = float(F.cosine_similarity(shot_globals[k - 1], shot_globals[k], dim=0)) >= ALIKE
            for i, (path, score) in enumerate(ranking):
                if path == prev and alike and score <= ranking[0][1] + STICKY_MARGIN:
                    pick = i
        picks.append(pick)
    return picks


def _small_reference(path: Path) -> torch.Tensor | None:
    """A reference at the backbone's input size, RGB ``(3, 224, 224)`` in [0, 1]; ``None`` (with a warning) if unusable."""
    try:
        rgb = load_reference(path)
    except InputError as exc:
        log.warning("skipping reference %s", exc)
        return None
    return F.interpolate(rgb[None], size=(INPUT_SIZE, INPUT_SIZE), mode="area")[0]


def index_file(folder: Path) -> Path:
    """``<folder>/.videocolor-index/index.npz`` when the folder is writable, else one in ``home.cache_dir()``."""
    if os.access(folder, os.W_OK):
        return folder / ".videocolor-index" / "index.npz"
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "reference-index" / f"{digest}.npz"


class ReferenceIndex:
    """Retrieval features of every color picture in ``folder`` (not recursive), cached on disk.

    Entries are keyed by file name, size and modification time: new or changed files are indexed, deleted
    ones dropped. Non-image files are ignored; unreadable or grayscale pictures, dangling symlinks and
    symlink loops are skipped with a warning. Pictures are decoded in threads and run through the backbone in
    batches; the index is saved as it grows (and when interrupted), so a stopped indexing run keeps its work.
    Raises ``InputError`` when the folder is missing or holds no usable color picture.
    """

    def __init__(self, folder: str | Path, *, device: torch.device | None = None, quiet: bool = False) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: reference folder not found")
        self.device = device or torch.device("cpu")
        files = reference_files(self.folder)
        keys = {p.name: [p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files}
        cached = self._load()
        entries = {name: cached[name] for name in keys if name in cached and cached[name][0] == keys[name]}
        todo = [p for p in files if p.name not in entries]
        if todo or len(entries) != len(cached):
            self._index(todo, keys, entries, quiet)
        names = [p.name for p in files if p.name in entries]
        if not names:
            raise InputError(f"{self.folder}: no usable color reference picture in this folder")
        self.paths = [self.folder / n for n in names]
        stacked = [torch.stack([getattr(entries[n][1], a) for n in names]) for a in _FIELDS]
        self.features = Features(stacked[0].float(), stacked[1], stacked[2])

    def rank(self, frames: list[np.ndarray], top: int = TOP) -> tuple[list[tuple[Path, float]], torch.Tensor]:
        """Rank the references for a shot's keyframes (uint8 gray ``(h, w)``): ``(ranking, mean global feature)``."""
        query = extract(gray_frames_to_tensor(frames), self.device)
        return rank(query, self.features, self.paths, top), query.globals.mean(0)

    def _index(self, files: list[Path], keys: dict[str, list], entries: dict[str, tuple[list, Features]], quiet: bool) -> None:
        """Add the features of ``files`` to ``entries``, saving the index every ``SAVE_SECONDS``, at the end and on any exit."""
        bar = tqdm(total=len(files), desc="indexing references", unit="image", disable=quiet or not sys.stderr.isatty(), leave=False)
        saved = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:  # OpenCV decodes without the GIL
                for start in range(0, len(files), INDEX_BATCH):
                    batch = files[start : start + INDEX_BATCH]
                    loaded = [(p, rgb) for p, rgb in zip(batch, pool.map(_small_reference, batch)) if rgb is not None]
                    if loaded:
                        feats = extract(gray_of_rgb(torch.stack([rgb for _, rgb in loaded])), self.device)
                        for i, (path, _) in enumerate(loaded):
                            entries[path.name] = (keys[path.name], Features(feats.globals[i].half(), feats.cells[i].half(), feats.hists[i]))
                    bar.update(len(batch))
                    if time.monotonic() - saved > SAVE_SECONDS:
                        self._save([n for n in keys if n in entries], entries)
                        saved = time.monotonic()
        finally:
            bar.close()
            self._save([n for n in keys if n in entries], entries)

    def _load(self) -> dict[str, tuple[list, Features]]:
        path = index_file(self.folder)
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["version"]) != INDEX_VERSION:
                    return {}
                keys = json.loads(str(data["keys"]))
                arrays = [torch.from_numpy(data[a]) for a in _FIELDS]
        except (OSError, KeyError, ValueError):
            return {}
        return {k[0]: (k, Features(*(a[i] for a in arrays))) for i, k in enumerate(keys)}

    def _save(self, names: list[str], entries: dict[str, tuple[list, Features]]) -> None:
        path = index_file(self.folder)
        if not names:
            return
        arrays = {a: np.stack([getattr(entries[n][1], a).numpy() for n in names]) for a in _FIELDS}
        data = io.BytesIO()
        np.savez(data, version=INDEX_VERSION, keys=json.dumps([entries[n][0] for n in names]), **arrays)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data.getvalue())
        except (OSError, OutputError) as exc:
            log.warning("cannot cache the reference index at %s (%s); it will be rebuilt next time", path, exc)
