"""Editorial interchange: shots out as OTIO / EDL / FCP XML timelines, cuts in from them or from a plain list."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from helpers import SIZE, save_image

from videocolor._cli.main import main
from videocolor.analysis.cuts import check_cuts, cuts_in_folder, read_cuts
from videocolor.analysis.film import analyse
from videocolor.colorist.editorial import build_timeline, export_timeline
from videocolor.config import Settings
from videocolor.errors import InputError, OutputError
from videocolor.evaluation import synthetic as synth
from videocolor.io.analysis_reader import AnalysisReader
from videocolor.jobs import run_batch
from videocolor.jobs.film import fingerprint
from videocolor.jobs.state import Status
from videocolor.records import ReferenceChoice

CUTS = [7, 15]  # the test films' shots: frames 0-6, 7-14, 15-19
RATES = {  # rate: (source timecode start, the formats that hold it)
    Fraction(24000, 1001): ("01:00:00:00", (".otio", ".edl", ".xml")),
    Fraction(24): ("01:00:00:00", (".otio", ".edl", ".xml", ".fcpxml")),
    Fraction(25): (None, (".otio", ".edl", ".xml", ".fcpxml")),
    Fraction(30000, 1001): ("00:00:59;25", (".otio", ".edl", ".xml")),  # drop frame: 00:00:59;29 is followed by 00:01:00;02
}


def write_film(path: Path, fps: Fraction, timecode: str | None = None) -> Path:
    """A gray film of 20 frames: three pans (cuts at ``CUTS``) at ``fps``, with a source timecode start."""
    photos = [synth.load_photo(name) for name in ("astronaut", "chelsea", "coffee")]
    bounds = [0, *CUTS, 20]
    clips = [synth.pan(photo, b - a, SIZE) for photo, a, b in zip(photos, bounds, bounds[1:])]
    return synth.write_clip(path, [f for clip in clips for f in clip], fps=fps, timecode=timecode, audio_seconds=0)


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture(scope="module", params=list(RATES), ids=lambda r: f"{float(r):.3f}fps")
def rated_film(request, tmp_path_factory) -> tuple[Path, Fraction, str | None]:
    fps = request.param
    timecode = RATES[fps][0]
    return write_film(tmp_path_factory.mktemp("editorial") / "film.mov", fps, timecode), fps, timecode


def test_round_trip_is_exact_at_every_rate(rated_film, tmp_path):
    film, fps, timecode = rated_film
    listed = tmp_path / "cuts.txt"
    listed.write_text("# first frames of shots\n0\n" + "\n".join(map(str, CUTS)) + "\n")
    truth = analyse(film, cuts=listed, quiet=True)
    assert [s.start_frame for s in truth.shots] == [0, *CUTS] and truth.num_frames == 20
    assert truth.timecode == timecode and truth.frame_rate == fps
    for ext in RATES[fps][1]:
        timeline = export_timeline(film, truth, tmp_path / f"shots{ext}")
        assert check_cuts(film, timeline) == CUTS, ext
        again = analyse(film, cuts=timeline, quiet=True)
        assert again.shots == truth.shots, ext  # frames and exact pts: 0 frames off
        assert again.keyframes == truth.keyframes, ext


def test_exported_files_open_in_otio_readers(rated_film, tmp_path):
    film, fps, timecode = rated_film
    analysis = analyse(film, cuts=_listed(tmp_path), quiet=True)
    start = otio.opentime.from_timecode(timecode, float(fps)) if timecode else otio.opentime.RationalTime(0, float(fps))
    for ext in RATES[fps][1]:
        path = export_timeline(film, analysis, tmp_path / f"shots{ext}")
        extra = {"rate": float(fps)} if ext == ".edl" else {}
        timeline = otio.adapters.read_from_file(str(path), **extra)
        clips = list(timeline.find_clips())
        assert len(clips) == 3, ext
        for clip, shot in zip(clips, analysis.shots):
            assert clip.source_range.start_time.value == start.value + shot.start_frame, ext
            assert clip.source_range.duration.value == shot.num_frames, ext
            assert abs(clip.source_range.start_time.rate - float(fps)) < 1e-3, ext
        if ext != ".edl" or fps.denominator == 1:  # the EDL reader drops drop-frame LOC markers (adapter 1.0.0)
            assert sum(len(c.markers) for c in clips) == sum(len(k) for k in analysis.keyframes.values()), ext
        if ext == ".otio":
            assert clips[1].metadata["videocolor"]["start_frame"] == CUTS[0] and clips[1].metadata["videocolor"]["source"] == "none"
            assert timeline.global_start_time.to_timecode() == (timecode or "00:00:00:00")
    if fps.denominator != 1:
        with pytest.raises(OutputError, match="FCP X XML cannot hold"):
            export_timeline(film, analysis, tmp_path / "shots.fcpxml")


def _listed(folder: Path) -> Path:
    listed = folder / "cuts.txt"
    listed.write_text("\n".join(map(str, CUTS)))
    return listed


def test_hand_written_edl_gives_the_right_cuts(tmp_path):
    edl = tmp_path / "conform.edl"
    edl.write_text(
        "TITLE: conform\nFCM: NON-DROP FRAME\n\n"
        "001  TAPE1    V     C        00:10:00:00 00:10:00:07 01:00:00:00 01:00:00:07\n"
        "* FROM CLIP NAME: opening.mov\n"
        "002  TAPE2    V     C        02:00:03:10 02:00:03:18 01:00:00:07 01:00:00:15\n"
        "003  BL       V     C        00:00:00:00 00:00:00:05 01:00:00:15 01:00:00:20\n"
    )
    assert read_cuts(edl, frame_rate=Fraction(25), num_frames=20) == CUTS
    # the film starts 3 frames before the edit's first event: its record timecodes are the film's own
    assert read_cuts(edl, frame_rate=Fraction(25), num_frames=23, timecode="00:59:59:22") == [3, 10, 18]
    dropped = tmp_path / "dropped.edl"  # 29.97 drop frame: 00:00:59;29 -> 00:01:00;02 is one frame
    dropped.write_text(
        "TITLE: df\nFCM: DROP FRAME\n\n"
        "001  AX       V     C        00:00:59;25 00:01:00;02 00:00:59;25 00:01:00;02\n"
        "002  AX       V     C        00:01:00;02 00:01:00;12 00:01:00;02 00:01:00;12\n"
    )
    assert read_cuts(dropped, frame_rate=Fraction(30000, 1001), num_frames=15) == [5]


def test_plain_lists_of_frames_and_timecodes(tmp_path):
    listed = tmp_path / "cuts.txt"
    listed.write_text("00:01:00;03  # drop frame: 6 frames after 00:00:59;25\n0.5\n")
    assert read_cuts(listed, frame_rate=Fraction(30000, 1001), num_frames=20, timecode="00:00:59;25") == [6, 15]
    listed.write_text("01:00:00:12, 24\n")
    assert read_cuts(listed, frame_rate=Fraction(24), num_frames=30, timecode="01:00:00:00") == [12, 24]
    for bad, words in (("7\nseven\n", "line 2"), ("40\n", "past the film's last frame 19"), ("# nothing\n", "holds no cuts")):
        listed.write_text(bad)
        with pytest.raises(InputError, match=words):
            read_cuts(listed, frame_rate=Fraction(25), num_frames=20)


def test_cuts_folder_matches_by_stem(tmp_path):
    (tmp_path / "reel1.edl").write_text("")
    (tmp_path / "reel2.txt").write_text("")
    (tmp_path / "reel2.otio").write_text("")
    assert cuts_in_folder(tmp_path, Path("films/reel1.mov")) == tmp_path / "reel1.edl"
    assert cuts_in_folder(tmp_path, Path("reel3.mov")) is None
    with pytest.raises(InputError, match="several cut lists"):
        cuts_in_folder(tmp_path, Path("reel2.mov"))


def test_timelines_that_do_not_fit_are_refused_with_one_line(capsys, tmp_path):
    film = write_film(tmp_path / "film.mp4", Fraction(25))
    other = write_film(tmp_path / "other.mp4", Fraction(24))
    code, out, _ = cli(capsys, "shots", other, "--cuts", _listed(tmp_path), "--export-timeline", tmp_path / "at24.otio", "--quiet")
    assert code == 0 and "3 shots written" in out
    long = tmp_path / "long.edl"
    long.write_text("001  AX       V     C        00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00\n")
    (tmp_path / "garbage.otio").write_bytes(b"\x00\x93not json at all")
    (tmp_path / "empty.edl").write_text("")
    (tmp_path / "empty.txt").write_text("\n")
    cases = {
        "at24.otio": "runs at 24 fps, the film at 25 fps",
        "long.edl": "the timeline is 25 frames long, the film 20 frames",
        "garbage.otio": "not a readable otio_json timeline",
        "empty.edl": "holds no clips",
        "empty.txt": "holds no cuts",
    }
    for name, words in cases.items():
        out_file = tmp_path / f"out_{name}.otio"
        code, _, err = cli(capsys, "shots", film, "--cuts", tmp_path / name, "--export-timeline", out_file, "--quiet")
        assert code == 2 and len(err.splitlines()) == 1, err
        assert name in err and words in err, err
        assert not out_file.exists()
    # the render refuses before any work: no output, no work folder
    ref = save_image(tmp_path / "ref.png", synth.still(synth.load_photo("coffee"), SIZE))
    code, _, err = cli(capsys, film, "--cuts", tmp_path / "long.edl", "--ref", ref, "--quiet")
    assert code == 2 and len(err.splitlines()) == 1 and "long.edl" in err, err
    assert not (tmp_path / "film_color.mp4").exists() and not (tmp_path / ".videocolor-work").exists()


def test_render_takes_the_cuts_and_resume_depends_on_them(capsys, tmp_path):
    film = write_film(tmp_path / "film.mp4", Fraction(25))
    ref = save_image(tmp_path / "ref.png", synth.still(synth.load_photo("coffee"), SIZE))
    listed = tmp_path / "cuts.txt"
    listed.write_text("4\n")  # not where the pictures cut: the list wins
    code, _, err = cli(capsys, film, "--ref", ref, "--cuts", listed, "--temporal", "off", "--report", tmp_path / "r.json", "--quiet")
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["shots"] == 2
    before = fingerprint(film, Settings(), ref=ref, cuts=listed)
    listed.write_text("4\n9\n")
    assert fingerprint(film, Settings(), ref=ref, cuts=listed)["cuts"] != before["cuts"]
    assert fingerprint(film, Settings(), ref=ref)["cuts"] is None


def test_batch_takes_each_films_cuts_and_refuses_a_misfit(tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    good, bad = write_film(films / "good.mp4", Fraction(25)), write_film(films / "bad.mp4", Fraction(25))
    cuts = tmp_path / "cuts"
    cuts.mkdir()
    (cuts / "good.txt").write_text("4\n")
    (cuts / "bad.edl").write_text("001  AX       V     C        00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00\n")
    ref = save_image(tmp_path / "ref.png", synth.still(synth.load_photo("coffee"), SIZE))
    settings = Settings(temporal="off", preset="ultrafast", quiet=True, device="cpu")
    report = run_batch([films], out_dir=tmp_path / "out", ref=ref, cuts_dir=cuts, settings=settings, workers=1)
    by_name = {Path(f.input).name: f for f in report.films}
    assert by_name["good.mp4"].status == Status.DONE and by_name["good.mp4"].frames == 20
    assert by_name["bad.mp4"].status == Status.FAILED and "bad.edl" in by_name["bad.mp4"].error
    assert "the timeline is 25 frames long" in by_name["bad.mp4"].error
    assert not (tmp_path / "out" / "bad_color.mp4").exists() and good.exists() and bad.exists()


@pytest.mark.parametrize("command", ["shots", "preview", "review", "render"])
def test_every_analysing_command_refuses_a_misfit_timeline(command, capsys, tmp_path, color_ref):
    film = write_film(tmp_path / "film.mp4", Fraction(25))
    long = tmp_path / "long.edl"
    long.write_text("001  AX       V     C        00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00\n")
    args = {
        "shots": ["shots", film, "--export-timeline", tmp_path / "s.otio"],
        "preview": ["preview", film, "--ref-dir", color_ref.parent, "-o", tmp_path / "sheet.png"],
        "review": ["review", film, "--ref-dir", color_ref.parent, "--port", "0"],
        "render": [film, "--ref", color_ref],
    }[command]
    code, _, err = cli(capsys, *args, "--cuts", long, "--quiet")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "long.edl: the timeline is 25 frames long" in err and "the film 20 frames" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4", "long.edl"]  # nothing written


def test_exported_clips_carry_each_shots_reference_and_score(capsys, tmp_path, ref_dir):
    film = write_film(tmp_path / "film.mp4", Fraction(25))
    code, out, err = cli(capsys, "shots", film, "--ref-dir", ref_dir, "--cuts", _listed(tmp_path), "--export-timeline", tmp_path / "s.otio",
                         "--json", "--quiet")
    assert code == 0, err
    table = json.loads(out[: out.rindex("]") + 1])
    clips = list(otio.adapters.read_from_file(str(tmp_path / "s.otio")).find_clips())
    assert [c.metadata["videocolor"]["shot"] for c in clips] == [row["index"] for row in table] == [0, 1, 2]
    for clip, row in zip(clips, table):
        meta = clip.metadata["videocolor"]
        assert meta["reference"] == row["reference"] and Path(meta["reference"]).parent == ref_dir
        assert meta["score"] == pytest.approx(row["score"]) and meta["source"] == "retrieval"
        assert [c["reference"] for c in meta["candidates"]] == [c["reference"] for c in row["candidates"]]
        assert clip.name == f"shot {row['index']} {Path(row['reference']).name}"


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_source_timecode_from_a_timecode_track_or_tag(ext, tmp_path):
    film = synth.write_clip(tmp_path / f"film{ext}", [synth.still(synth.load_photo("coffee"), SIZE)] * 3, timecode="10:00:00:12", audio_seconds=0)
    assert AnalysisReader(film, quiet=True).timecode == "10:00:00:12"
    plain = synth.write_clip(tmp_path / f"plain{ext}", [synth.still(synth.load_photo("coffee"), SIZE)] * 3, audio_seconds=0)
    assert AnalysisReader(plain, quiet=True).timecode is None


def test_a_colored_keyframe_gets_its_own_marker(tmp_path):
    film = write_film(tmp_path / "film.mp4", Fraction(25))
    analysis = analyse(film, cuts=_listed(tmp_path), quiet=True)
    shot = analysis.shots[1]
    pts = shot.start.pts + 3 * round(1 / (analysis.time_base * analysis.frame_rate))  # the shot's 4th frame
    analysis.choices[1] = ReferenceChoice(1, tmp_path / "shot_0001.png", None, [], "keyframe", pts)
    markers = list(build_timeline(film, analysis).tracks[0][1].markers)
    colored = [m for m in markers if m.color == otio.schema.MarkerColor.RED]
    assert [m.name for m in colored] == [f"colored keyframe {shot.start_frame + 3}"]
    assert colored[0].marked_range.start_time.value == shot.start_frame + 3
    assert len(markers) == len(analysis.keyframes[1]) + 1
