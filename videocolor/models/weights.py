"""Where model weights live, and how they are fetched, installed, verified and loaded.

Each model declares its weights in the registry (``models/registry.py``, records of type
:class:`~videocolor.models.spec.Weights`). Downloadable weights come as a release archive (a zip of plain
state_dicts); installing one extracts the files a model needs into ``home_dir() / NAME`` atomically
(temporary folder, then rename) after checking every tensor's name and shape against the architecture, so a
truncated or foreign checkpoint never reaches inference.

>>> from videocolor import weights
>>> weights.is_installed("devc")  # doctest: +SKIP
False
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from ..home import home_dir
from . import registry
from .spec import Weights

MANIFEST = "videocolor-weights.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InstalledWeights:
    """An installed set of weights: its folder, files, size and how it was verified."""

    name: str
    path: Path
    files: dict[str, Path]
    size_bytes: int
    archive_sha256: str
    sha256_verified: bool
    source: str


def get_record(name: str) -> Weights:
    """The weights record of model ``name``; unknown names raise :class:`WeightsError`."""
    if name not in registry.names():
        raise WeightsError(f"no downloadable weights for model {name!r}: choose one of {', '.join(registry.downloadable())}")
    return registry.get(name).weights.value


def _downloadable(name: str) -> Weights:
    record = get_record(name)
    if not record.downloadable:
        raise WeightsError(f"the {name} weights ship with the {record.package!r} package: nothing to download or install")
    return record


def model_dir(name: str) -> Path:
    """The folder the downloaded weights of model ``name`` are installed in (whether or not they are)."""
    return home_dir() / name


def find_installed(name: str) -> InstalledWeights | None:
    """The installed weights of ``name``, or ``None`` when absent or incomplete. Reads no tensors."""
    record = get_record(name)
    if not record.downloadable:
        try:
            files = record.package_files()
        except WeightsError:
            return None
        return InstalledWeights(
            name=name, path=next(iter(files.values())).parent, files=files,
            size_bytes=sum(path.stat().st_size for path in files.values()),
            archive_sha256="", sha256_verified=False, source=record.url,
        )
    folder = model_dir(name)
    try:
        info = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = {rel: folder / rel for rel in record.files}
    if not all(path.is_file() for path in files.values()):
        return None
    return InstalledWeights(
        name=name,
        path=folder,
        files=files,
        size_bytes=sum(path.stat().st_size for path in files.values()),
        archive_sha256=info.get("archive_sha256", ""),
        sha256_verified=bool(info.get("sha256_verified", False)),
        source=info.get("source", ""),
    )


def is_installed(name: str) -> bool:
    """Whether the weights of model ``name`` are installed and complete."""
    return find_installed(name) is not None


def require_installed(name: str) -> InstalledWeights:
    """The installed weights of ``name``, or a :class:`WeightsError` saying how to get them."""
    found = find_installed(name)
    if found is None:
        record = get_record(name)
        if not record.downloadable:
            record.package_files()  # raises the package's own error
        raise WeightsError(
            f"the {name} weights are not installed (looked in {model_dir(name)}); run "
            f"`videocolor weights download {name}`, or without internet get {record.archive} from {record.url} "
            f"and run `videocolor weights install {name} PATH.zip`"
        )
    return found


def load_checked(path: Path, module: nn.Module) -> nn.Module:
    """Load the state_dict at ``path`` into ``module`` strictly, after checking every tensor's name and shape.

    The tensors are assigned, not copied, so ``module`` may be built on the ``meta`` device (no wasted init).

    Raises:
        WeightsError: the file is unreadable, or a tensor is missing, misshaped or unexpected (named).
    """
    state = read_state_dict(path)
    check_state_dict(state, module, str(path))
    module.load_state_dict(state, strict=True, assign=True)
    return module


def load_networks(record: Weights, files: Mapping[str, Path]) -> dict[str, nn.Module]:
    """Each network of ``record`` with the weights of its file in ``files`` (path in the release -> local file)."""
    networks = {}
    for rel in record.files:
        with torch.device("meta"):
            module = record.network(rel)
        networks[rel] = load_checked(files[rel], module)
    return networks


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The plain state_dict stored at ``path`` (loaded on the CPU, tensors only)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file; all mean the same to the user.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({first_line})") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: not a plain state_dict of tensors")
    return dict(state)


def check_state_dict(state: Mapping[str, torch.Tensor], module: nn.Module, where: str) -> None:
    """Raise :class:`WeightsError` naming the first tensor of ``state`` that ``module`` cannot take as is."""
    expected = module.state_dict()
    for key, reference in expected.items():
        if key not in state:
            raise WeightsError(f"{where}: tensor {key!r} is missing (expected shape {list(reference.shape)})")
        if tuple(state[key].shape) != tuple(reference.shape):
            raise WeightsError(
                f"{where}: tensor {key!r} has shape {list(state[key].shape)}, expected {list(reference.shape)}"
            )
    extra = [key for key in state if key not in expected]
    if extra:
        raise WeightsError(f"{where}: unexpected tensor {extra[0]!r} ({len(extra)} unexpected in all)")


def install(name: str, archive: str | os.PathLike, *, sha256: str | None = None, source: str | None = None) -> InstalledWeights:
    """Verify the release archive at ``archive`` and install the files model ``name`` needs.

    Args:
        name: model name (``devc``).
        archive: path of the release zip.
        sha256: expected hex digest of the archive; defaults to the record's (``None``: not compared).
        source: where the archive came from, recorded for ``videocolor weights list``.

    Raises:
        WeightsError: missing file, sha256 mismatch, corrupt zip, missing file inside it, or a bad tensor.
    """
    record = _downloadable(name)
    archive = Path(archive)
    if not archive.is_file():
        raise WeightsError(f"{archive}: no such file")
    digest = file_sha256(archive)
    expected = (sha256 or record.sha256 or "").lower() or None
    if expected and digest != expected:
        raise WeightsError(f"{archive}: sha256 is {digest}, expected {expected}; the file is damaged or not {record.archive}")
    root = home_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-new-", dir=root))
    try:
        _extract(record, archive, staging)
        for rel in record.files:
            with torch.device("meta"):
                module = record.network(rel)
            check_state_dict(read_state_dict(staging / rel), module, f"{archive}: {rel}")
        manifest = {
            "name": name,
            "archive": archive.name,
            "archive_sha256": digest,
            "sha256_verified": expected is not None,
            "source": source or str(archive.resolve()),
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        _replace_dir(staging, model_dir(name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return require_installed(name)


def download(
    name: str,
    *,
    url: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    attempts: int = 5,
    timeout: float = 30.0,
) -> InstalledWeights:
    """Download the release archive of ``name`` (resumable), verify it and install it.

    The archive goes to ``home_dir() / "downloads" / (archive + ".part")``; an interrupted download resumes
    from there with an HTTP Range request, on the next attempt or the next run. Once verified and installed,
    or found damaged, the archive is deleted.

    Args:
        url: a mirror to use instead of the record's URL.
        sha256: expected digest of the archive (overrides the record's).
        progress: show a tqdm progress bar.
        attempts: how many times a connection that dropped after delivering data is resumed.
        timeout: seconds without data before a connection counts as dropped.
    """
    record = _downloadable(name)
    url = url or record.url
    downloads = home_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    part = downloads / f"{record.archive}.part"
    _fetch(url, part, progress=progress, attempts=attempts, timeout=timeout)
    try:
        return install(name, part, sha256=sha256, source=url)
    finally:
        part.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """Hex sha256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, part: Path, *, progress: bool, attempts: int, timeout: float) -> None:
    """Download ``url`` into ``part``, resuming what is already there; retry while data keeps arriving."""
    from tqdm import tqdm

    for attempt in range(1, attempts + 1):
        offset = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "videocolor", **({"Range": f"bytes={offset}-"} if offset else {})}
        received = 0
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
                if offset and response.status != 206:
                    offset = 0  # the server ignored the range: start over
                total = _total_size(response, offset)
                with open(part, "ab" if offset else "wb") as out, tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=part.name.removesuffix(".part"), disable=not progress, leave=False,
                ) as bar:
                    while block := response.read(_CHUNK):
                        out.write(block)
                        received += len(block)
                        bar.update(len(block))
            if total is None or part.stat().st_size >= total:
                return
            reason = f"connection closed after {part.stat().st_size} of {total} bytes"
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                return  # the partial file is already complete
            raise WeightsError(f"cannot download {url}: HTTP {exc.code} {exc.reason}; use --url MIRROR") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        if received == 0 or attempt == attempts:
            break
    raise WeightsError(
        f"cannot download {url}: {reason}. Check the connection (the download resumes where it stopped), "
        f"use --url MIRROR, or fetch the zip elsewhere and run `videocolor weights install NAME PATH.zip`"
    )


def _total_size(response: http.client.HTTPResponse, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].strip().isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _extract(record: Weights, archive: Path, target: Path) -> None:
    """Copy each of ``record.files`` out of the zip into ``target`` under its canonical path.

    Members are found by file name, so a zip with or without a top folder works; ignored files are skipped.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
            for rel in record.files:
                member = _find_member(members, rel, archive)
                destination = target / rel
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise WeightsError(f"{archive}: not a valid zip archive ({exc}); download it again") from None


def _find_member(members: list[zipfile.ZipInfo], rel: str, archive: Path) -> zipfile.ZipInfo:
    basename = rel.rsplit("/", 1)[-1]
    matches = [m for m in members if m.filename.rsplit("/", 1)[-1] == basename]
    exact = [m for m in matches if m.filename == rel or m.filename.endswith("/" + rel)]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise WeightsError(f"{archive}: {rel} is missing from the archive; is this the right zip?")
    raise WeightsError(f"{archive}: several files are named {basename}; cannot tell which is {rel}")


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target`` with renames only, so readers never see a half-written folder."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}-{time.monotonic_ns()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
