"""Settings: the library holds every default; a TOML file and then command-line flags override them."""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MODELS = ("auto", "exemplar", "devc")
DEVICES = ("auto", "cpu", "cuda")
TEMPORAL = ("off", "dis", "raft")


@dataclass(frozen=True)
class Settings:
    """Everything that shapes a render. Field docs double as the config file's documentation.

    Attributes:
        model: ``auto`` (DEVC when its weights are installed, else exemplar), ``exemplar`` or ``devc``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        work_size: long side in pixels of the resolution chroma is predicted at (the exemplar model).
        match_stride: grid step, in work pixels, at which frames are matched to the reference (4 is sharper,
            8 is about twice as fast end to end).
        reference_stride: grid step of the reference's cells (a multiple of ``match_stride``).
        batch_size: frames per forward pass.
        temperature: softmax temperature of the exemplar matching.
        temporal: ``off``, ``dis`` (OpenCV DIS flow) or ``raft`` (torchvision RAFT) ab smoothing.
        codec: video encoder (FFmpeg name), e.g. ``libx264``, ``libx265``, ``ffv1``, ``prores_ks``.
        crf: constant rate factor for x264/x265 (lower is better quality).
        preset: encoder speed preset for x264/x265.
        pix_fmt: output pixel format; ``yuv420p`` needs even sizes, odd sizes switch to ``yuv444p``.
        quiet: no progress bar and no info messages.
    """

    model: str = "auto"
    device: str = "auto"
    work_size: int = 256
    match_stride: int = 8
    reference_stride: int = 8
    batch_size: int = 8
    temperature: float = 0.01
    temporal: str = "dis"
    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r}: choose one of {', '.join(MODELS)}")
        if self.device not in DEVICES and not re.fullmatch(r"cuda:\d+", self.device):
            raise InputError(f"unknown device {self.device!r}: choose auto, cpu, cuda or cuda:N")
        if self.temporal not in TEMPORAL:
            raise InputError(f"unknown temporal mode {self.temporal!r}: choose one of {', '.join(TEMPORAL)}")
        if self.work_size < 32:
            raise InputError(f"work size must be at least 32 pixels, got {self.work_size}")
        if self.match_stride not in (2, 4, 8, 16) or self.reference_stride % self.match_stride:
            raise InputError(
                f"match stride must be 2, 4, 8 or 16 and divide the reference stride, got {self.match_stride} "
                f"and {self.reference_stride}"
            )
        if self.batch_size < 1:
            raise InputError(f"batch size must be at least 1, got {self.batch_size}")
        if not 0 < self.temperature <= 1:
            raise InputError(f"temperature must be in (0, 1], got {self.temperature}")

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied; ``None`` values are ignored (an unset flag)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_toml(path: Path, kind: str) -> tuple[str, dict[str, Any]]:
    """The text and parsed content of a TOML file; one-line ``InputError`` naming it (``kind``) otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise InputError(f"{path}: {kind} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read {kind} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from a TOML file (keys at top level or under ``[videocolor]``) over the library defaults."""
    base = Settings()
    if path is None:
        return base
    path = Path(path)
    _, data = read_toml(path, "config file")
    data = data.get("videocolor", data)
    known = {f.name: f.type for f in fields(Settings)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    defaults = base.to_dict()
    for key, value in data.items():
        expected = type(defaults[key])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not expected:
            raise InputError(f"{path}: setting {key!r} must be {expected.__name__}, got {value!r}")
    try:
        return base.replace(**data)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
