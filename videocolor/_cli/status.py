"""``videocolor status OUT_DIR``: progress of a batch (films done/failed/pending, segments, ETA)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..jobs import STATE_NAME, State, progress
from .batch import format_report
from .common import guarded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videocolor status", description="Show the progress of a batch output folder.")
    parser.add_argument("out_dir", help="the --out-dir of a batch")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    path = Path(args.out_dir) / STATE_NAME
    if not path.is_file():
        raise InputError(f"{args.out_dir}: no batch here ({STATE_NAME} not found)")
    done = progress(State(path, readonly=True))
    print(format_report(done.report))
    eta = f", ETA {done.eta_seconds / 60:.1f} min" if done.eta_seconds is not None else ""
    print(f"films done {done.films_done}, films failed {done.films_failed}, films pending {done.films_pending}, "
          f"segments done {done.segments_done}, segments {done.segments}{eta}")
    return 0
