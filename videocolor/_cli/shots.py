"""``videocolor shots``: analyse a film and show, save or template its per-shot reference choice."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError, interrupts_held
from .common import add_cuts_flag, guarded

ROW = 96  # contact sheet row height in pixels
ALL = 0  # --suggest-keyframes without N: every suggestion above the threshold (N itself is at least 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videocolor shots",
        description="Find the shots of a film and rank the reference pictures for each.",
    )
    parser.add_argument("input", help="the film to analyse, or numbered image frames (a pattern such as scans/f_%%06d.dpx, or their folder)")
    parser.add_argument("--fps", help="frame rate of an image sequence input, for the shot times (default 25)")
    parser.add_argument("--ref-dir", help="folder of color reference pictures (to rank them per shot)")
    parser.add_argument("--overrides", help="TOML file of per-shot overrides to apply")
    parser.add_argument("--json", action="store_true", help="print the shot table as JSON")
    parser.add_argument("--sheet", help="write a contact sheet PNG: keyframe beside chosen reference per shot")
    parser.add_argument("--write-overrides", metavar="FILE", help="write an override template listing every shot")
    parser.add_argument(
        "--export-keyframes", metavar="DIR", help="write each shot's keyframe as a gray PNG at full resolution, and keyframes.json, into DIR"
    )
    parser.add_argument(
        "--keyframes-at", metavar="FRAMES", help="with --export-keyframes: also export these frames, each as shot_SSSS_FFFFFF.png "
        "(comma-separated frame numbers from 0, timecodes HH:MM:SS:FF or seconds), to color several keyframes in a shot"
    )
    parser.add_argument(
        "--export-timeline", metavar="FILE", help="write the shots as a timeline for an editing application: .otio, .edl (CMX 3600), "
        ".xml (FCP 7) or .fcpxml, by extension: a clip per shot, a marker per keyframe"
    )
    parser.add_argument(
        "--suggest-keyframes", nargs="?", const=ALL, type=_count, metavar="N",
        help="list the frames to color: each shot's keyframe, then frames where the content changes enough that color "
        "carried from the others would fade (new content, camera moves), best first; N: at most N in all (at least one "
        "per shot). With --export-keyframes they are exported too",
    )
    add_cuts_flag(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing sheet, override file, timeline or keyframes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    return parser


def _count(text: str) -> int:
    """``--suggest-keyframes N``: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of keyframes (1 or more), got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    # These import torch (seconds): here, not at the top, so that ``videocolor shots --help`` answers at once.
    with interrupts_held():
        import torch

        from ..analysis.film import analyse
        from ..analysis.keyframes import film_frames
        from ..analysis.overrides import write_overrides
        from ..analysis.suggest import extra_frames, suggest_keyframes
        from ..checks import check_film, check_output, check_picture_output
        from ..colorist.editorial import check_timeline_output, export_timeline
        from ..colorist.keyframes import check_export_folder, export_keyframes, frames_at
        from ..io.sequence import FrameSequence
        from ..render.devices import apply_process_policy

    if args.quiet:
        logging.getLogger("videocolor").setLevel(logging.WARNING)
    only_shots = args.export_keyframes or args.export_timeline or args.suggest_keyframes is not None
    if args.ref_dir is None and (args.sheet or args.write_overrides or not only_shots):
        raise InputError("give --ref-dir to rank references (--sheet and --write-overrides need it), or only --export-keyframes DIR, "
                         "--export-timeline FILE or --suggest-keyframes")
    if args.keyframes_at is not None and not args.export_keyframes:
        raise InputError(f"--keyframes-at {args.keyframes_at}: give --export-keyframes DIR too (the frames are exported there)")
    film = check_film(args.input, args.fps)
    if args.sheet is not None:  # before the long analysis, not after
        check_output(check_picture_output(args.sheet, "the contact sheet"), [film], args.overwrite)
    if args.write_overrides is not None:
        check_output(args.write_overrides, [film], args.overwrite)
    if args.export_timeline is not None:
        check_output(check_timeline_output(args.export_timeline), [film], args.overwrite)
    if args.export_keyframes:
        check_export_folder(args.export_keyframes, args.overwrite)
        if isinstance(film, FrameSequence) and Path(args.export_keyframes).resolve() == film.pattern.parent.resolve():
            raise OutputError(f"{args.export_keyframes}: is the input scan's folder; export the keyframes into another")
    result = analyse(film, ref_dir=args.ref_dir, overrides=args.overrides, cuts=args.cuts, quiet=args.quiet)
    extra = frames_at(args.keyframes_at, result) if args.keyframes_at is not None else {}
    suggestions = None
    if args.suggest_keyframes is not None:
        count = None if args.suggest_keyframes == ALL else args.suggest_keyframes
        if count is not None and count < len(result.shots):
            raise InputError(f"{film}: --suggest-keyframes {count} is fewer than its {len(result.shots)} shots; give at least {len(result.shots)}")
        apply_process_policy(torch.device("cpu"))  # small tensors: a thread per core mostly spins (street_bikes: 4.6 s, 1.7 s with one)
        suggestions = suggest_keyframes(film, result.shots, result.keyframes, count=count, quiet=args.quiet)
        for shot, frames in extra_frames(suggestions).items():  # each shot's first suggestion is its keyframe, exported anyway
            extra.setdefault(shot, []).extend(frames)
    if args.json:
        rows = result.to_json()
        for row in rows if suggestions is not None else ():
            row["suggested"] = [
                {"frame": s.frame, "time": str(s.time), "reason": s.reason, "gain": round(s.gain, 2)} for s in suggestions if s.shot == row["index"]
            ]
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(result))
        if suggestions is not None:
            print(f"\n{len(suggestions)} suggested keyframes, best first after one per shot:\n{format_suggestions(suggestions)}")
    if args.sheet:
        write_sheet(args.sheet, result)
    if args.write_overrides:
        write_overrides(args.write_overrides, result.shots, result.choices)
    if args.export_timeline:
        export_timeline(film, result, args.export_timeline)
        print(f"{len(result.shots)} shots written to {args.export_timeline}")
    if args.export_keyframes:
        frames = film_frames(film, result.shots, result.keyframes, result.keyframe_images)
        done = export_keyframes(film, args.export_keyframes, result.shots, result.keyframes, extra=extra, overwrite=args.overwrite, film_frame=frames)
        kept = len(done.entries) - len(done.added)
        print(f"{len(done.added)} keyframes added to {args.export_keyframes}, {kept} already there kept" if kept else
              f"{len(done.added)} keyframes written to {args.export_keyframes}")
    return 0


