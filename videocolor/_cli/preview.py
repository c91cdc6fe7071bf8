"""``videocolor preview FILM [--fps RATE] (--ref-dir REFS | --keyframes DIR) [--shots 3,7-9] -o sheet.png``: candidate previews."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import interrupts_held
from .common import add_cuts_flag, add_model_flags, guarded, settings_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videocolor preview",
        description="Colorize each requested shot's keyframe with its top candidate references, side by side, in one picture.",
        epilog="example:\n  videocolor preview film.mp4 --ref-dir refs/ --shots 3,7-9 --candidates 3 -o sheet.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="the film, or numbered image frames (a pattern such as scans/f_%%06d.dpx, or their folder)")
    parser.add_argument("--fps", help="frame rate of an image sequence input, for the shot times (default 25)")
    parser.add_argument("--ref-dir", help="folder of color reference pictures, ranked per shot")
    parser.add_argument("--keyframes", metavar="DIR", help="keyframe folder (videocolor shots --export-keyframes), some colored")
    add_cuts_flag(parser)
    parser.add_argument("--shots", help="shots to preview, e.g. 3,7-9 (default: all)")
    parser.add_argument("--candidates", type=int, default=3, help="ranked references per shot (default 3)")
    parser.add_argument("-o", "--output", required=True, help="the picture to write (.png or .jpg)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing picture")
    add_model_flags(parser, video=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return guarded(_run, build_parser().parse_args(list(sys.argv[1:] if argv is None else argv)))


def _run(args: argparse.Namespace) -> int:
    # These import torch (seconds): here, not at the top, so that ``videocolor preview --help`` answers at once.
    with interrupts_held():
        from ..checks import check_film, check_output, check_picture_output
        from ..colorist.preview import parse_shots, preview_sheet
        from ..errors import InputError

    if args.ref_dir is None and args.keyframes is None:
        raise InputError("give --ref-dir (references to rank), --keyframes (colored keyframes), or both")
    if args.candidates < 0:
        raise InputError(f"--candidates must be 0 or more, got {args.candidates}")
    shots = parse_shots(args.shots) if args.shots else None
    film = check_film(args.input, args.fps)
    check_output(check_picture_output(args.output, "the preview sheet"), [film], args.overwrite)
    settings = settings_from_args(args)
    sheet = preview_sheet(film, args.output, ref_dir=args.ref_dir, keyframes=args.keyframes, cuts=args.cuts, shots=shots,
                          candidates=args.candidates, settings=settings)
    print(sheet)
    return 0
