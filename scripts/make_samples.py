"""Make the shipped samples from public-domain photos bundled with scikit-image and scikit-learn.

    python scripts/make_samples.py          # writes samples/newsreel.mp4, samples/refs/*.jpg, docs/images/before_after.jpg

``newsreel.mp4`` is a 4-second grayscale film of two shots (a pan over the astronaut, a cut, a zoom into a
cup of coffee) with a stereo audio track; ``refs/`` holds a color view of each scene plus two distractors.
``before_after.jpg`` is made by videocolor itself from the film, for the README and the docs' front page.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from videocolor import Settings, colorize_video
from videocolor.evaluation import synthetic as synth

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SIZE = (180, 320)
FPS = Fraction(25)


def save_jpeg(path: Path, rgb: np.ndarray, long_side: int = 480) -> None:
    scale = long_side / max(rgb.shape[:2])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def make_film(path: Path) -> None:
    astronaut, coffee = synth.load_photo("astronaut"), synth.load_photo("coffee")
    frames = synth.pan(astronaut, 50, SIZE) + synth.zoom(coffee, 50, SIZE, factor=1.4)
    synth.write_clip(path, frames, fps=FPS, options={"crf": "24", "preset": "slow"})


def make_refs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    astronaut, coffee = synth.load_photo("astronaut"), synth.load_photo("coffee")
    save_jpeg(folder / "astronaut_color.jpg", np.ascontiguousarray(astronaut[20:, ::-1][:, 40:]))
    save_jpeg(folder / "coffee_color.jpg", np.ascontiguousarray(coffee[30:, 60:]))
    save_jpeg(folder / "cat.jpg", synth.load_photo("chelsea"))
    save_jpeg(folder / "china.jpg", synth.load_photo("china"))


def make_before_after(film: Path, refs: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        colored = Path(tmp) / "newsreel_color.mp4"
        colorize_video(film, colored, ref_dir=refs, settings=Settings(quiet=True))
        rows = []
        for index in (20, 75):
            rows.append(np.hstack([frame_at(film, index), np.full((SIZE[0], 8, 3), 255, np.uint8), frame_at(colored, index)]))
    sheet = np.vstack([rows[0], np.full((8, rows[0].shape[1], 3), 255, np.uint8), rows[1]])
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])


def frame_at(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise IndexError(index)


def main() -> None:
    film, refs = SAMPLES / "newsreel.mp4", SAMPLES / "refs"
    make_film(film)
    make_refs(refs)
    make_before_after(film, refs, SAMPLES.parent / "docs" / "images" / "before_after.jpg")
    for path in sorted([*SAMPLES.rglob("*"), SAMPLES.parent / "docs" / "images" / "before_after.jpg"]):
        if path.is_file() and ".videocolor-index" not in path.parts:
            print(f"{path.relative_to(SAMPLES.parent)}  {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
