from pathlib import Path

import pytest

from videocolor import InputError, Settings, load_settings

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_default_toml_states_the_library_defaults():
    assert load_settings(CONFIGS / "default.toml") == Settings()


@pytest.mark.parametrize("name", ["fast", "quality", "archival"])
def test_presets_load_and_change_something(name):
    preset = load_settings(CONFIGS / f"{name}.toml")
    assert preset != Settings()


def test_flags_override_file_override_defaults(tmp_path):
    config = tmp_path / "my.toml"
    config.write_text('work_size = 320\ncrf = 20\n')
    settings = load_settings(config).replace(crf=None, work_size=384)
    assert (settings.work_size, settings.crf, settings.batch_size) == (384, 20, Settings().batch_size)


@pytest.mark.parametrize(
    "text, message",
    [
        ("work_sise = 3", "unknown setting"),
        ("crf = 'high'", "must be int"),
        ("model = 'magic'", "unknown model"),
        ("match_stride = 3", "match stride"),
        ("[videocolor\n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_file(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_settings(config)
    assert str(config) in str(info.value) and "\n" not in str(info.value)


def test_missing_config(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
