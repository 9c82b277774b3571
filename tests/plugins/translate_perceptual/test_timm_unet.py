"""The timm_unet generator (translate_perceptual): the generator checks on two backbones, pretrained encoder weights
from a file, the offline error, and a pix2pix run whose exported model loads without the backbone's weights and
exports to ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file, save_file

import translate
import translate_perceptual
from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.components.method import ComponentRecord, ExportSpec
from translate.engine.trainer import train
from translate.errors import TranslateError
from translate.models import build_meta, load_model
from translate.models.export import export_run
from translate.models.weights import WeightsMissing
from translate.nn.traits import rebuild_options
from translate.testing import check_generator, check_options_strict, load_registry_with

REG = load_registry_with(translate_perceptual)
COMP = REG.get("generator", "timm_unet")


@pytest.mark.parametrize("backbone", ["test_resnet", "test_efficientnet"])
@pytest.mark.parametrize("channels", [(3, 3), (1, 2)], ids=["rgb-rgb", "gray-ab"])
def test_generator_checks_pass_on_two_backbones(backbone: str, channels: tuple[int, int]):
    check_options_strict(COMP)
    module = check_generator(COMP, options={"backbone": backbone, "weights": "random", "decoder_channels": [16] * 5},
                             in_channels=channels[0], out_channels=channels[1])
    assert module.size_multiple == 32
    y = module.eval()(torch.rand(1, channels[0], 64, 96) * 2 - 1)
    assert y.shape == (1, channels[1], 64, 96) and y.abs().max() <= 1


def test_backbones_with_other_reductions_and_a_wrong_decoder_are_handled():
    convnext = COMP.build({"backbone": "test_convnext", "weights": "random"}, in_channels=3, out_channels=3)
    assert convnext.size_multiple == 32 and len(convnext.decoder) == 4  # reductions 4, 8, 16, 32
    assert convnext(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    with pytest.raises(TranslateError, match="decoder_channels has 2 entries but the encoder gives 5 features"):
        COMP.build({"backbone": "test_resnet", "weights": "random", "decoder_channels": [8, 8]},
                   in_channels=3, out_channels=3)
    with pytest.raises(TranslateError, match="timm has no model 'resnet_nope'"):
        COMP.build({"backbone": "resnet_nope", "weights": "random"}, in_channels=3, out_channels=3)


def test_pretrained_encoder_weights_load_from_a_file_and_adapt_to_one_channel(tmp_path: Path):
    torch.manual_seed(3)
    source = timm.create_model("test_resnet")
    path = tmp_path / "encoder.safetensors"
    save_file(source.state_dict(), str(path))
    gen = COMP.build({"backbone": "test_resnet", "weights_file": str(path)}, in_channels=1, out_channels=2)
    assert gen.weights_source == str(path.resolve()) and set(gen.ignored_keys) == {"fc.weight", "fc.bias"}
    encoder, expected = gen.encoder.state_dict(), source.state_dict()
    from timm.models import adapt_input_conv

    assert torch.equal(encoder["conv1.0.weight"], adapt_input_conv(1, expected["conv1.0.weight"]))
    assert all(torch.equal(v, expected[k]) for k, v in encoder.items() if k != "conv1.0.weight")


def test_default_pretrained_weights_offline_are_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    for var, sub in (("TRANSLATE_WEIGHTS_DIR", "w"), ("XDG_CACHE_HOME", "c"), ("TORCH_HOME", "t")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    with pytest.raises(WeightsMissing) as info:
        COMP.build({"backbone": "test_resnet"}, in_channels=3, out_channels=3)
    message = str(info.value)
    for part in ("timm_unet", "'test_resnet'", "generator.options.weights_file", "HF_HUB_OFFLINE=1",
                 'weights = "random"'):
        assert part in message, part


def test_the_model_file_record_says_stored_and_rebuilds_on_the_meta_device():
    gen = COMP.build({"backbone": "test_resnet", "weights": "random"}, in_channels=3, out_channels=3)
    options = COMP.parse_options({"backbone": "test_resnet", "weights_file": "/absent/x.safetensors"}, "o")
    record = ComponentRecord("generator", "timm_unet", options.model_dump(mode="json"), "perceptual",
                             "translate-i2i", "0", 3, 3)
    assert record.options["weights"] == "pretrained"
    meta, _ = build_meta(method="pix2pix", exports=[(ExportSpec("AtoB", "G"), gen, record)])
    stored = meta.generators["AtoB"].options
    assert stored["weights"] == "stored" and record.options["weights"] == "pretrained"  # the record is kept
    assert stored["weights_file"] == "/absent/x.safetensors"  # where it started from
    assert rebuild_options(gen, {"weights": "random"}) == {"weights": "random"}
    with torch.device("meta"):
        rebuilt = COMP.build(stored, in_channels=3, out_channels=3)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in gen.state_dict().items()}


TIMM_UNET = '''[generator]
name = "timm_unet"

[generator.options]
backbone = "test_resnet"
weights_file = "{weights}"
decoder_channels = [16, 16, 8, 8, 8]
'''


def test_pix2pix_with_timm_unet_trains_exports_and_loads_without_the_backbone_weights(tmp_path: Path,
                                                                                         shapes_root: Path):
    weights = tmp_path / "backbone" / "test_resnet.safetensors"
    weights.parent.mkdir()
    torch.manual_seed(0)
    save_file(timm.create_model("test_resnet").state_dict(), str(weights))
    start, end = PIX2PIX.index("[generator]"), PIX2PIX.index("[discriminator]")
    text = PIX2PIX[:start] + TIMM_UNET.replace("{weights}", weights.as_posix()) + "\n" + PIX2PIX[end:]
    recipe = write_recipe(text, tmp_path / "timm_unet.toml", data=shapes_root,
                          run=tmp_path / "run")
    result = train(recipe, max_steps=3)
    folder = export_run(result.run_dir, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    assert '"weights": "stored"' in json.dumps(config)
    weights.unlink()  # loading must not need the backbone's weights: the model file holds the trained ones
    pipe = translate.load(folder)
    image = torch.rand(3, 32, 32)
    out = pipe(image)
    assert tuple(out.shape[-2:]) == (32, 32)
    loaded = load_model(folder).modules["G"]
    trained = {k[2:]: v for k, v in load_file(str(result.run_dir / "model.safetensors")).items() if k.startswith("G.")}
    assert all(torch.equal(v, trained[k]) for k, v in loaded.state_dict().items() if k in trained)
    assert set(trained) == set(loaded.state_dict())
    pytest.importorskip("onnxruntime")
    from translate.models.onnx import export_onnx

    report = export_onnx(folder, tmp_path / "onnx", sizes=[(1, 32, 32), (2, 32, 64)], echo=None)  # dynamic H, W
    assert report.checked and all(c.max_abs_diff < 1e-3 for c in report.generators[0].checks)


def test_a_meta_device_build_never_asks_the_hub(monkeypatch: pytest.MonkeyPatch):
    """`translate convert` builds every generator with default options on the meta device to ask it about a
    checkpoint: the default weights="pretrained" must not try to download (offline, that retried for 47 s)."""
    real = timm.create_model

    def no_downloads(*args, **kwargs):
        assert not kwargs.get("pretrained"), "a meta-device build asked timm for pretrained weights"
        return real(*args, **kwargs)

    monkeypatch.setattr(timm, "create_model", no_downloads)
    comp = translate.get_registry().get("generator", "timm_unet")
    with torch.device("meta"):
        net = comp.factory(comp.parse_options({}, "generator.options"), in_channels=3, out_channels=3)
    assert next(net.parameters()).device.type == "meta"
