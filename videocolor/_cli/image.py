"""``videocolor image INPUT... --ref IMAGE [-o OUT_OR_DIR]``: colorize still images."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import interrupts_held
from .common import add_model_flags, guarded, settings_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videocolor image",
        description="Colorize grayscale still images from one color reference.",
        epilog="example:\n  videocolor image scan1.png scan2.tif --ref color.jpg -o colored/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", help="grayscale (or faded color) images")
    parser.add_argument("--ref", required=True, help="the color reference image")
    parser.add_argument("-o", "--output", help="output file (one input) or existing folder (default: <stem>_color beside each input)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_model_flags(parser, video=False)
    return parser


def main(argv: Sequence[str]) -> int:
    return guarded(_run, build_parser().parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    with interrupts_held():  # imports torch (seconds): not before the arguments are parsed
        from ..api import colorize_image

    for path in colorize_image(args.inputs, args.ref, args.output, settings=settings_from_args(args), overwrite=args.overwrite):
        print(path)
    return 0
