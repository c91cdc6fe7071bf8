"""The review page's model: the shot board as JSON, the pictures it shows, and the choices it saves.

Everything here asks the library: ``analysis.analyse`` ranks the references and reads colored keyframes,
``preview.Previewer`` colorizes keyframes, ``overrides`` reads and edits the override file. The board only
keeps JPEG bytes it has already made (previews are computed on demand, once).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2
import numpy as np

from ...analysis.film import analyse
from ...analysis.overrides import apply_overrides, edit_override, read_overrides
from ...checks import check_film, check_output
from ...config import Settings
from ...io.images import is_image_file, read_rgb
from ...io.sequence import FrameSequence
from ...render.devices import use_device
from ..preview import Previewer

KEYFRAME = "keyframe"  # the name under which a shot's colored keyframe is offered as a candidate
THUMB_HEIGHT = 180
_JPEG_QUALITY = 85


def default_overrides(film: str | Path | FrameSequence) -> Path:
    """Where a film's choices go by default: ``<film stem>_shots.toml`` beside a film, ``<folder>_shots.toml`` beside
    a scan's folder (never inside it, among the frames)."""
    if isinstance(film, FrameSequence):
        folder = film.pattern.parent.absolute()
        return folder.with_name(f"{folder.name}_shots.toml")
    return Path(film).with_name(f"{Path(film).stem}_shots.toml")


