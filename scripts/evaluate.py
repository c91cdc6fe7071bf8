"""Evaluate colorization quality: on real footage (``--data DIR``) and on generated films (the synthetic suite).

``--data DIR`` runs the protocols of an evaluation folder (see ``videocolor.evaluation.protocol`` and the folder's
README): pairs, video in-shot and video other-shot. Rows: the gray input, luminance-binned transfer, the
default model and every preset in ``configs/`` (and DEVC when its weights are installed). Pairs are
colorized in this process; videos are rendered end to end by the command line, codec included.

Without ``--data``, the synthetic suite: each clip is a camera pan or zoom over a real photo, made gray and encoded; every method colorizes it
under each reference policy, and the colored result is compared with the true color clip:

- ``in-shot``: the reference is the clip's own middle frame in color;
- ``other-shot``: the reference is another view of the scene, the photo mirrored and rescaled.

Prints a markdown table of PSNR/SSIM against the truth, warp error (flow from the true clip) and CDC
(lower is steadier) and colorfulness.

``--data DIR --ablation`` changes each design choice of the exemplar model alone (in this process).
``--data DIR --refs-per-shot N``: other-shot cases take the N best-ranked other shots' frames as references, fused
per pixel (``videocolor/ops/fusion.py``; films rendered with ``--ref-dir`` and ``--refs-per-shot N``).

Usage: ``python scripts/evaluate.py --data ../shared/eval [--ablation | --rows NAME ...]`` or ``python scripts/evaluate.py [--frames 24] [--size 144x256]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from videocolor import Settings, colorize_video
from videocolor._cli import main as cli
from videocolor.evaluation import metrics
from videocolor.evaluation import protocol as evaluation
from videocolor.evaluation import synthetic as synth
from videocolor.evaluation.baselines import gray, luminance_transfer
from videocolor.models.exemplar import DEVICE_DEFAULTS, ExemplarColorizer
from videocolor.models.weights import is_installed
from videocolor.ops.color import lab_to_rgb, rgb_to_lightness
from videocolor.ops.upsample import guided_upsample
from videocolor.render.devices import DEFAULT_REFS_PER_SHOT

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

CLIPS = (("pan", "astronaut"), ("zoom", "coffee"), ("pan", "china"), ("zoom", "chelsea"))
POLICIES = ("in-shot", "other-shot")
COLUMNS = ("PSNR", "SSIM", "warp err x1e3", "CDC x1e3", "colorfulness")


def make_reference(policy: str, photo: np.ndarray, truth: np.ndarray) -> np.ndarray:
    if policy == "in-shot":
        return truth[len(truth) // 2]
    return np.ascontiguousarray(cv2.resize(photo[:, ::-1], None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA))


def score(colored: np.ndarray, truth: np.ndarray) -> tuple[float, ...]:
    return (
        metrics.psnr(colored, truth),
        metrics.ssim(colored, truth),
        1e3 * metrics.warp_error(colored, flow_frames=truth),
        1e3 * metrics.cdc(colored),
        metrics.colorfulness(colored),
    )


def baseline(colorize: Callable[[torch.Tensor], torch.Tensor], film: np.ndarray) -> np.ndarray:
    """Color a decoded gray film ``(T, H, W, 3)`` uint8 with ``colorize(lightness) -> ab``."""
    lightness = rgb_to_lightness(torch.from_numpy(film).permute(0, 3, 1, 2).float() / 255)
    rgb = lab_to_rgb(torch.cat((lightness, colorize(lightness)), 1))
    return (rgb.mul(255).round().byte().permute(0, 2, 3, 1)).numpy()


def ours(film_path: Path, reference_path: Path, temporal: str, folder: Path) -> np.ndarray:
    output = folder / f"ours_{temporal}.mp4"
    colorize_video(film_path, output, ref=reference_path, settings=Settings(temporal=temporal, quiet=True), overwrite=True)
    return evaluation.read_frames(output)[0]


def evaluate(frames: int, size: tuple[int, int], folder: Path) -> dict[tuple[str, str], list[tuple[float, ...]]]:
    """Scores per (policy, method), one row per clip."""
    results: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for kind, name in CLIPS:
        photo = synth.load_photo(name)
        clip = synth.pan(photo, frames, size) if kind == "pan" else synth.zoom(photo, frames, size)
        film_path = synth.write_clip(folder / "film.mp4", clip, audio_seconds=0)
        truth = evaluation.read_frames(synth.write_clip(folder / "truth.mp4", clip, gray=False, audio_seconds=0))[0]
        film = evaluation.read_frames(film_path)[0]
        results.setdefault(("-", "truth"), []).append(score(truth, truth))
        results.setdefault(("-", "gray"), []).append(score(baseline(gray, film), truth))
        for policy in POLICIES:
            reference = make_reference(policy, photo, truth)
            reference_path = folder / "reference.png"
            cv2.imwrite(str(reference_path), cv2.cvtColor(reference, cv2.COLOR_RGB2BGR))
            reference_rgb = torch.from_numpy(reference).permute(2, 0, 1).float() / 255
            transfer = baseline(lambda lightness, ref=reference_rgb: luminance_transfer(lightness, ref), film)
            results.setdefault((policy, "luminance transfer"), []).append(score(transfer, truth))
            for temporal in ("off", "dis"):
                colored = ours(film_path, reference_path, temporal, folder)
                results.setdefault((policy, f"ours, temporal {temporal}"), []).append(score(colored, truth))
        print(f"done: {kind} over {name}", flush=True)
    return results


def markdown(results: dict[tuple[str, str], list[tuple[float, ...]]]) -> str:
    lines = ["| reference | method | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * len(COLUMNS)]
    for (policy, method), rows in results.items():
        means = np.mean(np.array(rows), axis=0)
        cells = ["inf" if np.isinf(v) else f"{v:.3f}" if abs(v) < 10 else f"{v:.2f}" for v in means]
        lines.append(f"| {policy} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rendered(flags: list[str], folder: Path) -> evaluation.Method:
    """A case colorized by the command line with ``flags``: ``videocolor image`` for a pair, else a film."""

    def method(case: evaluation.Case) -> np.ndarray:
        references = folder / "references"  # several: the command line fuses them all (--ref-dir, --refs-per-shot)
        shutil.rmtree(references, ignore_errors=True)
        references.mkdir()
        for i, picture in enumerate((case.reference, *case.more_references)):
            cv2.imwrite(str(references / f"{i}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        given = ["--ref", str(references / "0.png")]
        if case.more_references:
            given = ["--ref-dir", str(references), "--refs-per-shot", str(1 + len(case.more_references))]
        if len(case.truth) == 1:
            source, output = folder / "gray.png", folder / "colored.png"
            cv2.imwrite(str(source), case.gray[0])
            command = ["image", str(source)]
        else:
            source = evaluation.write_film(folder / "gray.mp4", case.gray, case.fps)
            output, command = folder / "colored.mkv", [str(source)]  # mkv holds every preset's codec
        with contextlib.redirect_stdout(io.StringIO()):  # `videocolor image` prints the paths it wrote
            status = cli.main([*command, *given, "-o", str(output), "--overwrite", "--quiet", *flags])
        if status != 0:
            raise RuntimeError(f"videocolor {' '.join(command + flags)} failed")
        if len(case.truth) == 1:
            return cv2.cvtColor(cv2.imread(str(output)), cv2.COLOR_BGR2RGB)[None]
        return evaluation.read_frames(output)[0]

    return method


def real_methods(folder: Path) -> dict[str, evaluation.Method]:
    """The rows of the real-footage table: baselines, the exemplar model with each preset, DEVC if installed."""
    methods = {"gray": evaluation.gray_row, "luminance transfer": evaluation.transfer_row}
    methods["exemplar (default settings)"] = rendered(["--model", "exemplar"], folder)
    for preset in sorted(p for p in CONFIGS.glob("*.toml") if p.stem != "default"):
        methods[f"exemplar, {preset.stem}.toml"] = rendered(["--model", "exemplar", "--config", str(preset)], folder)
    gpu = folder / "gpu.toml"
    gpu.write_text("[videocolor.exemplar]\nwork_size = {}\nmatch_stride = {}\n".format(*DEVICE_DEFAULTS["cuda"]))
    methods["exemplar, a GPU's defaults (run here on the CPU)"] = rendered(["--model", "exemplar", "--config", str(gpu)], folder)
    if is_installed("devc"):
        methods["devc"] = rendered(["--model", "devc"], folder)
    return methods


def bilinear(ab: torch.Tensor, lightness: torch.Tensor, lightness_full: torch.Tensor) -> torch.Tensor:
    """Chroma upsampled without the guide (the ablation of the guided filter)."""
    return F.interpolate(ab, size=lightness_full.shape[-2:], mode="bilinear", align_corners=False)


PROTOTYPE = {"tap_weights": (0.0, 1.0, 1.0, 1.0, 1.0), "subspace": 0, "bins": 0, "fallback": None, "temperature": 0.01, "flow_refinement": None}
# Ablation rows: ExemplarColorizer arguments changed from its CPU defaults, temporal stage, chroma upsampling, carry.
CARRY = Settings().carry
ABLATION: dict[str, tuple[dict, str, evaluation.Upsample, int]] = {
    "default (CPU: work 256, stride 8)": ({}, "dis", guided_upsample, CARRY),
    "taps: stride-2 tap added (1,1,1,1,1)": ({"tap_weights": (1.0, 1.0, 1.0, 1.0, 1.0)}, "dis", guided_upsample, CARRY),
    "taps: before (1,1,1,2,2)": ({"tap_weights": (1.0, 1.0, 1.0, 2.0, 2.0)}, "dis", guided_upsample, CARRY),
    "cell colors: mean only (no lightness table)": ({"bins": 0}, "dis", guided_upsample, CARRY),
    "subspace off (all dimensions)": ({"subspace": 0}, "dis", guided_upsample, CARRY),
    "temperature 0.01": ({"temperature": 0.01}, "dis", guided_upsample, CARRY),
    "low-confidence fallback off": ({"fallback": None}, "dis", guided_upsample, CARRY),
    "stride 4": ({"match_stride": 4}, "dis", guided_upsample, CARRY),
    "work size 384": ({"work_size": 384}, "dis", guided_upsample, CARRY),
    "work 512, stride 4 (a GPU's default)": ({"work_size": 512, "match_stride": 4}, "dis", guided_upsample, CARRY),
    "bilinear upsampling (no guided filter)": ({}, "dis", bilinear, CARRY),
    "temporal stage off": ({}, "off", guided_upsample, CARRY),
    "carry 0 (the model colorizes every frame)": ({}, "dis", guided_upsample, 0),
    "carry 1": ({}, "dis", guided_upsample, 1),
    "flow refinement off (semantic match only)": ({"flow_refinement": None}, "dis", guided_upsample, CARRY),
    "flow refinement without the homography": ({"homography": False}, "dis", guided_upsample, CARRY),
    "flow refinement with DIS medium": ({"flow_refinement": "medium"}, "dis", guided_upsample, CARRY),
    "plain prototype (all of the above off)": (PROTOTYPE, "off", bilinear, 0),
}


def ablation_methods() -> dict[str, evaluation.Method]:
    """Each design choice of ``models/exemplar.py`` (and the stages around it) changed alone, in this process."""
    work_size, stride = DEVICE_DEFAULTS["cpu"]
    methods = {}
    for name, (changes, temporal, upsample, carry) in ABLATION.items():
        colorizer = ExemplarColorizer(torch.device("cpu"), **{"work_size": work_size, "match_stride": stride, **changes})
        methods[name] = functools.partial(evaluation.colorize_case, colorizer, temporal=temporal, upsample=upsample, carry=carry)
    return methods


def ablation_markdown(results: dict[str, dict[str, list[tuple[float, ...]]]]) -> str:
    """PSNR per protocol (means over cases) and the in-shot warp error, one row per ablation."""
    protocols = list(results)
    lines = ["| change | " + " | ".join(f"{p} PSNR" for p in protocols) + " | in-shot warp err x1e3 |", "|---|" + "---:|" * (len(protocols) + 1)]
    for name in (name for name in ABLATION if name in results[protocols[0]]):
        means = [np.mean(np.array(results[p][name]), axis=0) for p in protocols]
        warp = np.mean(np.array(results["in-shot"][name]), axis=0)[3] if "in-shot" in results else np.nan
        lines.append(f"| {name} | " + " | ".join(_cell(m[0]) for m in means) + f" | {_cell(warp)} |")
    return "\n".join(lines)


def real_markdown(results: dict[str, dict[str, list[tuple[float, ...]]]], names: dict[str, list[str]]) -> str:
    """Per protocol: means over its cases, then PSNR per case."""
    out = []
    for protocol, table in results.items():
        columns = evaluation.COLUMNS if protocol != "pairs" else evaluation.COLUMNS[:3]
        out += [f"\n### {protocol} ({len(names[protocol])} cases), means\n", "| method | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
        for method, rows in table.items():
            means = np.mean(np.array(rows), axis=0)[: len(columns)]
            out.append(f"| {method} | " + " | ".join(_cell(v) for v in means) + " |")
        out += [f"\n### {protocol}, PSNR per case\n", "| case | " + " | ".join(table) + " |", "|---|" + "---:|" * len(table)]
        for i, name in enumerate(names[protocol]):
            out.append(f"| {name} | " + " | ".join(_cell(rows[i][0]) for rows in table.values()) + " |")
    return "\n".join(out)


def _cell(value: float) -> str:
    return "inf" if np.isinf(value) else f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def chosen(methods: dict[str, evaluation.Method], rows: list[str] | None) -> dict[str, evaluation.Method]:
    """The ``rows`` of ``methods`` (all of them for ``None``); exit 2 naming a row that does not exist."""
    if rows is None:
        return methods
    if unknown := [row for row in rows if row not in methods]:
        print(f"--rows: no row named {', '.join(unknown)} (rows: {'; '.join(methods)})", file=sys.stderr)
        raise SystemExit(2)
    return {row: methods[row] for row in rows}


def evaluate_real(data: Path, ablation: bool, window: int, refs: int, rows: list[str] | None = None) -> None:
    cases = evaluation.load_cases(data, window, refs)
    names: dict[str, list[str]] = {}
    for case in cases:
        names.setdefault(case.protocol, []).append(case.name)
    progress = lambda line: print(f"done: {line}", flush=True)  # noqa: E731
    if ablation:
        results = evaluation.evaluate(cases, chosen(ablation_methods(), rows), progress=progress)
        print(f"\nAblation on {data} ({', '.join(f'{len(v)} {k}' for k, v in names.items())}; at most {window} frames a shot), in this process, no codec:\n")
        print(ablation_markdown(results))
        return
    with tempfile.TemporaryDirectory() as folder:
        results = evaluation.evaluate(cases, chosen(real_methods(Path(folder)), rows), progress=progress)
    print(f"\nReal footage in {data}: gray input = CIE L of the truth as the pixel value; RGB PSNR/SSIM against the truth.")
    print(real_markdown(results, names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="evaluation folder with pairs/ and video/ (real footage); omit for the synthetic suite")
    parser.add_argument("--ablation", action="store_true", help="with --data: each design choice of the exemplar model on and off")
    parser.add_argument("--frames", type=int, help="frames per clip (default 24); with --data: most frames scored per shot (default 48)")
    parser.add_argument("--size", default="144x256", help="clip size HxW (default 144x256)")
    parser.add_argument("--refs-per-shot", type=int, default=DEFAULT_REFS_PER_SHOT,
                        help=f"with --data: other-shot cases take the retrieval's N best other shots, fused (default: {DEFAULT_REFS_PER_SHOT}, the library's)")
    parser.add_argument("--rows", nargs="+", help="with --data: the rows to run (of the real-footage table, or with --ablation "
                        "of the ablation), names as printed (default: all)")
    args = parser.parse_args()
    if args.data is not None:
        evaluate_real(args.data, args.ablation, args.frames or evaluation.WINDOW, args.refs_per_shot, args.rows)
        return
    height, width = (int(v) for v in args.size.lower().split("x"))
    frames = args.frames or 24
    with tempfile.TemporaryDirectory() as folder:
        results = evaluate(frames, (height, width), Path(folder))
    print(f"\nMeans over {len(CLIPS)} clips of {frames} frames at {height}x{width}; warp error uses DIS flow on the true clip.\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
