"""Benchmark: whole `videocolor` processes against a plain PyAV transcode, per kind of content.

Every figure is a whole process (imports, model loading, analysis, render, mux), run in pairs with the
transcode (ours, transcode, ours, transcode, ...) so that a machine whose speed drifts still gives a fair
ratio; the table quotes the median of the per-pair ratios. Rows: a montage of camera pans over photos, a
zoom, a static shot, the real street film of the evaluation set when present, the zoom at 1920x1080, and
each zoom again "model-free": the same render with the colorizer replaced by a zero-cost stand-in, the most
any device could reach with an infinitely fast model. Start-up (a 1-frame film) is shown separately, as are
the analysis pass and, with ``--memory``, peak memory at two film lengths. A second table gives each row's
seconds per stage (``videocolor --report``: the render's threads overlap, so the stages add up to more than
the wall time; the thread that waits least is the bottleneck).

    python scripts/bench.py                                  # CPU, 640x360, 240 frames per row
    python scripts/bench.py --device cuda --size 1920x1080   # GPU: fps and ratio on the same machine
    python scripts/bench.py --memory                         # peak RSS (and GPU memory) at 1x and 3x the length
    python scripts/bench.py --devc-memory                    # --model devc at 1920x1080, release-shaped weights
    python scripts/bench.py --rows zoom,zoom-free --repeats 1  # one row and its model-free twin, quickly
    python scripts/bench.py --rows pans --workers 2          # a film's segments in 2 worker processes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FPS = Fraction(24000, 1001)
PAN_PHOTOS = ("astronaut", "coffee", "china", "chelsea", "rocket", "flower")
ROWS = ("pans", "zoom", "static", "street", "zoom-free", "zoom-1080", "zoom-1080-free")


def make_clip(kind: str, path: Path, size: tuple[int, int], frames: int) -> Path:
    """A gray test film of ``frames`` frames at ``size`` (H, W): ``pans`` (six shots), ``zoom`` or ``static``."""
    from videocolor.evaluation import synthetic as synth

    if kind == "pans":
        per_shot = -(-frames // len(PAN_PHOTOS))
        shots = [f for name in PAN_PHOTOS for f in synth.pan(synth.load_photo(name), per_shot, size)][:frames]
    elif kind == "zoom":
        shots = synth.zoom(synth.load_photo("coffee"), frames, size)
    else:
        shots = [synth.still(synth.load_photo("china"), size)] * frames
    return synth.write_clip(path, shots, fps=FPS)


def make_ref(path: Path) -> Path:
    """The astronaut photo mirrored: another view of the first shot's scene."""
    import torch

    from videocolor.evaluation import synthetic as synth
    from videocolor.io.images import write_rgb

    photo = synth.load_photo("astronaut")[:, ::-1]
    write_rgb(path, torch.from_numpy(photo.copy()).permute(2, 0, 1).float() / 255)
    return path


