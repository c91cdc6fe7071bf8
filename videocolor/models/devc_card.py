"""Registry entry of DEVC, the paper's network: its settings section ``[videocolor.devc]`` and its weights.

The implementation is ``models/devc.py``; the official checkpoints are installed with ``videocolor weights``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings_fields import check_knobs, knob
from .exemplar_card import TEMPERATURE_RANGE
from .spec import ModelSpec, Weights, WeightsEnum

NETWORK_SHAPE = (216, 384)
WARPNET_FILE = "checkpoints/video_moredata_l1/nonlocal_net_iter_76000.pth"
COLORNET_FILE = "checkpoints/video_moredata_l1/colornet_iter_76000.pth"
VGG_FILE = "data/vgg19_conv.pth"


@dataclass(frozen=True)
class DEVCSettings:
    """``[videocolor.devc]``: the DEVC network (``models/devc.py``).

    Attributes:
        temperature: attention softmax temperature (1e-10 as in the released test.py: a hard argmax), in
            [1e-30, 1] (``TEMPERATURE_RANGE``).
        smoothing: apply the released edge-aware smoothing of the predicted chroma.
    """

    temperature: float = knob(1e-10, low=TEMPERATURE_RANGE[0], high=TEMPERATURE_RANGE[1])
    smoothing: bool = knob(True)

    def __post_init__(self) -> None:
        check_knobs(self, "devc.")


class DEVCWeights(WeightsEnum):
    """The official DEVC checkpoints (GitHub release v1.0 of Deep-Exemplar-based-Video-Colorization)."""

    RELEASE_V1 = Weights(
        url="https://github.com/zhangmozhe/Deep-Exemplar-based-Video-Colorization/releases/download/v1.0/"
        "colorization_checkpoint.zip",
        archive="colorization_checkpoint.zip",
        sha256=None,  # not published; install verifies the zip's structure and every tensor's name and shape
        files={
            WARPNET_FILE: "videocolor.models.devc:WarpNet",
            COLORNET_FILE: "videocolor.models.devc:ColorVidNet",
            VGG_FILE: "videocolor.models.vgg19:VGG19",
        },
        ignored_files=("data/vgg19_gray.pth",),
        input_contract={
            "network_shape": NETWORK_SHAPE,
            "lightness": "L - 50 (Lab L in [0, 100])",
            "ab": "raw Lab a/b",
            "vgg_input": "target: L / 100 as gray RGB; reference: its RGB; Caffe BGR x 255 minus means",
            "size_multiple": 8,
        },
        meta={
            "num_params": {WARPNET_FILE: 6_917_131, COLORNET_FILE: 32_802_370, VGG_FILE: 20_024_384},
            "source": "https://github.com/zhangmozhe/Deep-Exemplar-based-Video-Colorization",
            "paper": "Zhang et al., Deep Exemplar-based Video Colorization, CVPR 2019",
            "license": "MIT",
        },
    )


MODEL = ModelSpec(
    name="devc",
    summary="the paper's video network (Zhang et al. 2019), official checkpoints via `videocolor weights`",
    settings=DEVCSettings,
    weights=DEVCWeights.RELEASE_V1,
    builder="videocolor.models.devc:build",
    auto_priority=10,
)
