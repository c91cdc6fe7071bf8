"""``videocolor batch``: colorize many films into an output folder, resumable, with local or Ray workers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import interrupts_held
from .common import add_model_flags, add_reference_flags, add_workers_flag, guarded, settings_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videocolor batch",
        description="Colorize many films into --out-dir as <stem>_color<ext>. Run it again to resume: finished films "
        "are skipped, unfinished ones continue from their last finished shot segment.",
    )
    parser.add_argument("inputs", nargs="*", help="films, or folders of films")
    parser.add_argument("--list", dest="list_file", metavar="FILE", help="text file naming one film per line")
    add_reference_flags(parser)
    parser.add_argument("--out-dir", required=True, help="output folder (holds the job state and the report too)")
    parser.add_argument("--overrides-dir", help="folder of per-film override files named <stem>.toml")
    parser.add_argument("--cuts-dir", metavar="DIR", help="folder of per-film cut lists named <stem>.edl, .otio, .xml, .fcpxml or .txt, "
                        "used instead of detecting cuts (see --cuts of a single run); a film whose cut list does not fit it is refused")
    add_workers_flag(parser, "render films (their shot segments)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local", help="local processes or a Ray cluster (there --workers N: N tasks at once)")
    parser.add_argument("--ray-address", help="Ray cluster address (default: start or join a local Ray)")
    parser.add_argument("--retry-failed", action="store_true", help="try the films that failed before again")
    parser.add_argument("--overwrite", action="store_true", help="replace output files that this batch did not make")
    add_model_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    with interrupts_held():  # imports torch (seconds): not before the arguments are parsed
        from ..jobs import run_batch

    report = run_batch(
        args.inputs,
        out_dir=args.out_dir,
        list_file=args.list_file,
        ref=args.ref,
        ref_dir=args.ref_dir,
        overrides_dir=args.overrides_dir,
        cuts_dir=args.cuts_dir,
        settings=settings_from_args(args),
        engine=args.engine,
        workers=args.workers,
        ray_address=args.ray_address,
        retry_failed=args.retry_failed,
        overwrite=args.overwrite,
    )
    print(format_report(report))
    return 1 if report.failed else 0


def format_report(report) -> str:
    """The films of a report as an aligned table: status, frames, seconds, input, error."""
    rows = [("status", "frames", "seconds", "input", "error")]
    for film in report.films:
        seconds = f"{film.seconds:.1f}" if film.seconds is not None else "-"
        rows.append((str(film.status), str(film.frames or "-"), seconds, film.input, film.error or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    lines.append(f"{len(report.films) - len(report.failed)} of {len(report.films)} films done")
    return "\n".join(line.rstrip() for line in lines)
