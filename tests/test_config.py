"""Settings: the presets, the per-model sections, the old flat keys, and one clear line for every bad value."""

import logging
from pathlib import Path

import pytest

from videocolor import InputError, Settings, load_settings
from videocolor._cli import main as cli
from videocolor.models import registry

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
V = "[videocolor]\n"


def test_default_toml_states_the_library_defaults():
    assert load_settings(CONFIGS / "default.toml") == Settings()


@pytest.mark.parametrize("name", ["fast", "quality", "archival"])
def test_presets_load_and_change_something(name):
    preset = load_settings(CONFIGS / f"{name}.toml")
    assert preset != Settings()


def test_every_registered_model_has_a_section():
    assert set(Settings().models) == set(registry.names())
    for name in registry.names():
        assert isinstance(Settings().section(name), registry.get(name).settings)


def test_flags_override_file_override_defaults(tmp_path):
    config = tmp_path / "my.toml"
    config.write_text("[videocolor]\ncrf = 20\n[videocolor.exemplar]\nwork_size = 320\ntemperature = 1\n")
    settings = load_settings(config).replace(crf=None).replace_section("exemplar", work_size=384)
    exemplar = settings.section("exemplar")
    assert (exemplar.work_size, settings.crf, settings.batch_size) == (384, 20, Settings().batch_size)
    assert exemplar.temperature == 1.0 and type(exemplar.temperature) is float  # an integer is a number


def test_old_flat_keys_still_work_with_a_one_line_warning(tmp_path, caplog):
    config = tmp_path / "old.toml"
    config.write_text("work_size = 320\nmatch_stride = 4\ncrf = 20\n")  # top level, no [videocolor] table
    with caplog.at_level(logging.WARNING, logger="videocolor"):
        settings = load_settings(config)
    assert settings.section("exemplar").work_size == 320 and settings.section("exemplar").match_stride == 4
    assert settings.crf == 20
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all(str(config) in w and "[videocolor.exemplar]" in w for w in warnings)
    assert "'work_size'" in warnings[0] and "\n" not in warnings[0]


