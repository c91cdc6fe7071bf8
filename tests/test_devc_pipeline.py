"""DEVC through the whole pipeline, on a release-shaped zip of generated weights (no real weights offline)."""

import av
import pytest
from helpers import FAKE_AB, SIZE, frames_lab, write_fake_devc_zip

from videocolor._cli.main import main
from videocolor.evaluation import synthetic as synth
from videocolor.models import weights


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, astronaut):
    """4 frames: DEVC runs at about 216x384 whatever the source size, so frames, not pixels, cost time."""
    return synth.write_clip(tmp_path_factory.mktemp("devc") / "short.mp4", synth.pan(astronaut, 4, SIZE))


@pytest.fixture
def devc_home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOCOLOR_HOME", str(tmp_path / "home"))
    weights.install("devc", write_fake_devc_zip(tmp_path / "colorization_checkpoint.zip"))
    return tmp_path / "home"


@pytest.mark.slow
def test_model_devc_colorizes_a_clip_end_to_end_at_source_size(devc_home, short_clip, color_ref, tmp_path):
    out = tmp_path / "devc.mp4"
    assert main([str(short_clip), "--ref", str(color_ref), "-o", str(out), "--model", "devc", "--quiet"]) == 0
    with av.open(str(short_clip)) as src, av.open(str(out)) as dst:
        assert (dst.streams.video[0].width, dst.streams.video[0].height) == (src.streams.video[0].width, src.streams.video[0].height)
    lab = frames_lab(out)
    assert len(lab) == 4
    # The generated weights make ColorVidNet output a known constant chroma; mid-gray pixels keep it in gamut.
    mid = (lab[:, 0] > 35) & (lab[:, 0] < 75)
    measured = (lab[:, 1][mid].median().item(), lab[:, 2][mid].median().item())
    assert measured == pytest.approx(FAKE_AB, abs=4.0)


@pytest.mark.slow
def test_auto_says_which_model(devc_home, short_clip, color_ref, tmp_path, caplog):
    caplog.set_level("INFO", logger="videocolor")
    assert main([str(short_clip), "--ref", str(color_ref), "-o", str(tmp_path / "o.mp4"), "--temporal", "off"]) == 0
    assert "model: devc (auto)" in caplog.text


def test_devc_without_weights_names_both_commands(pan_clip, color_ref, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VIDEOCOLOR_HOME", str(tmp_path / "empty-home"))
    code = main([str(pan_clip), "--ref", str(color_ref), "-o", str(tmp_path / "o.mp4"), "--model", "devc"])
    err = capsys.readouterr().err
    assert code == 2 and "videocolor weights download devc" in err and "videocolor weights install devc" in err
    assert not (tmp_path / "o.mp4").exists()
