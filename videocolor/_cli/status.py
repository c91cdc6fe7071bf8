"""``videocolor status OUT_DIR``: progress of a batch (films done/failed/pending, segments, ETA)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from .common import guarded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videocolor status", description="Show the progress of a batch output folder.")
    parser.add_argument("out_dir", help="the --out-dir of a batch")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    from ..jobs import STATE_NAME, progress
    from ..jobs.state import State
    from .batch import format_report

    path = Path(args.out_dir) / STATE_NAME
    if not path.is_file():
        raise InputError(f"{args.out_dir}: no batch here ({STATE_NAME} not found)")
    state = State(path)
    summary = progress(state)
    print(format_report(summary.pop("report")))
    eta = summary.pop("eta_seconds")
    print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.items()) + (f", ETA {eta / 60:.1f} min" if eta is not None else ""))
    return 0
