import torch
import torch.nn.functional as F

from videocolor.evaluation import synthetic as synth
from videocolor.models.backbone_lite0 import EfficientNetLite0, _pointwise, efficientnet_lite0
from videocolor.models.exemplar_card import Lite0Weights
from videocolor.models.weights import file_sha256


def test_strict_load_parameter_count_and_sha256():
    model = efficientnet_lite0()
    ((rel, path),) = Lite0Weights.IMAGENET.package_files().items()
    assert sum(p.numel() for p in model.parameters()) == Lite0Weights.IMAGENET.meta["num_params"][rel]
    assert file_sha256(path) == Lite0Weights.IMAGENET.sha256
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state) == 296
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_recognises_a_cat():
    cat = torch.from_numpy(synth.load_photo("chelsea")).permute(2, 0, 1)[None].float() / 255
    cat = F.interpolate(cat, size=(224, 224), mode="area")
    top5 = efficientnet_lite0()(cat).topk(5).indices[0].tolist()
    assert top5[0] in range(281, 286), top5  # ImageNet tabby/tiger/Persian/Siamese/Egyptian cat


def test_same_padding_and_tap_shapes():
    model = EfficientNetLite0()
    taps = model.features(torch.rand(1, 3, 37, 61))
    # TF "SAME": every stride-s stage gives ceil(size / s).
    assert [t.shape[-2:] for t in taps] == [(19, 31), (10, 16), (5, 8), (3, 4), (2, 2)]
    assert [t.shape[1] for t in taps] == [16, 24, 40, 112, 320]


def test_fused_backbone_gives_the_same_features_and_logits():
    x = torch.rand(2, 3, 45, 70)
    plain, fused = efficientnet_lite0(), efficientnet_lite0().fuse_for_inference()
    with torch.inference_mode():
        for a, b in zip(plain.features(x), fused.features(x)):
            torch.testing.assert_close(a, b.contiguous(), atol=2e-4, rtol=1e-4)
        torch.testing.assert_close(plain(x), fused(x), atol=2e-3, rtol=1e-4)


def test_pointwise_product_equals_the_convolution_in_either_memory_format():
    conv = torch.nn.Conv2d(24, 40, 1, bias=True)
    x = torch.rand(3, 24, 9, 13)
    expected = conv(x)
    for memory in (torch.contiguous_format, torch.channels_last):
        torch.testing.assert_close(_pointwise(conv, x.contiguous(memory_format=memory)), expected, atol=1e-5, rtol=1e-5)
