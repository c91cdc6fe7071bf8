"""Flags and error handling shared by the command-line front ends."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable

from ..config import CORES_PER_WORKER, DEVICES, MODELS, TEMPORAL, Settings, load_settings
from ..errors import INTERRUPTED, InputError, VideocolorError, interrupts_held, one_line

log = logging.getLogger("videocolor")


def add_reference_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--ref", help="one color reference image for the whole film")
    group.add_argument("--ref-dir", help="folder of color reference images; the best is chosen per shot")
    parser.add_argument("--refs-per-shot", type=int, help="with --ref-dir: fuse each shot's N best references per pixel (default: 3)")


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_workers_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers N``: local worker processes (``jobs.engines.default_workers`` decides the default)."""
    parser.add_argument("--workers", type=positive, metavar="N", help=f"{what} in N local worker processes side by side "
                        f"(default: one per GPU; on a CPU, one per {CORES_PER_WORKER} cores, at least 1)")


def add_cuts_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cuts", metavar="FILE", help="take the film's cuts from FILE instead of detecting them: an .edl (CMX 3600), .otio, .xml (FCP 7) "
        "or .fcpxml timeline, or a text list of cut frames or timecodes, one a line; it must fit the film"
    )


def add_model_flags(parser: argparse.ArgumentParser, video: bool = True) -> None:
    parser.add_argument("--model", choices=MODELS, help="colorization model (default: auto)")
    parser.add_argument("--device", help=f"compute device: {', '.join(DEVICES)} or cuda:N (default: auto)")
    parser.add_argument("--work-size", type=int, help="long side, in pixels, at which chroma is predicted (exemplar model)")
    if video:
        parser.add_argument("--batch-size", type=int, help="frames per forward pass")
    if video:
        parser.add_argument("--temporal", choices=TEMPORAL, help="temporal smoothing of colors (default: dis)")
        parser.add_argument("--carry", type=int, metavar="N", help="carry at most N frames in a row along the optical flow "
                            "instead of colorizing them, where the flow keeps track; 0 colorizes every frame (default: 2)")
    parser.add_argument("--config", help="TOML settings file (see configs/default.toml); flags override it")
    parser.add_argument("--quiet", action="store_true", default=None, help="no progress bar or messages")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Library defaults, overridden by ``--config``, overridden by explicit flags."""
    settings = load_settings(args.config)
    flags = {
        "model": args.model,
        "device": args.device,
        "batch_size": getattr(args, "batch_size", None),
        "temporal": getattr(args, "temporal", None),
        "carry": getattr(args, "carry", None),
        "refs_per_shot": getattr(args, "refs_per_shot", None),
        "quiet": args.quiet,
        "work_size": args.work_size,
    }
    for key, value in flags.items():
        if value is None:
            continue
        try:
            settings = settings.replace_section("exemplar", work_size=value) if key == "work_size" else settings.replace(**{key: value})
        except InputError as exc:  # named by its flag: the config file is not to blame
            raise InputError(f"--{key.replace('_', '-')} {value}: {exc}") from None
    if settings.quiet:
        logging.getLogger("videocolor").setLevel(logging.WARNING)
    return settings


def guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; a videocolor error becomes one line on stderr and exit 2, Ctrl-C exit 130."""
    with interrupts_held():  # here, not at import: Ctrl-C while the command line loads must meet cli.main's handler
        import av

    try:
        return func(args)
    except VideocolorError as exc:
        print(f"videocolor: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error, av.FFmpegError) as exc:  # the file system, the job database or FFmpeg
        log.debug("details", exc_info=exc)
        print(f"videocolor: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupted()


def interrupted() -> int:
    """Ctrl-C: one line and exit code 130 (partial files are removed by the code that wrote them)."""
    print(INTERRUPTED, file=sys.stderr)
    return 130
