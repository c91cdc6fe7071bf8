"""The public API: what the command line calls, usable as is from a notebook.

>>> from videocolor import colorize_video, Settings
>>> colorize_video("film.mp4", ref_dir="refs/", settings=Settings(work_size=320))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from .config import Settings
from .errors import InputError, OutputError, require_file
from .io.images import is_image_file, load_reference, read_rgb, write_rgb
from .color import rgb_to_lightness
from .pipeline import RenderReport, colorize_lightness

log = logging.getLogger("videocolor")

PathLike = str | Path


def default_output(input_path: PathLike, suffix: str | None = None) -> Path:
    """``<input stem>_color<input ext>`` beside the input."""
    path = Path(input_path)
    return path.with_name(f"{path.stem}_color{suffix or path.suffix}")


def check_output(output: PathLike, inputs: Sequence[PathLike], overwrite: bool) -> Path:
    """Refuse to write over an input, into a missing folder, or over an existing file without ``overwrite``."""
    output = Path(output)
    for path in inputs:
        if output.resolve() == Path(path).resolve():
            raise OutputError(f"{output}: output path is the input file; choose another output")
    if not output.parent.is_dir():
        raise OutputError(f"{output}: output folder {output.parent} does not exist")
    if output.is_dir():
        raise OutputError(f"{output}: is a folder; give a file name")
    if output.exists() and not overwrite:
        raise OutputError(f"{output}: already exists; pass --overwrite to replace it")
    return output


def check_references(ref: PathLike | None, ref_dir: PathLike | None) -> None:
    """Exactly one of ``ref`` and ``ref_dir``; a single reference is loaded now so a bad one fails early."""
    if (ref is None) == (ref_dir is None):
        raise InputError("give exactly one of a reference image (--ref) or a reference folder (--ref-dir)")
    if ref is not None:
        load_reference(ref)
    else:
        folder = Path(ref_dir)
        if not folder.is_dir():
            raise InputError(f"{folder}: reference folder not found" if not folder.exists() else f"{folder}: not a folder")
        if not any(is_image_file(p) for p in folder.iterdir() if p.is_file()):
            raise InputError(f"{folder}: reference folder holds no images")


def colorize_video(
    input: PathLike,
    output: PathLike | None = None,
    *,
    ref: PathLike | None = None,
    ref_dir: PathLike | None = None,
    overrides: PathLike | None = None,
    settings: Settings | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> RenderReport:
    """Colorize a film: one reference for the whole film (``ref``) or the best of a folder per shot (``ref_dir``).

    The output (default ``<stem>_color<ext>`` beside the input) has the source's frames, pts, audio and other
    streams; it appears only when complete. The film is rendered shot segment by shot segment into
    ``.videocolor-work/<output name>/`` beside the output; ``resume`` continues an interrupted run from the
    segments already there (without it, such leftovers are discarded). Raises ``InputError``/``OutputError``/``DeviceError`` with a
    one-line message naming the file and the problem.
    """
    from .jobs import colorize_film
    from .models import resolve_device, resolve_model_name

    settings = settings or Settings()
    input = require_file(input, "a video file")
    output = check_output(output if output is not None else default_output(input), [input], overwrite)
    check_references(ref, ref_dir)
    resolve_device(settings.device)
    done = colorize_film(input, output, ref=ref, ref_dir=ref_dir, overrides=overrides, settings=settings, resume=resume)
    report = RenderReport(
        output=output,
        frames=done["frames"],
        seconds=done["seconds"],
        model=resolve_model_name(settings.model),
        shots=done["shots"],
        bad_packets=done["bad_packets"],
        gray_frames=done["gray_frames"],
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
    from .models import build_colorizer, resolve_device

    settings = settings or Settings()
    inputs = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    if not inputs:
        raise InputError("no input images given")
    targets = _image_targets(inputs, output, overwrite)
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


def _image_targets(inputs: list[Path], output: PathLike | None, overwrite: bool) -> list[Path]:
    if output is not None and Path(output).is_dir():
        targets = [Path(output) / f"{p.stem}_color{p.suffix}" for p in inputs]
    elif output is not None:
        if len(inputs) > 1:
            raise OutputError(f"{output}: several inputs need an existing output folder, not a file name")
        targets = [Path(output)]
    else:
        targets = [default_output(p) for p in inputs]
    for path in inputs:
        require_file(path, "an image")
    seen: set[Path] = set()
    for target in targets:
        if target.resolve() in seen:
            raise OutputError(f"{target}: two inputs would be written to the same output file")
        seen.add(target.resolve())
    return [check_output(t, inputs, overwrite) for t in targets]