def format_table(result) -> str:
    """The shot table as aligned text: shot, start, end, frames, reference, score, runner-up."""
    rows = [("shot", "start", "end", "frames", "reference", "score", "runner-up")]
    for shot, choice in zip(result.shots, result.choices):
        name = choice.path.name if choice.path else "(gray)"
        name += f" +{len(choice.keyframes) - 1} keyframes" if len(choice.keyframes) > 1 else ""
        score = f"{choice.score:.3f}" if choice.score is not None else choice.source
        others = [(p, s) for p, s in choice.candidates if p != choice.path]
        runner = f"{others[0][0].name} {others[0][1]:.3f}" if others else "-"
        rows.append((str(shot.index), str(shot.start), str(shot.end), str(shot.num_frames), name, score, runner))
    return _aligned(rows)


def format_suggestions(suggestions) -> str:
    """The suggested keyframes as aligned text: shot, frame, time, gain, reason."""
    rows = [("shot", "frame", "time", "gain", "reason")]
    rows += [(str(s.shot), str(s.frame), str(s.time), f"{s.gain:.1f}", s.reason) for s in suggestions]
    return _aligned(rows)


def _aligned(rows: list[tuple[str, ...]]) -> str:
    """Rows of cells as text in left-aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def write_sheet(path: str | Path, result) -> Path:
    """A PNG with one row per shot: its first keyframe, its chosen reference, timecode and score."""
    with interrupts_held():  # imports torch: see ``_run``
        from ..io.images import read_rgb

    path = Path(path)
    rows = []
    for shot, choice in zip(result.shots, result.choices):
        images = result.keyframe_images.get(shot.index)
        key = cv2.cvtColor(images[0], cv2.COLOR_GRAY2BGR) if images else np.zeros((ROW, ROW, 3), np.uint8)
        tiles = [_fit(key)]
        if choice.path is not None:
            try:
                rgb = read_rgb(choice.path).permute(1, 2, 0).numpy()
                tiles.append(_fit(np.ascontiguousarray((rgb[..., ::-1] * 255).round().astype(np.uint8))))
            except InputError:
                pass
        row = np.hstack(tiles)
        score = f"{choice.score:.3f}" if choice.score is not None else choice.source
        label = f"#{shot.index} {shot.start}  {choice.path.name if choice.path else 'gray'}  {score}"
        cv2.putText(row, label, (4, ROW - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(row, label, (4, ROW - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows])
    if not path.parent.is_dir() or not cv2.imwrite(str(path), sheet):
        raise OutputError(f"{path}: cannot write the contact sheet (folder missing or not a .png name)")
    return path


def _fit(bgr: np.ndarray) -> np.ndarray:
    """Resize a BGR picture to the row height, keeping its aspect."""
    h, w = bgr.shape[:2]
    return cv2.resize(bgr, (max(1, round(w * ROW / h)), ROW), interpolation=cv2.INTER_AREA)
