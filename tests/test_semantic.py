"""The DeepLabv3-MobileNetV2 converter (checked against the OpenVINO runtime) and the semantic branch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from chromaseg.core.model import build_colorizer
from chromaseg.core.semantic import (FEATURE_CHANNELS, DeepLabV3MobileNetV2, SameConv2d, SemanticColorizer,
                                     SemanticEncoder, load_deeplab)

SHARED_IR = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "deeplabv3-mnv2"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train"


@pytest.mark.parametrize("size", [8, 9, 15, 16])
def test_same_padding_matches_tensorflow(size: int) -> None:
    conv = SameConv2d(1, 1, 3, 2, 0, bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.arange(size * size, dtype=torch.float32).view(1, 1, size, size)
    out = conv(x)
    assert out.shape[-1] == -(-size // 2)
    total = max((out.shape[-1] - 1) * 2 + 3 - size, 0)  # TF SAME: the odd pixel of padding goes at the end
    ref = F.conv2d(F.pad(x, (total // 2, total - total // 2) * 2), conv.weight, stride=2)
    torch.testing.assert_close(out, ref)


def test_module_has_the_ir_layout_and_takes_any_size() -> None:
    model = DeepLabV3MobileNetV2().eval()
    convs = model.convolutions()
    assert len(convs) == 55 and sum(c.groups > 1 for c in convs) == 17
    with torch.no_grad():
        assert model(torch.rand(1, 3, 37, 50) * 255).shape == (1, 21, 5, 7)


def test_missing_weights_give_none(tmp_path) -> None:
    assert load_deeplab(tmp_path) is None


def test_semantic_colorizer_is_frozen_and_shaped() -> None:
    encoder = SemanticEncoder(DeepLabV3MobileNetV2())
    net = SemanticColorizer(build_colorizer("ccc-mobile-tiny", 9, semantic_channels=FEATURE_CHANNELS), encoder)
    net.train()
    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())
    out = net(torch.rand(2, 1, 33, 40) * 100)
    assert out.shape == (2, 9, 9, 10)
    out.sum().backward()  # gradients reach the colorizer only
    assert net.colorizer.head.weight.grad is not None
    with pytest.raises(ValueError):
        SemanticColorizer(build_colorizer("ccc-mobile-tiny", 9), encoder)


@pytest.mark.skipif(not (SHARED_IR / "deeplabv3.xml").exists(),
                    reason=f"the DeepLab IR is not at {SHARED_IR} (it is never committed; CI has ../shared)")
def test_converter_matches_openvino_on_a_real_photo() -> None:
    import openvino as ov
    from PIL import Image

    photo = sorted((DATA / "coco128").glob("*.jpg"))[0] if DATA.exists() else None
    if photo is not None:
        image = np.asarray(Image.open(photo).convert("RGB").resize((513, 513), Image.BILINEAR), np.float32)
    else:  # still a natural-looking input: smooth gradients
        yy, xx = np.mgrid[0:513, 0:513] / 513
        image = (np.stack([xx, yy, xx * yy], -1) * 255).astype(np.float32)
    core = ov.Core()
    ir = core.read_model(SHARED_IR / "deeplabv3.xml")
    ops = {op.get_friendly_name(): op for op in ir.get_ops()}
    ir.add_outputs([ops["concat_projection/Relu"].output(0), ops["logits/semantic/BiasAdd/Add"].output(0)])
    compiled = core.compile_model(ir, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled([image[None]])
    labels, features, logits = (result[o] for o in compiled.outputs)

    model = load_deeplab(SHARED_IR.parent)
    assert model is not None
    with torch.no_grad():
        ours_features = model.features(torch.from_numpy(image).permute(2, 0, 1)[None])
        ours_logits = model.logits(ours_features)
    np.testing.assert_allclose(ours_features.numpy(), features, atol=1e-3, rtol=0)
    np.testing.assert_allclose(ours_logits.numpy(), logits, atol=1e-3, rtol=0)
    up = F.interpolate(ours_logits, size=(513, 513), mode="bilinear", align_corners=True).argmax(1)[0].numpy()
    assert (up == labels).mean() > 0.999
