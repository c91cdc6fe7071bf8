"""How a film's frames are composed, chosen once per film (``plane_composition``, called by ``film.analyse``).

- **Planes** (the common case): an 8-bit planar Y'CbCr film (``yuv420p``, ``yuvj420p``, ``yuv422p``, ``yuv444p``...)
  whose chroma is neutral (a black-and-white film), written on the CPU to an 8-bit planar Y'CbCr video output of the
  same range (the default: libx264 ``yuv420p``). The lightness the model sees is a table of the source's luma; the
  colors are computed at the output chroma planes' own resolution (a quarter of the pixels in 4:2:0), and the
  output's luma is the source's shifted by the colors' own luma at that resolution (the film's grain and detail
  stay), or, with the setting ``keep_luma``, the source's bit for bit (``ops.ycbcr``). No full-resolution RGB is made
  and nothing goes through swscale.
- **Lab** (everything else): the decoded frames are converted to RGB, their Lab lightness joined to the chroma
  upsampled to full resolution, converted back to RGB and handed to the encoder, which converts it to its pixel
  format. Taken for image sequence outputs, deep (>8-bit) sources or outputs, RGB, gray or other pixel formats,
  a source and output of different ranges, a tinted scan (chroma not neutral on the first frame) and a GPU render.
"""

from __future__ import annotations

import logging
from typing import Any

import av
import torch

from ..io.decode import VideoInfo, plane_array, yuv_layout
from ..ops.ycbcr import YCbCrFormat, neutral_chroma

log = logging.getLogger("videocolor")


def plane_composition(
    info: VideoInfo, first: av.VideoFrame | None, out_pix_fmt: str | None, device: torch.device, keep_luma: bool = False
) -> YCbCrFormat | None:
    """The output's coding when ``info``'s film is rendered with the plane composition, else ``None`` (Lab composition).

    Args:
        info: the source's stream.
        first: its first decoded frame (its chroma is checked for a tint), ``None`` when there is none.
        out_pix_fmt: the video output's pixel format (after ``encode.choose_pix_fmt``); ``None`` for an image sequence.
        device: where the render runs.
        keep_luma: the output's luma is the source's, bit for bit (the setting ``keep_luma``).
    """
    layout = yuv_layout(out_pix_fmt) if out_pix_fmt else None
    full_range = info.pix_fmt.startswith("yuvj") or info.color_range == 2
    why = (
        "an image sequence output" if out_pix_fmt is None
        else f"source pixel format {info.pix_fmt}" if yuv_layout(info.pix_fmt) is None or first is None or first.format.name != info.pix_fmt
        else f"output pixel format {out_pix_fmt}" if layout is None
        else "a source and output of different ranges" if full_range != (out_pix_fmt.startswith("yuvj") or info.color_range == 2)
        else "a render on " + device.type if device.type != "cpu"
        else "a tinted source (its chroma is not neutral)" if not neutral_chroma([plane_array(first, 1), plane_array(first, 2)])
        else None
    )
    if why is not None:
        log.debug("%s: Lab composition (%s)", info.path, why)
        return None
    return YCbCrFormat("bt709" if info.colorspace == 1 else "bt601", full_range, layout, keep_luma)


def to_json(fmt: YCbCrFormat | None) -> list[Any] | None:
    """``fmt`` as JSON data for the job's table (``None`` stays ``None``)."""
    return None if fmt is None else [fmt.matrix, fmt.full_range, list(fmt.subsampling), fmt.keep_luma]


def from_json(data: list[Any] | None) -> YCbCrFormat | None:
    """The table's ``to_json`` data back (a table written before the plane composition has none: Lab)."""
    return None if not data else YCbCrFormat(data[0], bool(data[1]), (int(data[2][0]), int(data[2][1])), bool(data[3]))
