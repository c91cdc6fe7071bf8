"""Evaluate rendering from a colorist's keyframes on a real color film, with its true colors as the keyframes.

The film is made gray (CIE L of its true colors, x264), its keyframes are exported with
``videocolor shots --export-keyframes`` and then replaced by the true color frames, as a perfect colorist
would. Two renders are scored against the truth (RGB PSNR): ``--keyframes`` (propagation from the
keyframe), and the baseline: each shot rendered with its keyframe picture as an ordinary reference (what
``--ref keyframe`` per shot gives), through an override file. Prints PSNR at every keyframe and over the
whole film, and the ceiling: the gray film's lightness with the true chroma, through the same codec.
Usage: ``python scripts/evaluate_keyframes.py /path/to/street_bikes.mp4``.

With ``--prints EVAL_DIR`` (the real-footage set: ``pairs/`` and ``video/``) it measures instead how well
colored keyframes match their frame's lightness print (``lightness_print.print_match``), the numbers behind
``keyframes.MIN_MATCH``: each real pair's target and each shot's keyframe of each film (from the gray film's
analysis) colored and re-lit 25 ways, against wrong pictures (other shots' keyframes of the film, also
re-colored and re-lit: swapped keyframes; other films' frames; a stereo view of the same scene; the same shot
1, 5 and 25 frames away).

With ``--curve`` it measures whole-film PSNR against the number of keyframes (``--counts``, default one to three
per shot): rendered from the true colors of the frames ``analysis.suggest.suggest_keyframes(count=K)`` picks,
and of evenly spaced ones (one per shot, the rest shared out over the shots by length, evenly within each).
``--coverage`` checks the suggestions' premise: how well the simulated coverage of one keyframe per shot ranks
the frames' PSNR in the render from them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from videocolor import Settings, colorize_video
from videocolor.analysis.film import Analysis, analyse
from videocolor.analysis.keyframes import INDEX_NAME, MIN_MATCH
from videocolor.analysis.suggest import extra_frames, keyframe_coverage, suggest_keyframes
from videocolor.colorist.keyframes import choose_keyframes, export_keyframes
from videocolor.evaluation import metrics
from videocolor.evaluation import synthetic as synth
from videocolor.evaluation.baselines import luminance_transfer
from videocolor.evaluation.protocol import read_frames
from videocolor.ops.color import lab_to_rgb, lightness_u8, rgb_to_lab, rgb_to_lightness
from videocolor.ops.lightness_print import lightness_print, print_match
from videocolor.records import Shot
from videocolor.render.devices import apply_process_policy


def gray_film(film: Path, folder: Path) -> tuple[np.ndarray, Path]:
    """The film's true colors ``(T, H, W, 3)`` uint8 and the gray film made of them (``folder/gray.mp4``)."""
    truth, rate = read_frames(film)
    return truth, synth.write_clip(folder / "gray.mp4", truth, fps=rate, gray=True, audio_seconds=0)


def true_keyframes(keys: Path, truth: np.ndarray) -> list[dict]:
    """Replace every exported keyframe in ``keys`` by its frame's true colors, as a perfect colorist would; the entries."""
    entries = json.loads((keys / INDEX_NAME).read_text())["shots"]
    for entry in entries:
        cv2.imwrite(str(keys / entry["file"]), cv2.cvtColor(truth[entry["frame"]], cv2.COLOR_RGB2BGR))
    return entries


