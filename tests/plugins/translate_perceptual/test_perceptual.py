"""The perceptual and style losses (translate_perceptual) against hand computations, their weights, and pix2pix's
optional perceptual term."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import translate_perceptual
from tests.support.ports import free_port
from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.components.build import BuildContext
from translate.components.method import StepContext
from translate.engine.trainer import train
from translate.errors import ModelFileError, RecipeError, TranslateError
from translate.models.weights import WeightsMissing
from translate.plugin.loading import builtin_entry_points, load_plugins
from translate.recipe import Recipe
from translate.run.logs import read_metrics
from translate.testing import check_loss, check_options_strict, load_registry_with

REG = load_registry_with(translate_perceptual)
TINY = {"model": "test_resnet", "weights": "random"}


def _loss(kind: str, seed: int = 0, **options):
    torch.manual_seed(seed)
    return REG.get("loss", kind).build({**TINY, **options})


def _images(seed: int, n: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 3, size, size, generator=g) * 2 - 1


def _hand_resnet_features(loss, x: torch.Tensor, depth: int) -> list[torch.Tensor]:
    """test_resnet's layer1..layer<depth> outputs, run module by module through a full timm model holding the
    loss's weights (the loss's feature model stops at its deepest layer)."""
    base = timm.create_model("test_resnet").requires_grad_(False)
    missing, unexpected = base.load_state_dict(loss.net.state_dict(), strict=False)
    deeper = ("fc.",) + tuple(f"layer{i}." for i in range(depth + 1, 5))
    assert not unexpected and missing and all(k.startswith(deeper) for k in missing)
    base.eval()
    h = ((x + 1) / 2 - 0.5) / 0.5  # test_resnet's pretrained_cfg: mean = std = 0.5
    h = base.maxpool(base.act1(base.bn1(base.conv1(h))))
    out = []
    for layer in (base.layer1, base.layer2, base.layer3, base.layer4)[:depth]:
        h = layer(h)
        out.append(h)
    return out


def test_options_are_strict_and_defaults_are_the_paper():
    for kind in ("perceptual", "style"):
        check_options_strict(REG.get("loss", kind))
        check_loss(REG, kind)  # smoke options: placed and frozen as the engine does, gradient to the prediction
    p, s = REG.get("loss", "perceptual").parse_options({}, "o"), REG.get("loss", "style").parse_options({}, "o")
    assert (p.model, p.layers, p.distance, p.weights) == ("vgg16", ["relu2_2"], "l2", "pretrained")
    assert s.layers == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]


def test_perceptual_loss_equals_a_hand_computation():
    loss = _loss("perceptual", layers=[1, "layer3"], layer_weights=[0.5, 2.0])
    x, y = _images(1)
    hand = _hand_resnet_features(loss, torch.cat([x, y]), 3)
    expected = 0.0
    for w, f in zip((0.5, 2.0), (hand[0], hand[2])):
        a, b = f[:2], f[2:]
        expected += w * float(((a - b) ** 2).sum() / a.numel())  # ||.||^2 / (C H W), batch mean
    assert float(loss(x, y)) == pytest.approx(expected, rel=1e-6, abs=1e-6)
    l1 = _loss("perceptual", layers=[0], distance="l1")  # feature 0 is act1, before the max pool
    base = timm.create_model("test_resnet")
    base.load_state_dict(l1.net.state_dict(), strict=False)
    base.eval()
    with torch.no_grad():
        h = base.act1(base.bn1(base.conv1(torch.cat([x, y]))))  # mean = std = 0.5: the normalised image is x itself
    assert float(l1(x, y)) == pytest.approx(float((h[:2] - h[2:]).abs().mean()), rel=1e-6, abs=1e-6)


def test_vgg16_layer_names_are_the_papers_relu_layers():
    loss = _loss("perceptual", model="vgg16", layers=["relu2_2"])
    x, y = _images(2, size=16)
    sd = loss.net.state_dict()

    def relu2_2(images: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        h = ((images + 1) / 2 - mean) / std
        for i in (0, 2):  # conv1_1, conv1_2
            h = F.relu(F.conv2d(h, sd[f"features_{i}.weight"], sd[f"features_{i}.bias"], padding=1))
        h = F.max_pool2d(h, 2)
        for i in (5, 7):  # conv2_1, conv2_2
            h = F.relu(F.conv2d(h, sd[f"features_{i}.weight"], sd[f"features_{i}.bias"], padding=1))
        return h

    expected = F.mse_loss(relu2_2(x), relu2_2(y))
    assert float(loss(x, y)) == pytest.approx(float(expected), rel=1e-6, abs=1e-6)
    vgg19 = translate_perceptual.backbone.layer_names(translate_perceptual.backbone.feature_layout("vgg19"))
    assert [n[0] for n in vgg19] == ["relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4", "pool5"]  # VGG54 = 4


def test_style_loss_is_the_gram_distance_computed_by_hand():
    loss = _loss("style", layers=[1, 2], layer_weights=[1.0, 3.0])
    x, y = _images(3)
    hand = _hand_resnet_features(loss, torch.cat([x, y]), 2)
    expected = 0.0
    for w, f in zip((1.0, 3.0), hand[:2]):
        n, c, h, wd = f.shape
        flat = f.reshape(n, c, h * wd)
        grams = torch.einsum("nik,njk->nij", flat, flat) / (c * h * wd)
        expected += w * float(((grams[:2] - grams[2:]) ** 2).sum((1, 2)).mean())  # squared Frobenius norm
    assert float(loss(x, y)) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert float(loss(x, x)) == 0.0


def test_the_loss_network_is_frozen_and_gradients_reach_the_input():
    loss = _loss("perceptual", layers=[1, 2])
    assert loss.trainable is False and not any(p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.training and not loss.net.training  # stays in eval mode (BatchNorm statistics untouched)
    before = {k: v.clone() for k, v in loss.net.state_dict().items()}
    x, y = _images(4)
    x.requires_grad_(True)
    loss(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()
    assert all(p.grad is None for p in loss.parameters())
    assert all(torch.equal(before[k], v) for k, v in loss.net.state_dict().items())


def test_under_bfloat16_autocast_the_distance_is_float32():
    loss = _loss("style", layers=[1, 2])
    x, y = _images(5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(x, y)
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(float(loss(x, y)), rel=0.1)


def test_weights_round_trip_through_a_safetensors_file(tmp_path: Path):
    torch.manual_seed(7)
    source = timm.create_model("test_resnet").eval()  # a full model: its classifier is not a feature
    path = tmp_path / "test_resnet.safetensors"
    save_file(source.state_dict(), str(path))
    loss = REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [2], "weights_file": str(path)})
    assert loss.weights_source == str(path.resolve())
    unused = set(source.state_dict()) - set(loss.net.state_dict())  # layer3, layer4 (after the feature), fc
    assert set(loss.ignored_keys) == unused and "fc.weight" in unused and "layer3.0.conv1.weight" in unused
    x, _ = _images(6)
    expected = source.layer2(source.layer1(source.maxpool(source.act1(source.bn1(source.conv1(x))))))
    assert torch.equal(loss.net(x)[0], expected)  # mean = std = 0.5 for test_resnet: loss.net sees x itself
    # a features_only state dict loads too, and so does the file found under its usual name
    features = tmp_path / "features" / "test_resnet.safetensors"
    features.parent.mkdir()
    save_file(loss.net.state_dict(), str(features))
    again = REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [2],
                                                 "weights_file": str(features.parent)})
    assert torch.equal(again.net(x)[0], expected) and again.ignored_keys == []


def test_a_file_of_another_model_names_its_missing_and_misshapen_keys(tmp_path: Path):
    state = timm.create_model("test_resnet").state_dict()
    del state["layer1.0.conv1.weight"]
    state["layer2.0.conv2.weight"] = torch.zeros(1, 1, 3, 3)
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(ModelFileError) as info:
        REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [3], "weights_file": str(path)})
    message = str(info.value)
    assert "missing keys: layer1.0.conv1.weight" in message
    assert "layer2.0.conv2.weight: file (1, 1, 3, 3) vs network (48, 48, 3, 3)" in message and str(path) in message


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Hub (HF_HUB_OFFLINE), and the usual weights folders point into tmp_path (returned)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TRANSLATE_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "weights"


def test_without_weights_offline_the_error_says_what_to_do(offline: Path):
    with pytest.raises(WeightsMissing) as info:
        REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [1]})
    message = str(info.value)
    for part in ("'test_resnet'", "losses.perceptual.options.weights_file", "test_resnet.safetensors",
                 "HF_HUB_OFFLINE=1", "huggingface.co/timm/test_resnet", 'weights = "random"'):
        assert part in message, part
    with pytest.raises(WeightsMissing, match="nope.safetensors"):
        REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [1],
                                             "weights_file": str(offline / "nope.safetensors")})
    offline.mkdir()  # the usual folder, searched when weights_file is unset
    save_file(timm.create_model("test_resnet").state_dict(), str(offline / "test_resnet.safetensors"))
    found = REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [1]})
    assert found.weights_source == str((offline / "test_resnet.safetensors").resolve())


@pytest.fixture
def no_network(offline: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """As ``offline`` but with offline mode off and the Hub's endpoint a port nobody listens on."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", _no_retries)
    return offline.parent / "hf"


