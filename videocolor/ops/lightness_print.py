"""A frame's lightness print, and how well a picture matches it, whatever its colors and global tone.

A print is the frame's Lab L shrunk to ``PRINT_SIDE`` px on its long side (area average; never enlarged),
one byte a pixel. Two pictures show the same frame when the *changes* of lightness across them agree:
the Pearson correlation of their horizontal and vertical L differences at the print's size. Colors and a
global brightness, contrast or gamma change (a colorist re-lighting a keyframe), a mild vignette, JPEG and
another scale move it little; another frame moves it to about 0 (measured: ``keyframes.MIN_MATCH``).

>>> frame = cv2.GaussianBlur(np.random.default_rng(0).uniform(0, 100, (36, 64)).astype(np.float32), (0, 0), 2)
>>> lightness_print(frame).shape
(18, 32)
>>> round(print_match(lightness_print(frame), (frame / 100) ** 2 * 100), 2)   # gamma 2: the same frame
0.99
>>> round(print_match(lightness_print(frame), np.roll(frame, 12, axis=1)), 2)  # another frame
0.06
"""

from __future__ import annotations

import cv2
import numpy as np

PRINT_SIDE = 32  # the print's long side in px: 16 and 64 separated the measured cases less well (keyframes.MIN_MATCH)
_MIN_PAIRS = 4  # fewer pixel pairs than this to compare (a 1x1 film, a transparent picture): nothing to tell apart
_FLAT = 1e-6  # variance of a print's differences under which it is flat (a black or blank frame)
# Spread (standard deviation, L units) of a picture's differences at the print's size under which it shows a flat
# frame too: a vignette of 0.5 over a blank frame of L 30 / 60 / 95 spreads them 0.8 / 1.5 / 2.4; three photos, 9-18.
_FLAT_PICTURE = 3.0


def lightness_print(lightness: np.ndarray) -> np.ndarray:
    """The print of a lightness picture: ``(H, W)`` Lab L in [0, 100] -> uint8 ``(h, w)`` of L x 2.55, long side
    ``min(PRINT_SIDE, max(H, W))``."""
    height, width = lightness.shape
    scale = min(1.0, PRINT_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(np.ascontiguousarray(lightness, dtype=np.float32), size, interpolation=cv2.INTER_AREA)
    return np.clip(np.round(small * 2.55), 0, 255).astype(np.uint8)


def print_match(print_: np.ndarray, lightness: np.ndarray, opaque: np.ndarray | None = None) -> float:
    """How well the picture ``lightness`` shows the frame of ``print_``, in [-1, 1] (1: the same frame).

    Args:
        print_: a frame's print, uint8 ``(h, w)`` (``lightness_print``).
        lightness: the picture's Lab L ``(H, W)`` in [0, 100], any size near the print's aspect.
        opaque: bool ``(H, W)``, the picture's pixels to compare (default all): a pair of neighbours counts
            only when both are opaque.

    Returns 1.0 when there is nothing to compare (fewer than 4 pairs of neighbours: a frame of a pixel or two,
    a picture transparent nearly everywhere). A flat frame (black, blank) has no changes to correlate: a
    picture nearly flat too gives 1.0, any other 0.0.
    """
    size = print_.shape[::-1]
    picture = cv2.resize(lightness_print(lightness).astype(np.float32) / 2.55, size, interpolation=cv2.INTER_AREA)
    frame = print_.astype(np.float32) / 2.55
    keep = np.ones(print_.shape, bool)
    if opaque is not None:
        keep = cv2.resize(opaque.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    pairs = np.concatenate([(keep[:, 1:] & keep[:, :-1]).ravel(), (keep[1:] & keep[:-1]).ravel()])
    a, b = _differences(frame)[pairs], _differences(picture)[pairs]
    if a.size < _MIN_PAIRS:
        return 1.0
    a, b = a - a.mean(), b - b.mean()
    if (a * a).mean() < _FLAT:
        return 1.0 if np.sqrt((b * b).mean()) < _FLAT_PICTURE else 0.0
    spread = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / spread) if spread > 0 else 0.0


def _differences(picture: np.ndarray) -> np.ndarray:
    """Horizontal then vertical differences of neighbouring pixels of ``(h, w)``, flat: ``h (w - 1) + (h - 1) w``."""
    return np.concatenate([np.diff(picture, axis=1).ravel(), np.diff(picture, axis=0).ravel()])
