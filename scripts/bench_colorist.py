"""Time the colorist's tools: ``videocolor preview`` (3 shots x 3 candidates at 640x360, start-up included) and
the review page's answer to every request of its board once previews are cached.

The film is three real photos filmed as a pan, a zoom and a pan (25 frames each, 640x360); the references are
the pictures of ``samples/refs``. Usage: ``python scripts/bench_colorist.py [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from videocolor import Settings
from videocolor.colorist.review import Board, make_server
from videocolor.evaluation import synthetic as synth

SIZE = (360, 640)
REFS = Path(__file__).resolve().parent.parent / "samples" / "refs"


def make_film(folder: Path) -> tuple[Path, Path]:
    photos = synth.load_photo
    frames = synth.pan(photos("astronaut"), 25, SIZE) + synth.zoom(photos("chelsea"), 25, SIZE) + synth.pan(photos("coffee"), 25, SIZE)
    refs = folder / "refs"
    shutil.copytree(REFS, refs)
    return synth.write_clip(folder / "film.mp4", frames, audio_seconds=0), refs


def time_preview(film: Path, refs: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each ``videocolor preview`` run (a fresh process each, as a user runs it).

    On a machine shared with other work the wall time grows with the load; the CPU time does not.
    """
    command = [sys.executable, "-m", "videocolor._cli.main", "preview", str(film), "--ref-dir", str(refs), "--shots", "0-2",
               "--candidates", "3", "-o", str(film.with_name("sheet.png")), "--overwrite", "--quiet"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # indexes the reference folder once, as the first run on a folder does
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall, cpu


def time_board(film: Path, refs: Path, rounds: int) -> dict[str, list[float]]:
    """Seconds per request of the board's page, JSON and pictures, after one round that fills the caches."""
    board = Board(film, refs, film.with_name("shots.toml"), settings=Settings(quiet=True))
    server = make_server(board, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        token = {"X-Videocolor-Token": server.token}  # what the page sends
        state = json.loads(urllib.request.urlopen(urllib.request.Request(f"{url}/api/board", headers=token)).read())
        paths = ["/", "/api/board"] + [s["keyframe"] for s in state["shots"]]
        paths += [c["preview"] for s in state["shots"] for c in s["candidates"]] + [f"/ref/{n}" for n in state["refs"]]
        times: dict[str, list[float]] = {p: [] for p in paths}
        for round_ in range(rounds + 1):
            for path in paths:
                started = time.perf_counter()
                urllib.request.urlopen(urllib.request.Request(url + path, headers=token)).read()
                if round_:  # the first round computes the previews
                    times[path].append(time.perf_counter() - started)
        return times
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="preview runs and board rounds (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        film, refs = make_film(Path(tmp))
        preview, cpu = time_preview(film, refs, args.runs)
        board = time_board(film, refs, args.runs)
    every = [t for ts in board.values() for t in ts]
    print(f"preview, 3 shots x 3 candidates at {SIZE[1]}x{SIZE[0]}, start-up included: "
          f"wall median {statistics.median(preview):.1f} s (max {max(preview):.1f} s), CPU median {statistics.median(cpu):.1f} s "
          f"over {args.runs} runs; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"review board, {len(board)} requests x {args.runs} rounds, previews cached: "
          f"median {1000 * statistics.median(every):.1f} ms, max {1000 * max(every):.1f} ms "
          f"(slowest: {max(board, key=lambda p: max(board[p]))})")


if __name__ == "__main__":
    main()