def _no_retries(seconds: float) -> None:
    raise AssertionError(f"huggingface_hub retried (back-off {seconds} s): the Hub should not have been asked")


def test_without_network_the_hub_cache_is_read_at_once(no_network: Path):
    with pytest.raises(WeightsMissing) as info:
        REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [1]})
    message = str(info.value)
    assert "is not reachable" in message and "none in the Hugging Face cache" in message
    assert "losses.perceptual.options.weights_file" in message
    # timm's file in the Hugging Face cache layout, as a download on a connected machine leaves it
    snapshot = no_network / "models--timm--test_resnet.r160_in1k" / "snapshots" / ("c" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("c" * 40)
    torch.manual_seed(3)
    state = timm.create_model("test_resnet").state_dict()
    save_file(state, str(snapshot / "model.safetensors"))
    loss = REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [1]})
    assert loss.weights_source == str(snapshot / "model.safetensors")
    loaded = dict(loss.named_parameters())
    conv = next(k for k in loaded if k.endswith("conv1.0.weight"))
    torch.testing.assert_close(loaded[conv], state["conv1.0.weight"])


def test_bad_layers_models_and_weights_are_clear_errors():
    with pytest.raises(TranslateError, match=r"'relu9_9' is not a feature layer.*1: relu2_2 = features.8"):
        _loss("perceptual", model="vgg16", layers=["relu9_9"])
    with pytest.raises(TranslateError, match="feature index 7 is out of range"):
        _loss("perceptual", layers=[7])
    with pytest.raises(TranslateError, match="timm has no model 'vgg61'"):
        _loss("perceptual", model="vgg61")
    comp = REG.get("loss", "style")
    with pytest.raises(Exception, match="layer_weights has 1 entries but layers has 4"):
        comp.parse_options({"layer_weights": [1.0]}, "losses.style.options")
    with pytest.raises(Exception, match="weights_file is set but weights is not 'pretrained'"):
        comp.parse_options({"weights": "random", "weights_file": "x.safetensors"}, "losses.style.options")
    loss = _loss("perceptual", layers=[1])
    with pytest.raises(TranslateError, match=r"expected images of shape \(N, 3, H, W\)"):
        loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))