def ceiling(gray: Path, truth: np.ndarray, folder: Path) -> np.ndarray:
    """The most a render can score: the gray film's own lightness with the true chroma, through the render's codec
    (x264 at the default CRF, its middle preset: what ``preset = "auto"`` takes); RGB uint8 ``(T, H, W, 3)``."""
    frames = []
    for shown, true in zip(read_frames(gray)[0], truth):
        lightness = rgb_to_lightness(torch.from_numpy(shown).permute(2, 0, 1).float() / 255)
        ab = rgb_to_lab(torch.from_numpy(true).permute(2, 0, 1)[None].float() / 255)[:, 1:]
        frames.append((lab_to_rgb(torch.cat((lightness[None], ab), 1))[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))
    options = {"crf": str(Settings().crf), "preset": "medium"}
    clip = synth.write_clip(folder / "ceiling.mp4", frames, fps=read_frames(gray)[1], gray=False, audio_seconds=0, options=options)
    return read_frames(clip)[0]


def prepare(film: Path, folder: Path) -> tuple[np.ndarray, Path, Path, Path, list[dict]]:
    """Truth frames, the gray film, the keyframe folder (true colors), the baseline's override file, and the keyframe list."""
    truth, gray = gray_film(film, folder)
    keys, refs = folder / "keys", folder / "refs"
    found = analyse(gray, quiet=True)
    export_keyframes(gray, keys, found.shots, found.keyframes)
    refs.mkdir()
    entries = true_keyframes(keys, truth)
    lines = []
    for entry in entries:
        shutil.copy(keys / entry["file"], refs / entry["file"])
        lines += ["[[shot]]", f"index = {entry['index']}", f'reference = "refs/{entry["file"]}"', ""]
    overrides = folder / "baseline.toml"
    overrides.write_text("\n".join(lines))
    return truth, gray, keys, overrides, entries


def evenly_spaced(shots: list[Shot], keyframes: dict[int, list[int]], count: int) -> dict[int, list[int]]:
    """Frames beyond one per shot (the analysis' keyframe): ``count`` in all, the rest shared out over the shots by
    length (largest remainders), and within a shot at the middles of equal parts, the part nearest its keyframe
    left to it."""
    spare = count - len(shots)
    total = sum(s.num_frames for s in shots)
    quotas = [spare * s.num_frames / total for s in shots]
    share = [int(q) for q in quotas]
    for i in sorted(range(len(shots)), key=lambda i: int(quotas[i]) - quotas[i])[: spare - sum(share)]:
        share[i] += 1
    firsts = choose_keyframes(keyframes)
    extra = {}
    for shot, m in zip(shots, share):
        m = min(m, shot.num_frames - 1)
        if m:
            slots = [shot.start_frame + int((j + 0.5) * shot.num_frames / (m + 1)) for j in range(m + 1)]
            slots.remove(min(slots, key=lambda f: abs(f - firsts[shot.index])))
            extra[shot.index] = [f for f in slots if f != firsts[shot.index]]
    return extra


def render_psnr(gray: Path, truth: np.ndarray, found: Analysis, extra: dict[int, list[int]], folder: Path) -> tuple[float, int, float]:
    """Whole-film RGB PSNR of a render from true-color keyframes (each shot's, and ``extra``), their count, its seconds."""
    keys = folder / "keys"
    export_keyframes(gray, keys, found.shots, found.keyframes, extra=extra)
    entries = true_keyframes(keys, truth)
    start = time.perf_counter()
    colorize_video(gray, folder / "out.mp4", keyframes=keys, settings=Settings(quiet=True))
    seconds = time.perf_counter() - start
    return metrics.psnr(read_frames(folder / "out.mp4")[0], truth), len(entries), seconds


def measure_curve(film: Path, counts: list[int] | None) -> None:
    """Print whole-film PSNR against keyframe count, keyframes from ``suggest_keyframes`` and evenly spaced."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        truth, gray = gray_film(film, folder)
        found = analyse(gray, quiet=True)
        shots = len(found.shots)
        counts = counts or [shots, round(1.5 * shots), 2 * shots, round(2.5 * shots), 3 * shots]
        if any(k < shots for k in counts):
            raise SystemExit(f"{film}: every count must be at least its {shots} shots")
        apply_process_policy(torch.device("cpu"))  # as videocolor shots does
        start = time.perf_counter()
        ranked = suggest_keyframes(gray, found.shots, found.keyframes, count=max(counts))
        print(f"{film.name}: {len(truth)} frames, {shots} shots; suggest_keyframes took {time.perf_counter() - start:.1f} s\n")
        print("| keyframes | suggested PSNR | evenly spaced PSNR | render s (suggested, even) |\n|---:|---:|---:|---:|")
        for k in sorted(set(counts)):
            cells, times = [], []
            for name, picked in (("suggested", extra_frames(ranked[:k])), ("even", evenly_spaced(found.shots, found.keyframes, k))):
                (folder / f"{name}{k}").mkdir()
                psnr, n, seconds = render_psnr(gray, truth, found, picked, folder / f"{name}{k}")
                cells.append(f"{psnr:.2f}" + (f" ({n} keyframes)" if n != k else ""))
                times.append(f"{seconds:.0f}")
            print(f"| {k} | {cells[0]} | {cells[1]} | {', '.join(times)} |")


def measure_coverage(film: Path) -> None:
    """Print how well the simulated coverage (``analysis.suggest.keyframe_coverage``) of one keyframe per shot ranks the
    frames' PSNR in the render from those keyframes (true colors): Spearman's rank correlation, mean PSNR by coverage."""
    apply_process_policy(torch.device("cpu"))  # as videocolor shots does
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        truth, gray = gray_film(film, folder)
        found = analyse(gray, quiet=True)
        keys = choose_keyframes(found.keyframes)
        coverage = keyframe_coverage(gray, found.shots, {shot: [frame] for shot, frame in keys.items()})
        (folder / "render").mkdir()
        render_psnr(gray, truth, found, {}, folder / "render")
        out = read_frames(folder / "render" / "out.mp4")[0]
    psnr = np.array([metrics.psnr(out[i][None], truth[i][None]) for i in range(len(truth))])
    others = np.array([i not in keys.values() for i in range(len(truth))])  # the keyframes themselves are exact
    ranks = [np.argsort(np.argsort(v[others])) for v in (coverage, psnr)]
    print(f"{film.name}: {others.sum()} frames besides the keyframes; Spearman rank correlation of coverage and PSNR "
          f"{np.corrcoef(*ranks)[0, 1]:.2f}\n")
    print("| coverage | frames | mean PSNR |\n|---|---:|---:|")
    for low, high in ((0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01)):
        chosen = others & (coverage >= low) & (coverage < high)
        if chosen.any():
            print(f"| {low:.2f}-{min(high, 1):.2f} | {chosen.sum()} | {psnr[chosen].mean():.2f} |")


def hue(rgb: np.ndarray, degrees: float = 0, saturation: float = 1.0) -> np.ndarray:
    """RGB uint8 with its HSV hue turned and saturation scaled (lightness changes with them, as in a paint tool)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + degrees * 256 / 360) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)


