"""Reading and writing still images: color references and the ``image`` command's inputs/outputs.

OpenCV decodes every common format, keeps 16-bit depth, converts palette and CMYK images to BGR and applies
EXIF orientation; this module turns whatever it returns into one tensor contract.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError, OutputError
from ..ops.color import rgb_to_lab
from .atomic import write_atomic

log = logging.getLogger("videocolor")

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".ppm", ".pgm", ".pnm"})
# Chroma (Lab a/b magnitude) that 99% of a "grayscale" picture's pixels stay under.
_GRAY_CHROMA = 3.0
# Long side references are read at: models work far below it (256-1024 px), and memory stays bounded.
REFERENCE_MAX_SIDE = 2048
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def is_image_file(path: str | Path) -> bool:
    """True for files whose extension is one of the still-image formats we read."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def reference_files(folder: str | Path) -> list[Path]:
    """The picture files of a reference folder, sorted; entries that cannot be read as files (a dangling
    symlink, a symlink loop, no permission) are skipped with a warning naming them."""
    files = []
    for path in sorted(Path(folder).iterdir()):
        if not is_image_file(path):
            continue
        try:
            path.stat()
        except OSError as exc:
            log.warning("%s: skipped, not a readable file (%s)", path, exc.strerror or exc)
            continue
        if path.is_file():
            files.append(path)
    return files


def read_rgb(path: str | Path, max_side: int | None = None) -> torch.Tensor:
    """Read an image file as RGB ``(3, H, W)`` float32 in [0, 1] (gray images are replicated to 3 channels).

    Handles 8/16-bit and float images, gray, gray+alpha, RGB, RGBA (alpha dropped: ``read_rgba`` keeps it),
    palette and CMYK. With ``max_side``, a larger picture is shrunk (area average) to that long side as it is
    decoded: JPEGs decode at 1/2, 1/4 or 1/8 scale directly, so a huge picture never exists at full size in float.
    Raises ``InputError`` naming the file when it is missing or not a readable image.
    """
    return _read(Path(path), max_side, alpha=False)


def read_rgba(path: str | Path, max_side: int | None = None) -> torch.Tensor:
    """Read an image file as RGBA ``(4, H, W)`` float32 in [0, 1]: RGB as ``read_rgb``, then its alpha (straight,
    not premultiplied), 1 where the file has none. A picture with alpha is read as stored (no EXIF turn).
    Raises ``InputError`` as ``read_rgb``."""
    return _read(Path(path), max_side, alpha=True)


def _read(path: Path, max_side: int | None, alpha: bool) -> torch.Tensor:
    try:  # opening tells a missing file or a folder apart (``checks`` loads references with this module)
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    see_through = _with_alpha(data) if alpha else None  # colors and alpha of one decode: same size, same depth
    image = see_through if see_through is not None else _decode(data, max_side) if data.size else None
    if image is None:
        raise InputError(f"{path}: not an image (or an unsupported/corrupt image file)")
    if max_side is not None and max(image.shape[:2]) > max_side:
        scale = max_side / max(image.shape[:2])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = image.ndim == 2 or image.shape[2] < 3
    planes = [_unit(image if image.ndim == 2 else image[..., 0])] * 3 if gray else [_unit(image[..., c]) for c in (2, 1, 0)]
    if alpha:
        planes.append(_unit(image[..., -1]) if see_through is not None else np.ones(image.shape[:2], np.float32))
    return torch.from_numpy(np.stack(planes)).contiguous()


def _unit(plane: np.ndarray) -> np.ndarray:
    """A uint8, uint16 or float plane as float32 in [0, 1]."""
    if plane.dtype == np.uint16:
        return plane.astype(np.float32) / 65535.0
    if plane.dtype == np.uint8:
        return plane.astype(np.float32) / 255.0
    return np.clip(plane.astype(np.float32), 0.0, 1.0)


def _with_alpha(data: np.ndarray) -> np.ndarray | None:
    """An encoded PNG, WebP or TIFF as stored, gray+alpha ``(H, W, 2)`` or BGRA ``(H, W, 4)``; ``None`` without alpha.

    Other formats have no alpha (and a CMYK JPEG decodes to 4 channels as stored).
    """
    head = data[:12].tobytes()
    if not (head.startswith((b"\x89PNG", b"II*\x00", b"MM\x00*")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
        return None
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return raw if raw is not None and raw.ndim == 3 and raw.shape[2] in (2, 4) else None


def _decode(data: np.ndarray, max_side: int | None) -> np.ndarray | None:
    """OpenCV's decode at full depth, or at a reduced 8-bit scale when the picture is over twice ``max_side``."""
    full = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH
    if max_side is None:
        return cv2.imdecode(data, full)
    size = _header_size(data)
    factor = max((f for f in _REDUCED if size and max(size) >= f * max_side), default=1)
    return cv2.imdecode(data, _REDUCED[factor] if factor > 1 else full)


def _header_size(data: np.ndarray) -> tuple[int, int] | None:
    """``(width, height)`` of an encoded picture from its header (FFmpeg's probe; nothing is decoded)."""
    import io

    import av

    try:
        with av.open(io.BytesIO(data.tobytes()), metadata_errors="ignore") as container:
            ctx = container.streams.video[0].codec_context
            return (ctx.width, ctx.height) if ctx.width else None
    except (av.FFmpegError, IndexError, ValueError):
        return None


def is_grayscale(rgb: torch.Tensor) -> bool:
    """True when an RGB image ``(3, H, W)`` in [0, 1] has (almost) no chroma anywhere."""
    small = torch.nn.functional.interpolate(rgb[None], size=(64, 64), mode="area")[0]
    chroma = rgb_to_lab(small)[1:].norm(dim=0).flatten()
    return bool(torch.quantile(chroma, 0.99) < _GRAY_CHROMA)


def load_reference(path: str | Path) -> torch.Tensor:
    """A color reference as RGB ``(3, H, W)`` float32 in [0, 1], long side at most ``REFERENCE_MAX_SIDE``;
    a grayscale picture is an ``InputError``."""
    rgb = read_rgb(path, REFERENCE_MAX_SIDE)
    if is_grayscale(rgb):
        raise InputError(f"{path}: reference is grayscale and has no color to transfer; use a color picture")
    return rgb


def write_rgb(path: str | Path, rgb: torch.Tensor) -> None:
    """Write RGB ``(3, H, W)`` in [0, 1] as an 8-bit image in the format of the extension, atomically."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"{path}: output folder {path.parent} does not exist")
    array = rgb.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()[..., ::-1]
    image = np.round(array * 255.0).astype(np.uint8)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"{path}: cannot encode an image with extension {path.suffix!r}")
    write_atomic(path, encoded.tobytes())