# --- pix2pix's optional perceptual term ---------------------------------------------------------------------------

FULL = load_plugins(strict=True, entry_points=builtin_entry_points()).registry
PERCEPTUAL_TABLE = {"name": "perceptual", "options": {"model": "test_resnet", "layers": [1], "weights": "random"}}


class _Accelerator:
    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def autocast(self):
        return contextlib.nullcontext()


def _pix2pix(method_options: dict, channels: int = 3):
    recipe = Recipe.model_validate({
        "method": {"name": "pix2pix", "options": method_options},
        "generator": {"name": "unet", "options": {"num_downs": 5, "ngf": 8}},
        "discriminator": {"name": "patchgan", "options": {"n_layers": 2, "ndf": 8}},
        "losses": {"perceptual": PERCEPTUAL_TABLE}, "data": {"name": "synthetic_shapes"}, "train": {"steps": 1},
    })
    ctx = BuildContext(recipe, FULL, channels={"input": 3, "target": channels})
    comp = FULL.get("method", "pix2pix")
    torch.manual_seed(0)
    return comp.factory(comp.parse_options(recipe.method.options, "method.options"), ctx=ctx)


def _step(method) -> dict[str, torch.Tensor]:
    x, y = _images(8)
    torch.manual_seed(1)  # the U-Net's dropout
    return method.train_step({"input": x, "target": y}, StepContext(_Accelerator(), step=0, epoch=0))


