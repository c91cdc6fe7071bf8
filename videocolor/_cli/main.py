"""Command-line front: parses flags and calls the library. No argparse object reaches library code.

``videocolor INPUT --ref-dir DIR`` colorizes a film; the other commands (``image``, ``shots``,
``weights``, ``batch``, ``status``) live in ``videocolor/_cli/`` and are dispatched by their first word.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .._version import __version__
from ..errors import OutputError, interrupts_held
from .common import add_cuts_flag, add_model_flags, add_reference_flags, add_workers_flag, guarded, interrupted, settings_from_args

SUBCOMMANDS = {
    "image": "Colorize still images against a reference.",
    "shots": "Analyse a film: cuts, per-shot reference ranking, contact sheet, override template.",
    "weights": "Download, install and list model weights.",
    "batch": "Colorize many films into an output folder, resumable.",
    "status": "Show the progress of a batch output folder.",
    "preview": "Colorize shots' keyframes with their top candidate references, side by side.",
    "review": "Review and choose each shot's reference in the browser; choices go to an override file.",
}

EXAMPLES = """examples:
  videocolor film.mp4 --ref-dir refs/                 writes film_color.mp4 beside film.mp4
  videocolor film.mp4 --ref still.jpg -o out.mkv      one reference for the whole film
  videocolor film.mp4 --ref-dir refs/ --overrides shots.toml
  videocolor shots film.mp4 --export-keyframes keys/  then color keys/shot_*.png by hand, and:
  videocolor film.mp4 --keyframes keys/ --ref-dir refs/
  videocolor preview film.mp4 --ref-dir refs/ --shots 3,7-9 -o sheet.png
  videocolor review film.mp4 --ref-dir refs/ --overrides shots.toml
  videocolor image photo.png --ref color.jpg -o colored/
  videocolor shots film.mp4 --ref-dir refs/ --sheet sheet.png --write-overrides shots.toml
  videocolor film.mp4 --ref-dir refs/ --resume        continue a run that was interrupted
  videocolor film.mp4 --ref-dir refs/ --workers 4     render its shot segments in 4 processes
  videocolor scans/frame_%06d.dpx --fps 24 --ref-dir refs/   writes scans_color/frame_%06d.dpx
  videocolor scans/ --fps 24000/1001 --ref-dir refs/ -o film.mov
  videocolor batch films/ --ref-dir refs/ --out-dir colored/ --workers 2
  videocolor status colored/

commands:
""" + "\n".join(f"  {name:<8} {text}" for name, text in SUBCOMMANDS.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videocolor",
        description="Colorize a grayscale film from color reference pictures (exemplar-based colorization).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"videocolor {__version__}")
    parser.add_argument("input", help="the film to colorize (any container/codec FFmpeg reads), or a film scan as numbered "
                        "DPX/TIFF/PNG/EXR frames: a pattern such as scans/frame_%%06d.dpx, or their folder")
    parser.add_argument("-o", "--output", help="output file, or an image sequence pattern such as out/frame_%%06d.png "
                        "(default: <input stem>_color<input ext> beside the input; for an image sequence, <folder>_color/)")
    parser.add_argument("--fps", help="frame rate of an image sequence input: 24, 18, 24000/1001 or 23.976 (= 24000/1001); "
                        "default 25 (FFmpeg's), and required for a video output")
    add_reference_flags(parser, required=False)
    parser.add_argument("--keyframes", metavar="DIR", help="folder of keyframes (videocolor shots --export-keyframes), some colored by hand")
    parser.add_argument("--overrides", help="TOML file of per-shot reference overrides")
    add_cuts_flag(parser)
    add_model_flags(parser)
    add_workers_flag(parser, "render the film's shot segments (runs of whole shots)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run from its finished shot segments")
    parser.add_argument("--report", metavar="FILE.json", help="write what the render did as JSON: frames, shots, seconds, "
                        "seconds per stage (decode, model, upsample, encode, ...), corrupt packets, frames left gray")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        # Our messages from INFO up; other libraries' (torch's exit-time counters, say) only from WARNING up.
        logging.basicConfig(format="videocolor: %(message)s", level=logging.WARNING)
        logging.getLogger("videocolor").setLevel(logging.INFO)
        if argv and argv[0] in SUBCOMMANDS:
            with interrupts_held():
                module = importlib.import_module(f"videocolor._cli.{argv[0]}")
            return module.main(argv[1:])
        args = build_parser().parse_args(argv)
        return guarded(_colorize, args)
    except KeyboardInterrupt:  # Ctrl-C before a command's own handler is in place (e.g. while torch imports)
        return interrupted()


def _colorize(args: argparse.Namespace) -> int:
    with interrupts_held():  # imports torch (seconds): ``--help`` and ``--version`` answer without it
        from ..api import colorize_video
        from ..checks import check_output
        from ..io.atomic import write_atomic

    settings = settings_from_args(args)
    if args.report:  # checked before the render: a report that cannot be written must not cost one
        check_output(args.report, [args.input, *filter(None, (args.ref, args.overrides, args.cuts))], args.overwrite)
        if args.output and Path(args.report).resolve() == Path(args.output).resolve():
            raise OutputError(f"{args.report}: the report would replace the film's output; choose another name")
    report = colorize_video(
        args.input,
        args.output,
        ref=args.ref,
        ref_dir=args.ref_dir,
        overrides=args.overrides,
        keyframes=args.keyframes,
        cuts=args.cuts,
        settings=settings,
        overwrite=args.overwrite,
        resume=args.resume,
        fps=args.fps,
        workers=args.workers,
    )
    if args.report:
        write_atomic(args.report, json.dumps(report.to_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