def tone(rgb: np.ndarray, gain: float = 1.0, bias: float = 0.0, gamma: float = 1.0, vignette: float = 0.0) -> np.ndarray:
    """A global re-lighting of RGB uint8: contrast ``gain``, brightness ``bias``, ``gamma``, a radial vignette."""
    x = np.clip(rgb.astype(np.float32) / 255 * gain + bias, 0, 1) ** gamma
    h, w = x.shape[:2]
    yy, xx = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]
    return np.clip(x * (1 - vignette * (xx**2 + yy**2) / 2)[..., None] * 255 + 0.5, 0, 255).astype(np.uint8)


def colorings(truth: np.ndarray, other: np.ndarray):
    """``(name, RGB uint8)``: 25 ways a colorist may color and re-light the frame whose true colors are ``truth``."""
    yield "true colors", truth
    for degrees in (60, 120, 180):
        yield f"hue {degrees}", hue(truth, degrees)
    for saturation in (0.3, 2.0):
        yield f"saturation x{saturation}", hue(truth, 0, saturation)
    lightness = torch.from_numpy(lightness_u8(truth))[None, None]
    ab = luminance_transfer(lightness, torch.from_numpy(other).permute(2, 0, 1).float() / 255)
    yield "luminance transfer", (lab_to_rgb(torch.cat((lightness, ab), 1))[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    field = cv2.resize(np.random.default_rng(1).uniform(0.4, 1.0, (3, 4, 3)).astype(np.float32), truth.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    yield "painted tints", np.clip(lightness[0, 0].numpy()[..., None] / 100 * field * 255 / field.mean(), 0, 255).astype(np.uint8)
    small = cv2.resize(truth, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    yield "JPEG q60 half size", cv2.imdecode(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], cv2.IMREAD_COLOR)
    relight = {"brightness +0.15": {"bias": 0.15}, "brightness -0.15": {"bias": -0.15}, "contrast x0.6": {"gain": 0.6, "bias": 0.2},
               "contrast x1.5": {"gain": 1.5, "bias": -0.25}, "gamma 0.5": {"gamma": 0.5}, "gamma 2": {"gamma": 2.0},
               "vignette 0.3": {"vignette": 0.3}, "vignette 0.5": {"vignette": 0.5}}
    for name, change in relight.items():
        yield name, tone(truth, **change)
        yield f"{name}, hue 120", tone(hue(truth, 120), **change)


def measure_prints(folder: Path) -> None:
    """Print the distributions of ``print_match`` for right and wrong keyframes on the real-footage set ``folder``."""
    def score(frame: np.ndarray, picture: np.ndarray) -> float:  # a picture of another shape is stretched to the frame's
        return print_match(lightness_print(lightness_u8(frame)), lightness_u8(np.ascontiguousarray(picture)))

    load = lambda p: cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)  # noqa: E731
    targets = {p.name.split("_target")[0]: p for p in sorted((folder / "pairs").glob("*_target.*"))}
    pairs = {name: (load(p), load(p.with_name(p.name.replace("_target", "_ref")))) for name, p in targets.items()}
    films = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted((folder / "video").glob("*.mp4")):
            truth, rate = read_frames(path)
            gray = synth.write_clip(Path(tmp) / path.name, truth, fps=rate, gray=True, audio_seconds=0)
            found = analyse(gray, quiet=True)
            films[path.stem] = (truth, read_frames(gray)[0], [found.keyframes[s.index][len(found.keyframes[s.index]) // 2] for s in found.shots])
    right: dict[str, list[float]] = {}
    wrong: dict[str, list[float]] = {}
    names = sorted(pairs)
    frames = [(f"pair {n}", pairs[n][0], pairs[n][0], pairs[names[(i + 1) % len(names)]][0]) for i, n in enumerate(names)]
    for film, (truth, gray, keys) in films.items():
        frames += [(f"{film} shot {s}", gray[k], truth[k], truth[keys[(s + 1) % len(keys)]]) for s, k in enumerate(keys)]
    for name, frame, truth, other in frames:
        for kind, picture in colorings(truth, other):
            right.setdefault(kind, []).append(score(frame, picture))
        for other_name, _, other_truth, _ in frames:
            same_film = name.split(" shot ")[0] == other_name.split(" shot ")[0] and " shot " in name
            if other_name != name and not (name.startswith("pair fruit") and other_name.startswith("pair fruit")):
                kinds = [("true colors", other_truth), ("hue 120", hue(other_truth, 120)), ("gamma 0.5", tone(other_truth, gamma=0.5))]
                for _, picture in kinds if same_film else kinds[:1]:
                    wrong.setdefault("another shot of the film" if same_film else "another film's frame", []).append(score(frame, picture))
        if name.startswith("pair "):
            wrong.setdefault("a stereo view of the same scene (for scale)", []).append(score(frame, pairs[name[5:]][1]))
    for truth, gray, keys in films.values():
        for k in keys:
            for step in (1, 5, 25):
                if k + step < len(truth):
                    wrong.setdefault(f"the same shot {step} frames away (for scale)", []).append(score(gray[k], truth[k + step]))
    print(f"print_match of a colored keyframe against its frame's print; threshold MIN_MATCH = {MIN_MATCH}\n")
    print("| keyframe | cases | min | 1st pct | median | max |\n|---|---:|---:|---:|---:|---:|")
    every = [v for values in right.values() for v in values]
    for name, values in [*right.items(), ("all colorings", every), *wrong.items()]:
        v = np.array(values)
        print(f"| {name} | {len(v)} | {v.min():.2f} | {np.percentile(v, 1):.2f} | {np.median(v):.2f} | {v.max():.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("film", type=Path, nargs="?", help="a real color film with several shots")
    parser.add_argument("--prints", type=Path, metavar="EVAL_DIR", help="measure keyframe lightness matches on the real-footage set")
    parser.add_argument("--curve", action="store_true", help="PSNR against the number of keyframes: suggested ones and evenly spaced ones")
    parser.add_argument("--coverage", action="store_true", help="how well the suggestions' simulated coverage ranks the "
                        "frames' PSNR in a render from one keyframe per shot")
    parser.add_argument("--counts", type=lambda t: [int(c) for c in t.split(",")], help="keyframe counts of --curve, comma-separated "
                        "(default: one per shot, 1.5, 2, 2.5 and 3 per shot)")
    args = parser.parse_args()
    if args.prints is not None:
        measure_prints(args.prints)
        return
    if args.film is None:
        parser.error("give a film, or --prints EVAL_DIR")
    if args.curve:
        measure_curve(args.film, args.counts)
        return
    if args.coverage:
        measure_coverage(args.film)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        truth, gray, keys, overrides, entries = prepare(args.film, folder)
        settings = Settings(quiet=True)
        ours = folder / "keyframes.mp4"
        colorize_video(gray, ours, keyframes=keys, settings=settings)
        base = folder / "baseline.mp4"
        colorize_video(gray, base, ref_dir=folder / "refs", overrides=overrides, settings=settings)
        results = {"keyframes": read_frames(ours)[0], "--ref keyframe per shot": read_frames(base)[0]}
        results["ceiling (true chroma, same codec)"] = ceiling(gray, truth, folder)
    print(f"{args.film.name}: {len(truth)} frames, {len(entries)} shots; RGB PSNR dB against the true colors\n")
    print("| method | " + " | ".join(f"key {e['index']} (frame {e['frame']})" for e in entries) + " | min at keys | whole film |")
    print("|---|" + "---:|" * (len(entries) + 2))
    for name, frames in results.items():
        at_keys = [metrics.psnr(frames[e["frame"]][None], truth[e["frame"]][None]) for e in entries]
        cells = [f"{v:.2f}" for v in at_keys] + [f"{min(at_keys):.2f}", f"{metrics.psnr(frames, truth):.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
