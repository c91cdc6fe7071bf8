"""The public API: what the command line calls, usable as is from a notebook.

>>> from videocolor import colorize_video, Settings
>>> settings = Settings().replace_section("exemplar", work_size=320)
>>> colorize_video("film.mp4", ref_dir="refs/", settings=settings)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from .analysis.cuts import check_cuts
from .checks import PathLike, check_film, check_film_output, check_image_outputs, check_references, default_output
from .config import Settings
from .errors import InputError
from .io.images import load_reference, read_rgb, write_rgb
from .jobs.film import colorize_film
from .models.build import build_colorizer, resolve_device
from .ops.color import rgb_to_lightness
from .render.colorize import colorize_lightness

log = logging.getLogger("videocolor")


@dataclass
class RenderReport:
    """What ``colorize_video`` did: the output, how many frames, how long, and what was lost; ``segments``: the runs
    of whole shots it was rendered in (the most worker processes it could use).

    ``stage_seconds``: where the time went, in seconds per stage (``render.timings.STAGES``: the analysis pass,
    the render's stages summed over threads that overlap, so more than ``seconds`` in all, and the mux).
    """

    output: Path
    frames: int
    seconds: float
    model: str
    shots: int
    segments: int = 1
    bad_packets: int = 0
    gray_frames: int = 0
    notes: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: every field, the output as a string, and ``fps``."""
        return {**asdict(self), "output": str(self.output), "fps": self.fps}


def colorize_video(
    input: PathLike,
    output: PathLike | None = None,
    *,
    ref: PathLike | None = None,
    ref_dir: PathLike | None = None,
    overrides: PathLike | None = None,
    keyframes: PathLike | None = None,
    cuts: PathLike | None = None,
    settings: Settings | None = None,
    overwrite: bool = False,
    resume: bool = False,
    fps: str | float | Fraction | None = None,
    workers: int | None = None,
) -> RenderReport:
    """Colorize a film: one reference for the whole film (``ref``) or the best of a folder per shot (``ref_dir``).

    ``keyframes``: a folder of ``videocolor.colorist.keyframes.export_keyframes``, some of its pictures colored by a
    colorist: each such shot is colored from its colored keyframes (exact at each, propagated through the shot); the
    others fall back to ``ref``/``ref_dir`` or stay gray. ``cuts``: the film's cuts from an editor's timeline (an EDL,
    OTIO or FCP XML file) or a plain list (``videocolor.analysis.cuts``) instead of detection, checked before the render.

    The output (default ``<stem>_color<ext>`` beside the input, ``.mkv`` when that container would not read
    back) has the source's frames, pts, audio and other
    streams; it appears only when complete.

    ``input`` may be a film scan as numbered images: a pattern (``scans/frame_%06d.dpx``) or a folder holding one,
    at ``fps`` (``24``, ``"24000/1001"``, ``"23.976"``). An ``output`` pattern (``out/frame_%06d.png``) writes an
    image sequence into a new folder, renamed into place when complete; a sequence's default output is one in
    ``<folder>_color/``, same names and numbers, at the source's bit depth where the format allows. The film is rendered shot segment by shot segment into
    ``.videocolor-work/<output name>/`` beside the output; ``resume`` continues an interrupted run from the
    segments already there (without it, such leftovers are discarded). ``workers``: local processes rendering the
    segments side by side (default ``jobs.engines.default_workers``, from the cores and GPUs), the output the same
    as from one; a segment is a run of whole shots, so a film of one shot takes one worker. Raises
    ``InputError``/``OutputError``/``DeviceError`` with a one-line message naming the file and the problem.
    """
    settings = settings or Settings()
    input = check_film(input, fps)
    device = resolve_device(settings.device)
    if output is None:
        output = default_output(input, settings.encoding(gpu=device.type == "cuda"))
    output = check_film_output(input, output, overwrite, fps is not None)
    check_references(ref, ref_dir, keyframes)
    if cuts is not None:
        check_cuts(input, cuts)
    done = colorize_film(
        input, output, ref=ref, ref_dir=ref_dir, overrides=overrides, settings=settings, resume=resume, keyframes=keyframes, cuts=cuts,
        workers=workers,
    )
    report = RenderReport(
        output=output,
        frames=done.frames,
        seconds=done.seconds,
        model=done.model,
        shots=done.shots,
        segments=done.segments,
        bad_packets=done.bad_packets,
        gray_frames=done.gray_frames,
        stage_seconds=done.stage_seconds,
    )
    if report.bad_packets:
        note = f"{input}: {report.bad_packets} corrupt packet(s) could not be decoded; their frames are missing"
        log.warning(note)
        report.notes.append(note)
    log.info("%s: %d frames, %d shots, %.1f fps (%s)", output, report.frames, report.shots, report.fps, report.model)
    if report.gray_frames:
        log.warning("%s: %d frame(s) left gray (shots skipped or without a reference)", output, report.gray_frames)
    return report


def colorize_image(
    inputs: PathLike | Sequence[PathLike],
    ref: PathLike,
    output: PathLike | None = None,
    *,
    settings: Settings | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Colorize still images against one reference (the paper's core, for stills).

    ``output``: a file (one input only), an existing folder (``<stem>_color<ext>`` inside), or ``None``
    (``<stem>_color<ext>`` beside each input). Returns the written paths.
    """
    settings = settings or Settings()
    inputs = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    if not inputs:
        raise InputError("no input images given")
    targets = check_image_outputs(inputs, output, overwrite)
    reference_rgb = load_reference(ref)
    device = resolve_device(settings.device)
    colorizer = build_colorizer(settings, device)
    reference = colorizer.prepare_reference(reference_rgb)
    for path, target in zip(inputs, targets):  # one image in memory at a time
        colorizer.reset()
        lightness = rgb_to_lightness(read_rgb(path).to(device)[None])
        rgb = next(colorize_lightness(colorizer, lightness, reference))
        write_rgb(target, torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    return targets

