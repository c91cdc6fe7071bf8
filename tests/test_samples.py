"""The README's main command on the shipped sample, exactly as a new user runs it."""

import subprocess
from pathlib import Path

import av
import pytest
from helpers import frame_pts, packets

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "newsreel.mp4"


def test_sample_is_small_gray_with_audio():
    assert SAMPLE.stat().st_size < 1_000_000
    with av.open(str(SAMPLE)) as container:
        assert container.streams.audio and container.streams.video[0].frames == 100


@pytest.mark.slow
def test_readme_command_on_the_sample(tmp_path):
    out = tmp_path / "newsreel_color.mp4"
    run = subprocess.run(
        ["videocolor", "samples/newsreel.mp4", "--ref-dir", "samples/refs/", "-o", str(out), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert packets(out, "audio") == packets(SAMPLE, "audio")
    assert frame_pts(out) == frame_pts(SAMPLE) and len(frame_pts(out)) == 100
    readme = (ROOT / "README.md").read_text()
    assert "videocolor samples/newsreel.mp4 --ref-dir samples/refs/" in readme
