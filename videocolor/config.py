"""Settings: the library holds every default; a TOML file and then command-line flags override them.

A config file has general keys in ``[videocolor]`` and each model's own keys in ``[videocolor.NAME]``
(``[videocolor.exemplar]``, ``[videocolor.devc]``; the sections come from the model registry). Every value
is checked when the file is loaded: one line names the file, the key and what is wrong.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from .errors import InputError
from .io.encoders import EncodeSettings, preset_problem
from .models import registry
from .settings_fields import check_knobs, coerce, knob, knobs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger("videocolor")

MODELS = ("auto", *registry.names())
DEVICES = ("auto", "cpu", "cuda")
TEMPORAL = ("off", "dis", "raft")
CORES_PER_WORKER = 4  # local worker processes by default, on a CPU: one per this many cores (jobs.engines.default_workers)


def _check_device(name: str) -> str | None:
    if name in DEVICES or re.fullmatch(r"cuda:\d+", name):
        return None
    return "must be auto, cpu, cuda or cuda:N"


def _check_codec(name: str) -> str | None:
    if name == "auto":
        return None
    try:
        codec = av.codec.Codec(name, "w")
    except ValueError:
        return "must name an FFmpeg encoder (e.g. libx264, libx265, ffv1, prores_ks); this FFmpeg has none by that name"
    return None if codec.type == "video" else f"must be a video encoder; {name} encodes {codec.type}"


def _check_pix_fmt(name: str) -> str | None:
    try:
        av.VideoFormat(name)
    except ValueError:
        return "must be an FFmpeg pixel format, e.g. yuv420p, yuv444p, yuv422p10le"
    return None


def _default_sections() -> dict[str, Any]:
    return {spec.name: spec.settings() for spec in registry.REGISTERED}


@dataclass(frozen=True)
class Settings:
    """Everything that shapes a render. Field docs double as the config file's documentation.

    Attributes:
        model: ``auto`` (the best model whose weights are present: DEVC when installed, else exemplar) or a
            registered model name (``exemplar``, ``devc``).
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        batch_size: frames per forward pass; 0 chooses from the device: 8 on the CPU, on a GPU what its free
            memory holds (up to 16).
        temporal: ``off``, ``dis`` (OpenCV DIS flow) or ``raft`` (torchvision RAFT) ab smoothing.
        carry: with ``temporal`` on, the most frames in a row that are carried along the optical flow instead of
            colorized by the model, where the flow keeps track of at least 60% of the frame (a cut, new content or
            fast motion goes back to the model); 0: the model colorizes every frame. Not for a recurrent model (DEVC).
        refs_per_shot: with a reference folder, how many of each shot's best-ranked references it is colored
            against, fused per pixel (``ops/fusion.py``; at most the 5 candidates retrieval keeps); 0 lets the
            default choose (``render.devices.DEFAULT_REFS_PER_SHOT``: 3). A recurrent model (DEVC) takes
            the first alone.
        codec: video encoder (FFmpeg name), e.g. ``libx264``, ``libx265``, ``libvpx-vp9``, ``ffv1``, ``prores_ks``,
            ``h264_nvenc``; ``auto``: the output container chooses (``io.encoders.AUTO_CODECS``): VP9 for WebM,
            MPEG-4 Part 2 for AVI, MPEG-2 for .mpg, else H.264 (NVENC when rendering on a GPU whose driver FFmpeg can use, else libx264).
        crf: constant quality (lower is better): x264/x265/VP9/AV1 CRF, NVENC's cq, crf / 6 as MPEG-4's quantizer.
        preset: encoder speed preset (``io.encoders.presets``): ``auto`` (the encoder's middle speed), an x264 name
            (``ultrafast`` .. ``placebo``: x264, x265, and mapped for NVENC, VP9 and SVT-AV1) or the encoder's own
            (NVENC ``p1``..``p7``); refused for a named encoder that has none (FFV1, ProRes, MPEG-4).
        pix_fmt: output pixel format; ``yuv420p`` needs even sizes, odd sizes switch to ``yuv444p``.
        keep_luma: where the plane composition is taken (``render.composition``: an 8-bit Y'CbCr black-and-white
            film to an 8-bit Y'CbCr video output), the output's luma plane is the source's, bit for bit (archival:
            the film's own grain untouched; a saturated color then has the gray's luma, not its own).
        quiet: no progress bar and no info messages.
        models: each registered model's own settings section, by model name (e.g.
            ``models["exemplar"].work_size``); sections left out get their defaults.
    """

    model: str = knob("auto", choices=MODELS)
    device: str = knob("auto", check=_check_device)
    batch_size: int = knob(0, low=0)
    temporal: str = knob("dis", choices=TEMPORAL)
    carry: int = knob(2, low=0, high=8)
    refs_per_shot: int = knob(0, low=0, high=5)
    codec: str = knob("auto", check=_check_codec)
    crf: int = knob(18, low=0, high=63)
    preset: str = knob("auto")
    pix_fmt: str = knob("yuv420p", check=_check_pix_fmt)
    keep_luma: bool = knob(False)
    quiet: bool = knob(False)
    models: dict[str, Any] = field(default_factory=_default_sections, hash=False)

    def __post_init__(self) -> None:
        check_knobs(self)
        problem = preset_problem(self.codec, self.preset)
        if problem:
            raise InputError(problem)
        codec = "libx264" if self.codec == "auto" else self.codec  # auto's fallback; NVENC takes its formats too
        formats = av.codec.Codec(codec, "w").video_formats
        if formats and self.pix_fmt not in {f.name for f in formats}:
            raise InputError(
                f"setting pix_fmt {self.pix_fmt} is not one {codec} can encode; it takes "
                f"{', '.join(f.name for f in formats[:8])}{', ...' if len(formats) > 8 else ''}"
            )
        unknown = sorted(set(self.models) - set(registry.names()))
        if unknown:
            raise InputError(f"no model named {unknown[0]!r}: choose one of {', '.join(registry.names())}")
        object.__setattr__(self, "models", {**_default_sections(), **self.models})
        for name, section in self.models.items():
            if not isinstance(section, registry.get(name).settings):
                raise InputError(f"settings of model {name} must be a {registry.get(name).settings.__name__}")

    def section(self, name: str) -> Any:
        """The settings section of model ``name`` (e.g. an ``ExemplarSettings``)."""
        return self.models[name]

    def replace(self, **changes: Any) -> Settings:
        """A copy with general settings ``changes`` applied; ``None`` values are ignored (an unset flag)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def replace_section(self, name: str, **changes: Any) -> Settings:
        """A copy with settings of model ``name`` changed; ``None`` values are ignored (an unset flag)."""
        section = dataclasses.replace(self.models[name], **{k: v for k, v in changes.items() if v is not None})
        return dataclasses.replace(self, models={**self.models, name: section})

    def encoding(self, gpu: bool) -> EncodeSettings:
        """The video encoding these settings ask for, before the output's container resolves it
        (``io.encoders.for_output``); ``gpu``: the render runs on a GPU, so ``codec = "auto"`` may choose NVENC."""
        return EncodeSettings(codec=self.codec, crf=self.crf, preset=self.preset, pix_fmt=self.pix_fmt, gpu=gpu)

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name, model settings as ``NAME.key`` (``exemplar.work_size``): JSON-ready and flat,
        so comparing two renders' settings names the keys that differ."""
        flat = {f.name: getattr(self, f.name) for f in knobs(self)}
        for name, section in self.models.items():
            flat.update({f"{name}.{key}": value for key, value in dataclasses.asdict(section).items()})
        return flat

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """The inverse of :meth:`to_dict`."""
        sections: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            if "." in key:
                name, field_name = key.split(".", 1)
                sections.setdefault(name, {})[field_name] = value
        models = {name: registry.get(name).settings(**values) for name, values in sections.items()}
        return cls(**{k: v for k, v in data.items() if "." not in k}, models=models)


