"""Checks of paths and inputs, made before any work starts: each failure is one line naming the file.

The API, the jobs and the command line all check inputs and outputs here, so that a bad path fails the same
way (and before a long render) whichever door it came in by.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from .errors import InputError, OutputError
from .io.atomic import NOT_A_FILE
from .io.encode import read_back_problem
from .io.encoders import EncodeSettings
from .io.files import require_file
from .io.images import load_reference, reference_files
from .io.sequence import DEFAULT_RATE, FrameSequence, Source, find_sequence, is_pattern, parse_rate, pattern_problem

PathLike = str | Path

log = logging.getLogger("videocolor")


def check_film(input: PathLike | FrameSequence, fps: str | float | Fraction | None = None) -> Source:
    """The film ``input`` names: a video file, or an image sequence at ``fps`` frames per second (a pattern such
    as ``scans/frame_%06d.dpx``, or a folder holding one such pattern; see ``io.sequence.find_sequence``).

    ``fps`` is refused for a video file: a film keeps its own frame rate. A sequence without ``fps`` is timed at
    ``DEFAULT_RATE``, with a warning (its shot times depend on it, its frames do not). A ``FrameSequence`` (one
    this function returned) is the film itself, at ``fps`` when given.
    """
    if isinstance(input, FrameSequence):
        return input if fps is None else dataclasses.replace(input, rate=parse_rate(fps))
    path = Path(input)
    problem = pattern_problem(path)
    if problem:
        raise InputError(problem)
    if path.is_dir() or (is_pattern(path) and not path.is_file()):
        sequence = find_sequence(path, parse_rate(fps) if fps is not None else None)
        if fps is None:
            log.warning("%s: no --fps given; timed at %s fps (FFmpeg's default)", sequence, DEFAULT_RATE)
        return sequence
    path = require_file(path, "a video file")
    if fps is not None:
        raise InputError(f"{path}: --fps is for image sequences; a video file keeps its own frame rate")
    return path


def check_film_output(source: Source, output: PathLike, overwrite: bool, fps_given: bool) -> Path:
    """``check_output`` for a film; an image sequence output (a pattern such as ``out/frame_%06d.png``) goes into a
    new folder, which must not exist yet (never merged into, nor replaced). An image sequence without ``fps`` into a
    video file, whose speed depends on it, is refused."""
    output = Path(output)
    problem = pattern_problem(output)
    if problem:
        raise OutputError(problem)
    if isinstance(source, FrameSequence) and not fps_given and not is_pattern(output):
        raise InputError(f"{source}: an image sequence has no frame rate of its own; give --fps (e.g. 24, 18 or 24000/1001) for {output}")
    if not is_pattern(output):
        return check_output(output, [source], overwrite)
    if output.parent.exists():
        raise OutputError(f"{output.parent}: already exists; an image sequence is written into a new folder: remove it or choose another")
    if not output.parent.parent.is_dir():
        raise OutputError(f"{output}: folder {output.parent.parent} does not exist")
    return output


def default_output(source: Source | PathLike, encode: EncodeSettings | None = None, folder: PathLike | None = None) -> Path:
    """The default output of ``source``, the one naming rule of single runs, batches, images and sequences.

    A file gives ``<stem>_color<ext>`` and an image sequence ``<folder>_color/<same file pattern>``
    (``scans/f_%04d.dpx`` -> ``scans_color/f_%04d.dpx``), beside the source or in ``folder`` (a batch's out dir).
    A film (``encode`` given: the video encoding its output gets) is written as ``.mkv`` instead when its own
    container would not read back (``io.encode.read_back_problem``: raw ``.h264``, H.264 in ``.mpg``, ...), which
    Matroska does for every encoder FFmpeg has.
    """
    if isinstance(source, FrameSequence):
        scans = source.pattern.parent.absolute()
        return (Path(folder) if folder is not None else scans.parent) / f"{scans.name}_color" / source.pattern.name
    path = Path(source)
    suffix = path.suffix
    if encode is not None and (not suffix or read_back_problem(suffix.lower(), encode)):
        log.info("%s: writing the colorized film as .mkv (a %s file would not read back)", path, suffix or "raw")
        suffix = ".mkv"
    return (Path(folder) if folder is not None else path.parent) / f"{path.stem}_color{suffix}"


def check_output(output: PathLike, inputs: Sequence[PathLike | FrameSequence], overwrite: bool) -> Path:
    """Refuse to write over an input (a file, or any frame a film scan's pattern numbers), into a missing folder, or
    over an existing file without ``overwrite``."""
    output = Path(output)
    for path in inputs:
        if isinstance(path, FrameSequence) and path.names_a_frame(output):
            raise OutputError(f"{output}: would be a frame of the input scan {path}; choose another output")
        if not isinstance(path, FrameSequence) and output.resolve() == Path(path).resolve():
            raise OutputError(f"{output}: output path is the input file; choose another output")
    if not output.parent.is_dir():
        raise OutputError(f"{output}: output folder {output.parent} does not exist")
    if output.is_dir():
        raise OutputError(f"{output}: is a folder; give a file name")
    if output.exists() and not output.is_file():
        raise OutputError(f"{output}: {NOT_A_FILE}")
    if output.exists() and not overwrite:
        raise OutputError(f"{output}: already exists; pass --overwrite to replace it")
    return output


def check_picture_output(output: PathLike, what: str) -> Path:
    """``output`` as a ``Path`` when its extension names a picture format OpenCV writes, else an ``OutputError``
    naming it (``what``: "the preview sheet"); checked before any work, since the picture is written at the end."""
    import cv2  # here, not at the top: the command line's --help must not pay for it

    output = Path(output)
    try:
        writable = cv2.haveImageWriter(str(output))
    except cv2.error:  # a codec built in but switched off (OpenEXR before OpenCV 4.10 raises here)
        writable = False
    if not writable:
        raise OutputError(f"{output}: cannot write {what} as {output.suffix or 'a file without an extension'}; use .png, .jpg or .tif")
    return output


def check_image_outputs(inputs: list[Path], output: PathLike | None, overwrite: bool) -> list[Path]:
    """The output file of each input image: ``output`` itself (one input), inside ``output`` (an existing folder),
    or ``default_output`` beside each input; every input must exist and no two may share an output."""
    if output is not None and Path(output).is_dir():
        targets = [default_output(p, folder=output) for p in inputs]
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
    return [check_output(check_picture_output(t, "a picture"), inputs, overwrite) for t in targets]


def check_references(ref: PathLike | None, ref_dir: PathLike | None, keyframes: PathLike | None = None) -> None:
    """Exactly one of ``ref`` and ``ref_dir`` (at most one with ``keyframes``); a single reference is loaded now."""
    if ref is not None and ref_dir is not None or ref is None and ref_dir is None and keyframes is None:
        raise InputError("give exactly one of a reference image (--ref) or a reference folder (--ref-dir)")
    if ref is None and ref_dir is None:
        return
    if ref is not None:
        load_reference(ref)
    else:
        folder = Path(ref_dir)
        if not folder.is_dir():
            raise InputError(f"{folder}: reference folder not found" if not folder.exists() else f"{folder}: not a folder")
        if not reference_files(folder):
            raise InputError(f"{folder}: reference folder holds no images")
