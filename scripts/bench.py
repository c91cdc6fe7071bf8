"""Benchmark: end-to-end colorization speed against a plain PyAV transcode, analysis speed, memory.

Every measurement runs in its own subprocess so its peak memory (RSS) is its own. Prints a markdown table.

    python scripts/bench.py                      # 640x360, 240 frames (10 s), CPU
    python scripts/bench.py --size 1920x1080 --device cuda
    python scripts/bench.py --devc-memory        # also: --model devc at 1920x1080 with release-shaped weights
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_clip(path: Path, size: tuple[int, int], frames: int) -> None:
    import synth

    photo = synth.load_photo("astronaut")
    half = frames // 2
    shots = synth.pan(photo, half, size) + synth.zoom(synth.load_photo("coffee"), frames - half, size)
    synth.write_clip(path, shots, fps=Fraction(24000, 1001))


def make_ref(path: Path) -> None:
    import torch

    import synth
    from videocolor.io.images import write_rgb

    photo = synth.load_photo("astronaut")[:, ::-1]
    write_rgb(path, torch.from_numpy(photo.copy()).permute(2, 0, 1).float() / 255)


def plain_transcode(src: Path, dst: Path, crf: int, preset: str) -> int:
    """Decode + RGB + encode with the same encoder settings and audio copy: the floor any tool pays."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        video = inp.streams.video[0]
        video.thread_type = "AUTO"
        enc = out.add_stream("libx264", rate=video.average_rate)
        enc.width, enc.height, enc.pix_fmt = video.width, video.height, "yuv420p"
        enc.time_base = enc.codec_context.time_base = video.time_base
        enc.options = {"crf": str(crf), "preset": preset}
        audio = out.add_stream_from_template(inp.streams.audio[0])
        frames = 0
        for packet in inp.demux():
            if packet.stream.type == "audio":
                if packet.size:
                    packet.stream = audio
                    out.mux(packet)
                continue
            for frame in packet.decode():
                rgb = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
                rgb.pts, rgb.time_base = frame.pts, video.time_base
                out.mux(enc.encode(rgb))
                frames += 1
        out.mux(enc.encode())
    return frames


def measure(task: dict) -> dict:
    """Run one task in this process (called in a subprocess) and return its numbers.

    The clock covers the work (model loading included), not Python's imports.
    """
    import av  # noqa: F401  (libraries are imported before the clock starts, for every task alike)

    from videocolor import Settings, colorize_video
    from videocolor.analysis import analyse

    src, work = Path(task["src"]), Path(task["work"])
    started = time.perf_counter()
    if task["kind"] == "transcode":
        frames = plain_transcode(src, work / "transcode.mp4", 18, "medium")
    elif task["kind"] == "analysis":
        frames = analyse(src, ref_dir=task["ref_dir"], quiet=True).num_frames
    else:
        settings = Settings(model=task["model"], temporal=task["temporal"], device=task["device"], quiet=True)
        frames = colorize_video(src, work / f"out_{task['name']}.mp4", ref=task["ref"], settings=settings, overwrite=True).frames
    seconds = time.perf_counter() - started
    return {"frames": frames, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(task: dict, env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--task", json.dumps(task)], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode:
        raise SystemExit(f"benchmark task {task['name']} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="640x360", help="WxH of the test clip")
    parser.add_argument("--frames", type=int, default=240, help="frames in the test clip (10 s at 23.976 fps)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="take the fastest of this many runs")
    parser.add_argument("--devc-memory", action="store_true", help="measure --model devc at 1920x1080 (fake weights)")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        print(json.dumps(measure(json.loads(args.task))))
        return
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src, ref, ref_dir = work / "clip.mp4", work / "refs" / "astronaut.png", work / "refs"
        ref_dir.mkdir()
        make_clip(src, (height, width), args.frames)
        make_ref(ref)
        base = {"src": str(src), "work": str(work), "ref": str(ref), "ref_dir": str(ref_dir), "device": args.device}
        tasks = [
            {**base, "name": "transcode", "kind": "transcode"},
            {**base, "name": "temporal-off", "kind": "colorize", "model": "exemplar", "temporal": "off"},
            {**base, "name": "temporal-dis", "kind": "colorize", "model": "exemplar", "temporal": "dis"},
            {**base, "name": "analysis", "kind": "analysis"},
        ]
        results = {}
        for task in tasks:
            runs = [run(task) for _ in range(args.repeats)]
            results[task["name"]] = min(runs, key=lambda r: r["seconds"])
        if args.devc_memory:
            results["devc-1080p"] = devc_memory(work, args.device)
    report(results, width, height, args.frames)


def devc_memory(work: Path, device: str) -> dict:
    """Render a short 1920x1080 clip with --model devc on release-shaped random weights; peak RSS."""
    sys.path.insert(0, str(ROOT / "tests"))
    from devc_fixtures import write_fake_devc_zip

    from videocolor import weights

    home = work / "home"
    env = {**os.environ, "VIDEOCOLOR_HOME": str(home)}
    os.environ["VIDEOCOLOR_HOME"] = str(home)
    weights.install("devc", write_fake_devc_zip(work / "devc.zip"))
    src = work / "clip1080.mp4"
    make_clip(src, (1080, 1920), 8)
    task = {"src": str(src), "work": str(work), "ref": str(work / "refs" / "astronaut.png"), "device": device,
            "name": "devc-1080p", "kind": "colorize", "model": "devc", "temporal": "dis"}
    return run(task, env)


def report(results: dict, width: int, height: int, frames: int) -> None:
    transcode = results["transcode"]["seconds"]
    fps_of = {name: r["frames"] / r["seconds"] for name, r in results.items()}
    print(f"\n{width}x{height}, {frames} frames, {os.cpu_count()} CPU cores, torch threads default\n")
    print("| run | frames | seconds | fps | x transcode time | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        ratio = r["seconds"] / transcode if name != "devc-1080p" else float("nan")
        print(f"| {name} | {r['frames']} | {r['seconds']:.2f} | {fps_of[name]:.1f} | {ratio:.2f} | {r['peak_rss_mb']:.0f} |")
    off, dis = results["temporal-off"]["seconds"], results["temporal-dis"]["seconds"]
    print(f"\nend-to-end ratio to plain transcode (target <= 6): {dis / transcode:.2f}")
    print(f"temporal stage cost (target <= 15%): {100 * (dis - off) / off:+.1f}%")
    print(f"analysis pass: {fps_of['analysis']:.0f} frames/s, {fps_of['analysis'] / (24000 / 1001):.1f}x real time")


if __name__ == "__main__":
    main()