def test_lambda_perceptual_zero_keeps_the_papers_loss_exactly():
    default, zero = _pix2pix({}), _pix2pix({"lambda_perceptual": 0.0})
    assert default.perceptual is None and zero.perceptual is None
    a, b = _step(default), _step(zero)
    assert a.keys() == b.keys() == {"D", "G", "G_gan", "G_l1"}
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(a["G"], torch.zeros(()) + 1.0 * a["G_gan"] + 100.0 * a["G_l1"])


def test_lambda_perceptual_adds_the_weighted_term():
    method = _pix2pix({"lambda_perceptual": 2.5})
    assert method.perceptual is not None and "perceptual" not in method.networks
    out = _step(method)
    expected = torch.zeros(()) + 1.0 * out["G_gan"] + 100.0 * out["G_l1"] + 2.5 * out["G_perceptual"]
    assert torch.allclose(out["G"], expected, rtol=1e-6) and float(out["G_perceptual"]) > 0


def test_lambda_perceptual_needs_rgb_targets():
    with pytest.raises(RecipeError, match=r"method.options.lambda_perceptual: .*targets have 1 channels"):
        _pix2pix({"lambda_perceptual": 1.0}, channels=1)


def test_pix2pix_with_a_perceptual_term_trains(tmp_path: Path, shapes_root: Path):
    text = PIX2PIX.replace('test_mode = "eval"\n', 'test_mode = "eval"\nlambda_perceptual = 1.0\n')
    text = text.replace("[data]\n", '[losses.perceptual]\nname = "perceptual"\n\n[losses.perceptual.options]\n'
                        'model = "test_resnet"\nlayers = [1, 2]\nweights = "random"\n\n[data]\n', 1)
    recipe = write_recipe(text, tmp_path / "perceptual.toml", data=shapes_root, run=tmp_path / "run")
    result = train(recipe, max_steps=4)
    records = read_metrics(result.run_dir)
    assert result.step == 4 and records and all("G_perceptual" in r for r in records)
    assert all(0 < r["G_perceptual"] < float("inf") for r in records)


def test_the_loss_works_where_and_in_what_dtype_it_was_moved():
    loss = _loss("perceptual", layers=[1, 2])
    x, y = _images(9)
    reference = loss(x, y)
    loss.to(torch.float64)  # the engine moves losses (here: another dtype); the loss follows its buffers
    assert loss(x, y).dtype == torch.float32
    assert float(loss(x, y)) == pytest.approx(float(reference), rel=1e-5)
    loss.to("meta")
    assert loss(x.to("meta"), y.to("meta")).device.type == "meta"  # nothing pinned to the CPU


def test_torchvision_style_vgg_weights_load_with_their_classifier_ignored(tmp_path: Path):
    features = _loss("perceptual", model="vgg11", layers=["relu2_1"]).net.state_dict()
    state = {k.replace("features_", "features."): v for k, v in features.items()}  # torchvision's key names
    state["classifier.6.bias"] = torch.zeros(10)
    path = tmp_path / "vgg11-8a719046.pth"
    torch.save(state, path)
    loss = REG.get("loss", "perceptual").build({"model": "vgg11", "layers": ["relu2_1"], "weights_file": str(path)})
    assert loss.ignored_keys == ["classifier.6.bias"]
    assert all(torch.equal(v, features[k]) for k, v in loss.net.state_dict().items())
    assert translate_perceptual.backbone.usual_names("vgg16") == ["vgg16.safetensors", "vgg16-397923af.pth"]


def test_pretrained_weights_come_through_timm_from_the_hub_cache(offline: Path, tmp_path: Path):
    """weights_file unset and nothing in the usual folders: timm's own Hub download, answered from the cache."""
    repo = tmp_path / "hf" / "models--timm--test_resnet.r160_in1k"
    (repo / "snapshots" / "0").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0")
    torch.manual_seed(11)
    source = timm.create_model("test_resnet")
    save_file(source.state_dict(), str(repo / "snapshots" / "0" / "model.safetensors"))
    loss = REG.get("loss", "perceptual").build({"model": "test_resnet", "layers": [1]})
    assert loss.weights_source == "timm pretrained (timm/test_resnet.r160_in1k)"
    expected = source.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in loss.net.state_dict().items())
