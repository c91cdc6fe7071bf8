"""``videocolor review FILM --ref-dir REFS [--keyframes DIR] [--overrides shots.toml] [--host H [--allow-remote]] [--port N]``: the review page."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import interrupts_held
from .common import add_cuts_flag, add_model_flags, guarded, settings_from_args


def _port(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text.strip()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (any free port) to 65535, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videocolor review",
        description="Serve a local page to review each shot's reference: previews of the top candidates, click to "
        "choose, skip, or pick any picture of the folder. Every change is saved at once to the override file.",
        epilog="example:\n  videocolor review film.mp4 --ref-dir refs/ --overrides shots.toml\n"
        "  then render with: videocolor film.mp4 --ref-dir refs/ --overrides shots.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="the film, or numbered image frames (a pattern such as scans/f_%%06d.dpx, or their folder)")
    parser.add_argument("--fps", help="frame rate of an image sequence input, for the shot times (default 25)")
    parser.add_argument("--ref-dir", required=True, help="folder of color reference pictures")
    parser.add_argument("--keyframes", metavar="DIR", help="keyframe folder (videocolor shots --export-keyframes), some colored")
    add_cuts_flag(parser)
    parser.add_argument("--overrides", help="the override file the choices go to (default: <film stem>_shots.toml beside the film, "
                        "<folder>_shots.toml beside a scan's folder)")
    parser.add_argument("--candidates", type=int, default=3, help="ranked references shown per shot (default 3)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; "
                        "another needs --allow-remote)")
    parser.add_argument("--allow-remote", action="store_true", help="serve a --host other than this machine's loopback: "
                        "anyone who can reach the port can then see the film and change the choices")
    parser.add_argument("--port", type=_port, default=8765, help="port (default 8765; 0 picks a free one)")
    add_model_flags(parser, video=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return guarded(_run, build_parser().parse_args(list(sys.argv[1:] if argv is None else argv)))


def _run(args: argparse.Namespace) -> int:
    # These import torch (seconds): here, not at the top, so that ``videocolor review --help`` answers at once.
    with interrupts_held():
        from ..checks import check_film
        from ..colorist.review import Board, check_address, make_server
        from ..colorist.review.board import default_overrides

    check_address(args.host, args.port, allow_remote=args.allow_remote)  # before the analysis (seconds)
    film = check_film(args.input, args.fps)
    overrides = Path(args.overrides) if args.overrides else default_overrides(film)
    settings = settings_from_args(args)
    board = Board(film, args.ref_dir, overrides, keyframes=args.keyframes, cuts=args.cuts, settings=settings, candidates=args.candidates)
    server = make_server(board, args.host, args.port, allow_remote=args.allow_remote)
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    print(f"review {args.input} at http://{host}:{port}/ (choices saved to {overrides}); Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # the way to stop it; every choice is already saved
        print("review stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