def film_frame(film: Path, path: Path) -> Path:
    """The middle frame of a color film, as the reference of its row."""
    import cv2

    from videocolor.evaluation.protocol import read_frames

    frames = read_frames(film)[0]
    cv2.imwrite(str(path), cv2.cvtColor(frames[len(frames) // 2], cv2.COLOR_RGB2BGR))
    return path


def plain_transcode(src: Path, dst: Path, crf: int = 18, preset: str = "medium") -> int:
    """Decode + RGB + encode with the same encoder settings and audio copy: the floor any tool pays."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        video = inp.streams.video[0]
        video.thread_type = "AUTO"
        enc = out.add_stream("libx264", rate=video.average_rate)
        enc.width, enc.height, enc.pix_fmt = video.width, video.height, "yuv420p"
        enc.time_base = enc.codec_context.time_base = video.time_base
        enc.options = {"crf": str(crf), "preset": preset}
        audio = out.add_stream_from_template(inp.streams.audio[0]) if inp.streams.audio else None
        frames = 0
        for packet in inp.demux():
            if packet.stream.type == "audio":
                if packet.size and audio is not None:
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


def timed(command: list[str], log: Path) -> dict:
    """Run a whole process; its wall seconds, CPU seconds (user + system) and peak RSS, from the kernel."""
    with log.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{log.read_text()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def count_frames(film: Path) -> int:
    import av

    with av.open(str(film)) as container:
        return sum(1 for _ in container.decode(video=0))


def ours_command(film: Path, ref: Path, out: Path, args: argparse.Namespace, config: Path | None, model_free: bool = False) -> list[str]:
    """The ``videocolor`` command of a row; ``model_free``: run through ``--model-free`` (this script, zero-cost colorizer)."""
    entry = [__file__, "--model-free"] if model_free else ["-m", "videocolor._cli.main"]
    command = [sys.executable, *entry, str(film), "--ref", str(ref), "-o", str(out), "--report", str(out.with_suffix(".json"))]
    command += ["--overwrite", "--quiet", "--device", args.device]
    command += ["--temporal", args.temporal] if args.temporal else []
    command += ["--workers", str(args.workers)] if args.workers else []
    return command + (["--config", str(config)] if config else [])


def run_model_free(argv: list[str]) -> int:
    """``videocolor`` with the colorizer's model replaced by zeros (gray chroma, full confidence): every other
    stage runs as it does for real, so the time left is what the work around the model costs."""
    import torch

    from videocolor._cli.main import main as videocolor_main
    from videocolor.models.exemplar import ExemplarColorizer

    def zero_cost(self, lightness: torch.Tensor, reference: object) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = lightness.shape
        return lightness.new_zeros(b, 2, h, w), lightness.new_ones(b, 1, h, w)

    ExemplarColorizer.colorize = zero_cost
    return videocolor_main(argv)


def pairs(film: Path, ref: Path, work: Path, args: argparse.Namespace, config: Path | None, model_free: bool = False) -> dict:
    """``args.repeats`` interleaved (ours, transcode) pairs after ``args.warmup`` uncounted ones; medians and ratios."""
    ours = ours_command(film, ref, work / "ours.mp4", args, config, model_free)
    transcode = [sys.executable, __file__, "--transcode", str(film), str(work / "transcode.mp4")]
    runs = {"ours": [], "transcode": []}
    stages = []
    for i in range(args.warmup + args.repeats):
        for name, command in (("ours", ours), ("transcode", transcode)):
            result = timed(command, work / "stderr.txt")
            if i >= args.warmup:
                runs[name].append(result)
                if name == "ours":
                    stages.append(json.loads((work / "ours.json").read_text())["stage_seconds"])
    ratios = [a["wall"] / b["wall"] for a, b in zip(runs["ours"], runs["transcode"])]
    cpu_ratios = [a["cpu"] / b["cpu"] for a, b in zip(runs["ours"], runs["transcode"])]
    median = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    return {
        "ours_s": median(runs["ours"], "wall"),
        "transcode_s": median(runs["transcode"], "wall"),
        "ratio": statistics.median(ratios),
        "ratio_range": (min(ratios), max(ratios)),
        "cpu_ratio": statistics.median(cpu_ratios),
        "rss_mb": max(r["rss_mb"] for r in runs["ours"]),
        "frames": count_frames(film),
        "stages": {stage: statistics.median(s[stage] for s in stages) for stage in stages[0]},
    }


def measure(task: dict) -> dict:
    """In this process (a subprocess of the bench): the analysis pass, or a render's peak memory."""
    import torch

    from videocolor import Settings, colorize_video
    from videocolor.analysis.film import analyse

    src = Path(task["src"])
    started = time.perf_counter()
    if task["kind"] == "analysis":
        frames = analyse(src, ref=task["ref"], quiet=True).num_frames
    else:
        settings = Settings(model=task["model"], device=task["device"], quiet=True)
        frames = colorize_video(src, Path(task["out"]), ref=task["ref"], settings=settings, overwrite=True).frames
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_initialized() else 0.0
    return {
        "frames": frames,
        "seconds": time.perf_counter() - started,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_mb": gpu,
    }


def run_task(task: dict, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--task", json.dumps(task)], capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"benchmark task {task['kind']} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def devc_memory(work: Path, ref: Path, device: str) -> dict:
    """Render a short 1920x1080 clip with --model devc on release-shaped random weights; peak memory."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import write_fake_devc_zip

    from videocolor.models import weights

    home = work / "home"
    env = {**os.environ, "VIDEOCOLOR_HOME": str(home)}
    os.environ["VIDEOCOLOR_HOME"] = str(home)
    weights.install("devc", write_fake_devc_zip(work / "devc.zip"))
    src = make_clip("zoom", work / "clip1080.mp4", (1080, 1920), 8)
    task = {"kind": "colorize", "src": str(src), "out": str(work / "devc.mp4"), "ref": str(ref), "model": "devc", "device": device}
    return run_task(task, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="640x360", help="WxH of the generated films")
    parser.add_argument("--frames", type=int, default=240, help="frames per generated film (10 s at 23.976 fps)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--codec", help="video encoder for our renders (default: the library's)")
    parser.add_argument("--temporal", help="temporal stage for our renders: off, dis or raft (default: the library's)")
    parser.add_argument("--workers", type=int, help="worker processes of our renders (default: the library's)")
    parser.add_argument("--repeats", type=int, default=3, help="counted (ours, transcode) pairs per row")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted pairs before them")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows to run, of {', '.join(ROWS)}")
    parser.add_argument("--frames-1080", type=int, default=96, help="frames of the 1920x1080 rows")
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval", help="real-footage set (street row)")
    parser.add_argument("--memory", action="store_true", help="peak RSS and GPU memory at 1x and 3x --frames (zoom)")
    parser.add_argument("--devc-memory", action="store_true", help="measure --model devc at 1920x1080 (fake weights)")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--transcode", nargs=2, type=Path, help=argparse.SUPPRESS)
    if sys.argv[1:2] == ["--model-free"]:
        sys.exit(run_model_free(sys.argv[2:]))
    args = parser.parse_args()
    if args.task:
        print(json.dumps(measure(json.loads(args.task))))
        return
    if args.transcode:
        plain_transcode(*args.transcode)
        return
    width, height = (int(v) for v in args.size.split("x"))
    rows = args.rows.split(",")
    if unknown := set(rows) - set(ROWS):
        parser.error(f"unknown rows {', '.join(sorted(unknown))}; choose from {', '.join(ROWS)}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ref = make_ref(work / "astronaut.png")
        config = None
        if args.codec:
            config = work / "codec.toml"
            config.write_text(f'codec = "{args.codec}"\n')
        results = {}
        films = {kind: make_clip(kind, work / f"{kind}.mp4", (height, width), args.frames) for kind in ("pans", "zoom", "static") if kind in rows}
        if "zoom-free" in rows:
            films["zoom-free"] = films.get("zoom") or make_clip("zoom", work / "zoom.mp4", (height, width), args.frames)
        films["start-up (1 frame)"] = make_clip("static", work / "one.mp4", (height, width), 1)
        street = args.eval_dir / "video" / "street_bikes.mp4"
        if "street" in rows and street.is_file():
            films["street"] = street
        if {"zoom-1080", "zoom-1080-free"} & set(rows):
            film = make_clip("zoom", work / "zoom1080.mp4", (1080, 1920), args.frames_1080)
            films.update({name: film for name in ("zoom-1080", "zoom-1080-free") if name in rows})
        for name, film in films.items():
            row_ref = film_frame(film, work / "street_ref.png") if name == "street" else ref
            results[name] = pairs(film, row_ref, work, args, config, model_free=name.endswith("-free"))
            print(f"done: {name}", file=sys.stderr, flush=True)
        analysed = next((films[kind] for kind in ("pans", "zoom", "static") if kind in films), None)
        if analysed is None:  # no generated film among the rows: one for the analysis pass alone
            analysed = make_clip("pans", work / "pans.mp4", (height, width), args.frames)
        analysis = run_task({"kind": "analysis", "src": str(analysed), "ref": str(ref)})
        memory = {}
        if args.memory:
            for n in (args.frames, 3 * args.frames):
                src = make_clip("zoom", work / f"zoom{n}.mp4", (height, width), n)
                task = {"kind": "colorize", "src": str(src), "out": str(work / "m.mp4"), "ref": str(ref), "model": "exemplar", "device": args.device}
                memory[n] = run_task(task)
        if args.devc_memory:
            memory["devc 1920x1080"] = devc_memory(work, ref, args.device)
    report(results, analysis, memory, args, width, height)


def report(results: dict, analysis: dict, memory: dict, args: argparse.Namespace, width: int, height: int) -> None:
    print(f"\n{width}x{height} ({args.frames} frames per generated film), device {args.device}, codec {args.codec or 'default'}, "
          f"temporal {args.temporal or 'default'}, workers {args.workers or 'default'}, {os.cpu_count()} CPU cores, whole processes, medians of {args.repeats} "
          f"interleaved pairs\n")
    print("| content | our s | transcode s | fps | x transcode (wall) | pairs min-max | x transcode (CPU) | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        frames = r["frames"]
        low, high = r["ratio_range"]
        print(f"| {name} | {r['ours_s']:.2f} | {r['transcode_s']:.2f} | {frames / r['ours_s']:.1f} | {r['ratio']:.2f} | "
              f"{low:.2f}-{high:.2f} | {r['cpu_ratio']:.2f} | {r['rss_mb']:.0f} |")
    stages = list(next(iter(results.values()))["stages"])
    print("\nseconds per stage (medians; the threads overlap, so a row's stages add up to more than its wall time)\n")
    print("| content | " + " | ".join(stages) + " |")
    print("|---|" + "---:|" * len(stages))
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{r['stages'][stage]:.2f}" for stage in stages) + " |")
    print(f"\nanalysis pass: {analysis['frames'] / analysis['seconds']:.0f} frames/s, "
          f"{analysis['frames'] / analysis['seconds'] / float(FPS):.1f}x real time")
    for n, m in memory.items():
        print(f"memory, {n} frames: peak RSS {m['rss_mb']:.0f} MB, peak GPU memory {m['gpu_mb']:.0f} MB, {m['frames'] / m['seconds']:.1f} fps")


if __name__ == "__main__":
    main()