def test_settings_round_trip_through_a_dict():
    settings = Settings(crf=20).replace_section("devc", smoothing=False)
    assert Settings.from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize(
    "text, message",
    [
        ("videocolor = 5", "'videocolor' must be a table"),
        ("[videocolor]\nexemplar = 3", "'exemplar' must be a table"),
        ("[videocolor]\n[other]\nx = 1", "unknown top-level key(s) other"),
        (V + "work_sise = 3", "unknown setting 'work_sise' in [videocolor]"),
        ("[videocolor.exemplar]\nwork_sise = 3", "unknown setting 'work_sise' in [videocolor.exemplar]"),
        ("[videocolor.magic]\nx = 3", "unknown setting 'magic'"),
        (V + 'codec = "aac"', "codec must be a video encoder; aac encodes audio"),
        (V + 'codec = "nonsense"', "codec must name an FFmpeg encoder"),
        (V + 'pix_fmt = "nonsense"', "pix_fmt must be an FFmpeg pixel format"),
        (V + 'pix_fmt = "rgb48be"', "pix_fmt rgb48be is not one libx264 can encode"),
        (V + "quiet = 1", "quiet must be true or false"),
        (V + "batch_size = true", "batch_size must be an integer"),
        (V + "batch_size = -1", "batch_size must be at least 0"),
        (V + "crf = 'high'", "crf must be an integer"),
        (V + "crf = 99", "crf must be in [0, 63]"),
        (V + "model = 'magic'", "model must be one of auto, exemplar, devc"),
        (V + "device = 'gpu'", "device must be auto, cpu, cuda or cuda:N"),
        (V + "temporal = 'fast'", "temporal must be one of off, dis, raft"),
        (V + "refs_per_shot = 6", "refs_per_shot must be in [0, 5]"),
        (V + "preset = 3", "preset must be a string"),
        (V + "preset = 'fastest'", "setting preset 'fastest' must be auto or an x264 speed preset with codec auto"),
        (V + "preset = 'p4'", "setting preset 'p4' must be auto or an x264 speed preset"),
        (V + "codec = 'libx264'\npreset = 'p4'", "setting preset 'p4' is not a preset of libx264; choose one of ultrafast,"),
        (V + "codec = 'libx265'\npreset = 'Slow'", "setting preset 'Slow' is not a preset of libx265"),
        (V + "codec = 'ffv1'\npix_fmt = 'yuv444p'\npreset = 'slow'", "setting preset 'slow': encoder ffv1 has no speed presets"),
        (V + "codec = 'mpeg4'\npreset = 'medium'", "setting preset 'medium': encoder mpeg4 has no speed presets"),
        (V + "codec = 'libvpx-vp9'\npreset = 'p4'", "setting preset 'p4' is not a preset of libvpx-vp9"),
        (V + "codec = 'h264_nvenc'\npreset = 'p9'", "setting preset 'p9' is not a preset of h264_nvenc"),
        ("[videocolor.exemplar]\nwork_size = 10", "exemplar.work_size must be at least 32"),
        ("[videocolor.exemplar]\nwork_size = 256.5", "exemplar.work_size must be an integer"),
        ("[videocolor.exemplar]\nmatch_stride = 3", "exemplar.match_stride must be one of 0, 2, 4, 8, 16"),
        ("[videocolor.exemplar]\nreference_stride = 12", "must be a multiple of exemplar.match_stride"),
        ("[videocolor.exemplar]\ntemperature = 0", "exemplar.temperature must be in [1e-30, 1]"),
        ("[videocolor.exemplar]\ntemperature = nan", "exemplar.temperature must be a finite number, got nan"),
        ("[videocolor.exemplar]\ntemperature = -nan", "exemplar.temperature must be a finite number"),
        ("[videocolor.exemplar]\ntemperature = inf", "exemplar.temperature must be a finite number, got inf"),
        ("[videocolor.exemplar]\ntemperature = -inf", "exemplar.temperature must be a finite number"),
        ("[videocolor.exemplar]\ntemperature = 1e-45", "exemplar.temperature must be in [1e-30, 1], got 1e-45"),
        ("[videocolor.exemplar]\ntemperature = 5e-324", "exemplar.temperature must be in [1e-30, 1]"),
        ("[videocolor.exemplar]\ntemperature = -0.02", "exemplar.temperature must be in [1e-30, 1]"),
        ("[videocolor.exemplar]\ntemperature = 1.5", "exemplar.temperature must be in [1e-30, 1]"),
        ("[videocolor.devc]\ntemperature = nan", "devc.temperature must be a finite number"),
        ("[videocolor.devc]\ntemperature = 1e-40", "devc.temperature must be in [1e-30, 1]"),
        ("[videocolor.devc]\ntemperature = -1e-10", "devc.temperature must be in [1e-30, 1]"),
        ("[videocolor.devc]\nsmoothing = 'yes'", "devc.smoothing must be true or false"),
        (V + "work_size = 320\n[videocolor.exemplar]\nwork_size = 256", "set both flat and in [videocolor.exemplar]"),
        ("[videocolor\n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_file_and_key(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(InputError) as info:
        load_settings(config)
    assert str(info.value).startswith(f"{config}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_cli_exits_2_with_one_line_on_a_bad_config(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('[videocolor]\ncodec = "aac"\n')
    assert cli.main([str(tmp_path / "film.mp4"), "--ref", "x.png", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(config) in err and "codec" in err


def test_bad_flag_values_are_checked_too():
    with pytest.raises(InputError, match="setting batch_size must be at least 0, got -1"):
        Settings().replace(batch_size=-1)
    with pytest.raises(InputError, match="exemplar.work_size must be at least 32"):
        Settings().replace_section("exemplar", work_size=8)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e-45, 0.0, -1.0, 2.0])
def test_float_settings_from_python_are_finite_and_in_range(value):
    for name in ("exemplar", "devc"):
        with pytest.raises(InputError, match=f"setting {name}.temperature must be"):
            Settings().replace_section(name, temperature=value)


def test_the_temperature_bounds_are_kept_by_the_model():
    """At the lowest temperature allowed, the matching is still finite: a hard argmax, not the NaN (a white film) of 1e-45."""
    import torch

    from videocolor.models.devc import attend

    theta, phi = (torch.nn.functional.normalize(torch.randn(16, n), dim=0) for n in (30, 20))
    theta[:, 0] = phi[:, 0]  # a cosine of exactly 1: the largest logit there is
    colors = torch.randn(2, 20)
    lowest, _ = attend(theta, phi, colors, Settings().replace_section("devc", temperature=1e-30).section("devc").temperature)
    assert torch.isfinite(lowest).all() and torch.allclose(lowest[:, 0], colors[:, 0])
    assert torch.isnan(attend(theta, phi, colors, 1e-45)[0]).any()  # what the bound keeps out


def test_flag_values_are_checked_and_named_by_their_flag(tmp_path, capsys):
    for flags, message in [(["--batch-size", "-1"], "--batch-size -1: setting batch_size must be at least 0"),
                           (["--work-size", "8"], "--work-size 8: setting exemplar.work_size must be at least 32"),
                           (["--device", "gpu"], "--device gpu: setting device must be")]:
        assert cli.main([str(tmp_path / "film.mp4"), "--ref", "x.png", *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err


@pytest.mark.parametrize("kind", ["config", "override", "keyframes", "list"])
def test_a_utf8_bom_is_accepted_in_every_user_file(tmp_path, kind):
    """Windows editors start UTF-8 files with a byte order mark: TOML and JSON parsers refuse it."""
    import json
    from fractions import Fraction

    from videocolor.analysis.keyframes import INDEX_NAME, read_index
    from videocolor.analysis.overrides import read_overrides
    from videocolor.jobs.batch import expand_inputs
    from videocolor.records import Shot
    from videocolor.timecode import Timecode

    bom = b"\xef\xbb\xbf"
    shots = [Shot(0, 0, 9, Timecode(0, Fraction(1, 25)), Timecode(10, Fraction(1, 25)))]
    if kind == "config":
        (tmp_path / "my.toml").write_bytes(bom + b"[videocolor]\ncrf = 20\n[videocolor.exemplar]\ntemperature = 0.05\n")
        settings = load_settings(tmp_path / "my.toml")
        assert settings.crf == 20 and settings.section("exemplar").temperature == 0.05
    elif kind == "override":
        (tmp_path / "film.toml").write_bytes(bom + b"[[shot]]\nindex = 0\nskip = true\n")
        assert read_overrides(tmp_path / "film.toml", shots) == {0: None}
    elif kind == "keyframes":
        entry = {"index": 0, "frame": 4, "pts": 4, "time": 0.16, "start_frame": 0, "end_frame": 9, "file": "shot_0000.png"}
        (tmp_path / INDEX_NAME).write_bytes(bom + json.dumps([entry]).encode())
        assert [e.frame for e in read_index(tmp_path, shots, (90, 160))] == [4]  # an older index (a list): read with a warning
    else:
        (tmp_path / "films.txt").write_bytes(bom + b"a.mp4\n# note\nb.mp4\n")
        assert expand_inputs(list_file=tmp_path / "films.txt") == [tmp_path / "a.mp4", tmp_path / "b.mp4"]


@pytest.mark.parametrize(
    "codec, preset, options",
    [("libx264", "slow", {"preset": "slow"}), ("libx265", "auto", {"preset": "medium"}), ("h264_nvenc", "p2", {"preset": "p2"}),
     ("h264_nvenc", "veryslow", {"preset": "p7"}), ("libvpx-vp9", "ultrafast", {"deadline": "realtime", "cpu-used": "8"}),
     ("libvpx-vp9", "auto", {"deadline": "good", "cpu-used": "2"}), ("ffv1", "auto", {}), ("mpeg4", "auto", {"flags": "+qscale"})],
)
def test_a_preset_the_encoder_has_reaches_it(codec, preset, options):
    from videocolor.io.encoders import EncodeSettings, encoder_options

    settings = Settings(codec=codec, preset=preset, pix_fmt="yuv444p" if codec == "ffv1" else "yuv420p")
    given = encoder_options(EncodeSettings(settings.codec, settings.crf, settings.preset, settings.pix_fmt))
    assert options.items() <= given.items()


def test_missing_config(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
