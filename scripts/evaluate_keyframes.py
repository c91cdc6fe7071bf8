"""Evaluate rendering from a colorist's keyframes on a real color film, with its true colors as the keyframes.

The film is made gray (CIE L of its true colors, x264), its keyframes are exported with
``videocolor shots --export-keyframes`` and then replaced by the true color frames, as a perfect colorist
would. Two renders are scored against the truth (RGB PSNR): ``--keyframes`` (propagation from the
keyframe), and the baseline: each shot rendered with its keyframe picture as an ordinary reference (what
``--ref keyframe`` per shot gives), through an override file. Prints PSNR at every keyframe and over the
whole film. Usage: ``python scripts/evaluate_keyframes.py /path/to/street_bikes.mp4``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import synth

from videocolor import Settings, colorize_video, metrics
from videocolor.analysis import analyse
from videocolor.evaluation import read_frames
from videocolor.keyframes import INDEX_NAME, export_keyframes


def prepare(film: Path, folder: Path) -> tuple[np.ndarray, Path, Path, Path, list[dict]]:
    """Truth frames, the gray film, the keyframe folder (true colors), the baseline's override file, and the keyframe list."""
    truth, rate = read_frames(film)
    gray = synth.write_clip(folder / "gray.mp4", truth, fps=rate, gray=True, audio_seconds=0)
    keys, refs = folder / "keys", folder / "refs"
    found = analyse(gray, quiet=True)
    export_keyframes(gray, keys, found.shots, found.keyframes)
    refs.mkdir()
    entries = json.loads((keys / INDEX_NAME).read_text())
    lines = []
    for entry in entries:
        bgr = cv2.cvtColor(truth[entry["frame"]], cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(keys / entry["file"]), bgr)
        shutil.copy(keys / entry["file"], refs / entry["file"])
        lines += ["[[shot]]", f"index = {entry['index']}", f'reference = "refs/{entry["file"]}"', ""]
    overrides = folder / "baseline.toml"
    overrides.write_text("\n".join(lines))
    return truth, gray, keys, overrides, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("film", type=Path, help="a real color film with several shots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        truth, gray, keys, overrides, entries = prepare(args.film, folder)
        settings = Settings(quiet=True)
        ours = folder / "keyframes.mp4"
        colorize_video(gray, ours, keyframes=keys, settings=settings)
        base = folder / "baseline.mp4"
        colorize_video(gray, base, ref_dir=folder / "refs", overrides=overrides, settings=settings)
        results = {"keyframes": read_frames(ours)[0], "--ref keyframe per shot": read_frames(base)[0]}
    print(f"{args.film.name}: {len(truth)} frames, {len(entries)} shots; RGB PSNR dB against the true colors\n")
    print("| method | " + " | ".join(f"key {e['index']} (frame {e['frame']})" for e in entries) + " | min at keys | whole film |")
    print("|---|" + "---:|" * (len(entries) + 2))
    for name, frames in results.items():
        at_keys = [metrics.psnr(frames[e["frame"]][None], truth[e["frame"]][None]) for e in entries]
        cells = [f"{v:.2f}" for v in at_keys] + [f"{min(at_keys):.2f}", f"{metrics.psnr(frames, truth):.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