def read_toml(path: Path, kind: str) -> tuple[str, dict[str, Any]]:
    """The text and parsed content of a TOML file; one-line ``InputError`` naming it (``kind``) otherwise."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM, as Windows editors write, is not part of the TOML
    except FileNotFoundError:
        raise InputError(f"{path}: {kind} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read {kind} ({exc})") from None
    return text, parse_toml(text, path)


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """``text`` (meant for ``path``) parsed as TOML; one-line ``InputError`` naming ``path`` when it is not valid."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from a TOML file over the library defaults, every value checked.

    Keys go under ``[videocolor]`` (or at the top level of the file), model keys under ``[videocolor.NAME]``.
    A model key written among the general ones (the older flat layout) still works, with a warning.

    Raises:
        InputError: one line naming the file and the key: not a table, unknown key, wrong type or range,
            no such encoder or pixel format.
    """
    if path is None:
        return Settings()
    path = Path(path)
    _, data = read_toml(path, "config file")
    table = data.get("videocolor", data)
    if not isinstance(table, dict):
        raise InputError(f"{path}: 'videocolor' must be a table ([videocolor] with settings under it), got {table!r}")
    if table is not data and len(data) > 1:
        raise InputError(f"{path}: unknown top-level key(s) {', '.join(sorted(set(data) - {'videocolor'}))}; "
                         "settings go under [videocolor]")
    general, sections = _split(path, table)
    try:
        models = {name: _section(path, name, values) for name, values in sections.items()}
        return Settings(**{key: coerce(Settings, key, value) for key, value in general.items()}, models=models)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def _split(path: Path, table: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """General settings and per-model sections of ``[videocolor]``, flat model keys moved to their section."""
    general_keys = {f.name for f in knobs(Settings)}
    owners = {f.name: spec.name for spec in registry.REGISTERED for f in knobs(spec.settings)}
    general: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key in registry.names():
            if not isinstance(value, dict):
                raise InputError(f"{path}: '{key}' must be a table ([videocolor.{key}]), got {value!r}")
            sections.setdefault(key, {}).update(value)
        elif key in general_keys:
            general[key] = value
        elif key in owners:
            if isinstance(table.get(owners[key]), dict) and key in table[owners[key]]:
                raise InputError(f"{path}: '{key}' is set both flat and in [videocolor.{owners[key]}]; keep one")
            log.warning("%s: key '%s' belongs in [videocolor.%s]; the flat form is deprecated", path, key, owners[key])
            sections.setdefault(owners[key], {})[key] = value
        else:
            known = sorted(general_keys) + [f"[videocolor.{name}]" for name in registry.names()]
            raise InputError(f"{path}: unknown setting '{key}' in [videocolor]; known: {', '.join(known)}")
    return general, sections


def _section(path: Path, name: str, values: dict[str, Any]) -> Any:
    settings_type = registry.get(name).settings
    known = [f.name for f in knobs(settings_type)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InputError(f"unknown setting '{unknown[0]}' in [videocolor.{name}]; known: {', '.join(known)}")
    return settings_type(**{key: coerce(settings_type, key, value) for key, value in values.items()})
