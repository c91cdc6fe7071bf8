"""Pixel-accurate correction of the exemplar model's chroma where the reference shows the same scene.

The semantic match works on a grid of cells (8 work pixels on a CPU), so a cell straddling an edge takes
one mix of colors and small details wash out to their surroundings. Where the frame and the reference show
the same scene (a color frame of the same shot, a stereo view, two moments of a moving scene, a planar or
distant scene seen from elsewhere), a dense optical flow between their lightness images gives every frame
pixel its own reference pixel. Coarse to fine: the flow runs between the frame and the reference as they
are and, where that leaves most of the frame untrusted, also between the frame and the reference aligned
by a homography (ORB keypoints, ratio test, RANSAC), for viewpoint changes too large for the flow alone; each pixel
keeps the more trusted of the two.

The flow is trusted per pixel only where it is consistent: the forward and backward flows agree (Lai et
al. 2018, the pixel-level form of the paper's bidirectional consistency) and the warped reference lightness
matches the frame's. The reference's chroma warped by the flow then replaces the semantic result, weighted
by the share of trusted pixels around each one; elsewhere the semantic result stays. On a reference of
another scene the homography finds too few inliers and the checks fail nearly everywhere, so the chroma is
left as it was. Flow: OpenCV DIS on the CPU, through the temporal stage's flow and checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..ops.color import lightness_to_u8
from ..ops.flow import FlowEstimator, warp
from ..ops.upsample import box_mean

# DIS preset: "medium" gained 0.08 dB over "fast" on the real pairs (0.01 in-shot) for 3.4 ms more CPU per
# frame at the CPU work size (4.5 against 1.1 for the two flows), a third of the model's own time: not worth it.
DIS_PRESET = "fast"
# Lab L difference above which a warped reference pixel does not count as the frame's: 10 beat 4, 6, 15, 20.
LIGHTNESS_TOLERANCE = 10.0
# Share of trusted pixels in a 3x3 window under which the flow is not used at all (full weight at 1).
MIN_SHARE = 0.3
# Share of a frame the flow must trust (directly or through the homography) for it to be refined. A frame
# under it rests the refinement for the next RETRY_EVERY - 1 frames of the shot: on a reference of another
# scene the flow and the homography search fail frame after frame, and cost more than the backbone. The
# decision follows the frames' order, never the batch size, so a film renders alike in batches of 1 or 8.
SKIP_BELOW = 0.01
RETRY_EVERY = 8
# The homography is tried only for frames whose direct flow trusts less than this share of the frame (the
# pairs it helps: 0.01-0.26; in-shot frames, 0.3-0.7, gained nothing from it at 0.5).
ALIGN_BELOW = 0.3
KEYPOINTS = 1000  # ORB keypoints per image (at the work resolution)
# Matches (Lowe's ratio test) and RANSAC inliers for the homography to count. Measured at the CPU work size:
# the real pairs that share a view reach 30-250 of each, other shots of a film at most 28 matches, 13 inliers.
MIN_INLIERS = 20
_RATIO = 0.8
# RANSAC (3 px) gives up after this many draws: enough for half the matches being inliers, and a frame
# whose matches are mostly wrong costs about 1 ms instead of 30-60 at OpenCV's default of 2000.
_RANSAC_PX, _RANSAC_DRAWS = 3.0, 200


@dataclass(eq=False)  # hashed by identity: the refiner keeps its per-reference state in a dict
class FlowReference:
    """A reference prepared for the flow refinement.

    Attributes:
        lab: ``(1, 3, h, w)`` the reference in Lab at about the work resolution.
        points: ``(K, 2)`` float32 x, y of its ORB keypoints in ``lab``'s pixels (``K`` may be 0).
        descriptors: ``(K, 32)`` uint8 their ORB descriptors, ``None`` when there are none.
    """

    lab: torch.Tensor
    points: np.ndarray
    descriptors: np.ndarray | None


class FlowRefiner:
    """Replaces chroma by the reference's, carried by optical flow, wherever the flow passes its checks.

    One instance per colorizer: the OpenCV objects inside are not shared across threads.

    Args:
        device: where the checks and the blend run (the flow itself runs on the CPU).
        preset: DIS preset of the flow (``ultrafast``, ``fast``, ``medium``).
        homography: align the reference by a homography where the direct flow trusts too little of a frame.
    """

    def __init__(self, device: torch.device, preset: str = DIS_PRESET, *, homography: bool = True) -> None:
        self._flow = FlowEstimator("dis", device, dis_preset=preset, lightness_tolerance=LIGHTNESS_TOLERANCE)
        self.homography = homography
        self._orb = cv2.ORB_create(KEYPOINTS)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self.reset()

    def prepare(self, lab: torch.Tensor) -> FlowReference:
        """The flow's view of a reference ``lab`` ``(1, 3, h, w)`` at the work resolution: it and its keypoints."""
        keypoints, descriptors = self._orb.detectAndCompute(np.ascontiguousarray(lightness_to_u8(lab[0, 0]).cpu().numpy()), None)
        points = np.float32([k.pt for k in keypoints]).reshape(-1, 2)
        return FlowReference(lab, points, descriptors)

    def refine(
        self, lightness: torch.Tensor, ab: torch.Tensor, confidence: torch.Tensor, reference: FlowReference
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Refined chroma and confidence.

        Args:
            lightness: ``(B, 1, h, w)`` Lab L in [0, 100] of the frames at the work resolution.
            ab: ``(B, 2, h, w)`` their chroma from the semantic match.
            confidence: ``(B, 1, h, w)`` in [0, 1], the semantic match's.
            reference: what ``prepare`` made of the reference (resized to ``(h, w)`` when its shape differs).

        Returns:
            ``ab`` ``(B, 2, h, w)``, and ``confidence`` ``(B, 1, h, w)`` raised to the flow's trust where it is higher.
        """
        size = lightness.shape[-2:]
        lab = reference.lab.to(lightness)
        if lab.shape[-2:] != size:
            lab = F.interpolate(lab, size=size, mode="bilinear", align_corners=False)
        ab, confidence = ab.clone(), confidence.clone()
        for i in range(len(lightness)):
            if self._resting.get(reference, 0):  # frames follow one another: another scene is not retried at once
                self._resting[reference] -= 1
                continue
            frame = lightness[i : i + 1]
            trust, carried = self._carry(frame, lab)
            if self.homography and trust.mean() < ALIGN_BELOW:
                aligned = self._align(frame, reference)
                if aligned is not None:
                    more, moved = self._carry(frame, aligned[:, :3])
                    more = more * (aligned[:, 3:] > 0.99)  # only where the aligned reference covers the frame
                    better = more > trust
                    trust, carried = torch.where(better, more, trust), torch.where(better, moved, carried)
            if trust.mean() < SKIP_BELOW:
                self._resting[reference] = RETRY_EVERY - 1
                continue
            ab[i : i + 1] = trust * carried + (1 - trust) * ab[i : i + 1]
            confidence[i : i + 1] = torch.maximum(confidence[i : i + 1], trust)
        return ab, confidence

    def reset(self) -> None:
        """Forget which references were given up: call at every cut (``ExemplarColorizer.reset`` does).

        The count of frames left to rest is kept per reference, so the several references of a fused shot,
        refined in turn for each batch, each follow the frames' order as a single one does.
        """
        self._resting: dict[FlowReference, int] = {}

    def _carry(self, lightness: torch.Tensor, reference_lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trust ``(B, 1, h, w)`` in [0, 1] and the reference's ab ``(B, 2, h, w)`` carried by the flow onto each frame."""
        valid, backward = self._flow.validity(reference_lab[:, :1], lightness)
        trust = ((box_mean(valid, 1) - MIN_SHARE) / (1 - MIN_SHARE)).clamp_(0, 1)
        return trust, warp(reference_lab[:, 1:], backward)

    def _align(self, lightness: torch.Tensor, reference: FlowReference) -> torch.Tensor | None:
        """The reference's Lab and coverage ``(1, 4, h, w)`` seen through the homography onto the frame ``(1, 1, h, w)``.

        ``None`` when the frame or the reference has too few keypoints or the homography too few inliers.
        """
        keypoints, descriptors = self._orb.detectAndCompute(np.ascontiguousarray(lightness_to_u8(lightness[0, 0]).cpu().numpy()), None)
        if descriptors is None or reference.descriptors is None:
            return None
        pairs = self._matcher.knnMatch(reference.descriptors, descriptors, k=2)
        matches = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO * p[1].distance]
        if len(matches) < MIN_INLIERS:
            return None
        source = reference.points[[m.queryIdx for m in matches]]
        target = np.float32([keypoints[m.trainIdx].pt for m in matches])
        homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, _RANSAC_PX, maxIters=_RANSAC_DRAWS)
        if homography is None or inliers.sum() < MIN_INLIERS:
            return None
        lab = reference.lab[0].to("cpu", torch.float32)
        planes = torch.cat((lab, torch.ones_like(lab[:1]))).permute(1, 2, 0).numpy()
        height, width = lightness.shape[-2:]
        seen = cv2.warpPerspective(planes, homography, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return torch.from_numpy(seen).permute(2, 0, 1)[None].to(lightness)