class Board:
    """A film's shots, their candidates and the override file the choices go to.

    Args:
        film: the film: a video file, or a film scan (a ``FrameSequence`` from ``checks.check_film``, with its rate).
        ref_dir: the reference folder (every picture in it can be chosen).
        overrides: the override file (created at the first choice when missing; an existing one must parse; not the
            film, nor a name the scan's pattern numbers).
        keyframes: optional keyframe folder with colored keyframes.
        cuts: optional cut list or timeline used instead of detecting the cuts (``analysis.cuts``).
        settings: model settings for the previews.
        candidates: ranked candidates shown per shot.
    """

    def __init__(
        self,
        film: str | Path | FrameSequence,
        ref_dir: str | Path,
        overrides: str | Path,
        *,
        keyframes: str | Path | None = None,
        cuts: str | Path | None = None,
        settings: Settings | None = None,
        candidates: int = 3,
    ) -> None:
        settings = settings or Settings()
        self.film, self.ref_dir = check_film(film), Path(ref_dir)
        self.overrides = check_output(overrides, [self.film], overwrite=True)  # edited in place, never over the film
        use_device(settings)  # the thread policy before the analysis
        self.analysis = analyse(self.film, ref_dir=ref_dir, keyframes=keyframes, cuts=cuts, quiet=settings.quiet)
        self.refs = {p.name: p for p in sorted(self.ref_dir.iterdir()) if p.is_file() and is_image_file(p)}
        self.previewer = Previewer(self.film, self.analysis, settings, long_side=2 * THUMB_HEIGHT * 16 // 9)
        self.candidates = candidates
        self._jpegs: dict[tuple[str, ...], bytes] = {}
        self._lock = threading.Lock()
        self.saved()  # an override file that cannot be read stops the page before it starts

    def saved(self) -> dict[int, tuple[Path, ...] | None]:
        """The override file's entries now: shot -> its references (``None``: skip). Raises ``InputError``."""
        return read_overrides(self.overrides, self.analysis.shots) if self.overrides.exists() else {}

    def state(self) -> dict[str, Any]:
        """The whole board as JSON-ready data: shots (see :meth:`shot`) and the reference folder's picture names."""
        saved = self.saved()
        return {
            "film": self.film.name,
            "overrides": self.overrides.name,
            "refs": list(self.refs),
            "shots": [self._shot(i, saved) for i in range(len(self.analysis.shots))],
        }

    def shot(self, index: int) -> dict[str, Any]:
        """One shot: its time range, keyframe, chosen reference and score, whether skipped, its candidates."""
        return self._shot(self._index(index), self.saved())

    def _shot(self, index: int, saved: dict[int, tuple[Path, ...] | None]) -> dict[str, Any]:
        shot = self.analysis.shots[index]
        base = self.analysis.choices[index]
        choice = apply_overrides([base], saved)[0] if index in saved else base
        name = self._name(index, choice.path, choice.source)
        candidates: dict[str, dict[str, Any]] = {}  # by name: a shot's several colored keyframes are one candidate
        for c in self.previewer.candidates(index, self.candidates):
            n = self._name(index, c.path, c.source)
            candidates.setdefault(n, {"name": n, "score": c.score, "source": c.source, "preview": f"/preview/{index}/{quote(n, safe='')}"})
        return {
            "index": index,
            "start": str(shot.start),
            "end": str(shot.end),
            "frames": [shot.start_frame, shot.end_frame],
            "keyframe": f"/keyframe/{index}",
            "chosen": name,
            "score": choice.score,
            "source": choice.source,
            "skip": choice.source == "override" and choice.path is None,
            "candidates": list(candidates.values()),
        }

    def _name(self, index: int, path: Path | None, source: str) -> str | None:
        """How the page names a reference: ``keyframe`` for the shot's own colored keyframes, else its file name."""
        if path is None:
            return None
        keyframes = {p for p, _ in self.analysis.choices[index].keyframes}
        return KEYFRAME if source == "keyframe" or path in keyframes else path.name

    def choose(self, index: int, name: str) -> dict[str, Any]:
        """Make ``name`` (a picture of the reference folder, or ``keyframe``) shot ``index``'s reference; saved at once."""
        index = self._index(index)
        if name == KEYFRAME and self.analysis.choices[index].keyframe is not None:
            return self._save(index)  # the keyframe is the analysis' own choice: no entry needed
        return self._save(index, reference=self._ref(name))

    def skip(self, index: int, skip: bool) -> dict[str, Any]:
        """Leave shot ``index`` gray (``skip``) or give it back its chosen reference; saved at once."""
        return self._save(self._index(index), skip=True) if skip else self._save(self._index(index))

    def _save(self, index: int, **change: Any) -> dict[str, Any]:
        with self._lock:
            edit_override(self.overrides, self.analysis.shots, index, **change)
        return self.shot(index)

    def keyframe_jpeg(self, index: int) -> bytes:
        """The shot's keyframe, gray, as a JPEG ``THUMB_HEIGHT`` high."""
        index = self._index(index)
        return self._cached(("keyframe", str(index)), lambda: self.previewer.gray(index))

    def preview_jpeg(self, index: int, name: str) -> bytes:
        """The shot's keyframe colorized with ``name`` (a reference picture or ``keyframe``), as a JPEG."""
        index = self._index(index)
        choice = self.analysis.choices[index]
        if name == KEYFRAME and choice.keyframe is not None:
            path = choice.path
        else:
            path = self._ref(name)
        return self._cached(("preview", str(index), name), lambda: self.previewer.colorize(index, path))

    def ref_jpeg(self, name: str) -> bytes:
        """A picture of the reference folder as a JPEG thumbnail."""
        path = self._ref(name)
        return self._cached(("ref", name), lambda: (read_rgb(path).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))

    def _cached(self, key: tuple[str, ...], make: Any) -> bytes:
        if key not in self._jpegs:
            rgb = make()
            h, w = rgb.shape[:2]
            small = cv2.resize(rgb, (max(1, round(w * THUMB_HEIGHT / h)), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
            data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])[1]
            self._jpegs[key] = data.tobytes()
        return self._jpegs[key]

    def _index(self, index: int) -> int:
        if not 0 <= index < len(self.analysis.shots):
            raise LookupError(f"no shot {index}; the film has shots 0 to {len(self.analysis.shots) - 1}")
        return index

    def _ref(self, name: str) -> Path:
        """The reference folder's picture called ``name``: only names listed at start (no path is ever joined)."""
        if name not in self.refs:
            raise LookupError(f"no picture {name!r} in {self.ref_dir}")
        return self.refs[name]


