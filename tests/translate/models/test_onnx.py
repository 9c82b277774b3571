"""ONNX export: parity with PyTorch through onnxruntime at several sizes from one file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx  # the "onnx" extra, also in the dev extra: these tests are never skipped
import onnxruntime as ort
import pytest
import torch

from translate.components.build import BuildContext
from translate.components.method import ExportSpec
from translate.errors import TranslateError
from translate.models import save_model
from translate.models.onnx import DEFAULT_OPSET, export_onnx
from translate.plugin.loading import load_plugins
from translate.recipe import Recipe

# Exact in float32 up to rounding: measured ~1e-8 (U-Net) and ~2e-6 (ResNet, instance norm
# over the whole image) on CPU; 1e-4 leaves room for other CPUs and BLAS kernels.
PARITY = 1e-4
SIZES = ((2, 32, 64), (2, 96, 32))  # batch 2, non-square, both orientations; multiples of 32


@pytest.fixture(scope="module")
def registry():
    return load_plugins().registry


def build(registry, method: str, name: str, options: dict, *, cin: int = 3, cout: int = 3, seed: int = 0):
    recipe = Recipe.model_validate({
        "method": {"name": method}, "generator": {"name": name, "options": options},
        "data": {"name": "facades"}, "train": {"epochs": 1},
    })
    torch.manual_seed(seed)
    ctx = BuildContext(recipe, registry, channels={})
    net = ctx.generator(in_channels=cin, out_channels=cout)
    return net, ctx.record_of(net)


@pytest.fixture(scope="module")
def unet_model(registry, tmp_path_factory) -> Path:
    net, record = build(registry, "pix2pix", "unet", {"ngf": 8, "num_downs": 5})
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that eval mode matters
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
    folder = tmp_path_factory.mktemp("unet")
    save_model(folder / "model.safetensors", method="pix2pix",
               exports=[(ExportSpec("G", "G", test_mode="train"), net, record)])
    return folder


@pytest.fixture(scope="module")
def cyclegan_model(registry, tmp_path_factory) -> Path:
    g_ab = build(registry, "cyclegan", "resnet", {"ngf": 8, "n_blocks": 2}, cin=3, cout=1, seed=1)
    g_ba = build(registry, "cyclegan", "resnet", {"ngf": 8, "n_blocks": 2}, cin=1, cout=3, seed=2)
    folder = tmp_path_factory.mktemp("cyclegan")
    save_model(folder / "model.safetensors", method="cyclegan", exports=[
        (ExportSpec("AtoB", "G_AtoB", "AtoB"), *g_ab),
        (ExportSpec("BtoA", "G_BtoA", "BtoA", "B", "A"), *g_ba),
    ])
    return folder


def onnx_vs_torch(onnx_path: Path, model_dir: Path, name: str, registry, shape) -> float:
    """Independent of export_onnx's own check: run both on a fresh input."""
    from translate.models import load_model

    module, _ = load_model(model_dir, registry).generator(name)
    x = torch.rand(*shape) * 2 - 1
    with torch.no_grad():
        expected = module.eval()(x).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(["output"], {"input": x.numpy()})
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


def dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_unet_parity_at_two_sizes(unet_model, registry, capsys):
    # the call `translate export RUN --onnx` makes
    report = export_onnx(unet_model / "model.safetensors", unet_model, sizes=SIZES, registry=registry)
    path = unet_model / "model.onnx"
    assert report.files == [path] and path.is_file()
    assert [p.name for p in unet_model.iterdir() if p.name.startswith(".")] == []  # no temp file left
    g = report.generators[0]
    assert g.name == "G" and g.size_multiple == 32 and report.exporter == "torch.export"
    assert [c.shape for c in g.checks] == [(2, 3, 32, 64), (2, 3, 96, 32)]
    assert report.max_abs_diff is not None and report.max_abs_diff < PARITY
    out = capsys.readouterr().out
    assert "test-time mode 'train'" in out and "eval mode" in out  # warned: ONNX is the eval graph
    assert f"max |difference| {report.max_abs_diff:.3g}" in out and "model.onnx" in out
    assert any("test-time mode 'train'" in w for w in report.warnings)

    model = onnx.load(str(path))
    assert model.opset_import[0].version == DEFAULT_OPSET
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["output"]
    assert dims(model.graph.input[0]) == ["batch", 3, "height", "width"]
    assert dims(model.graph.output[0]) == ["batch", 3, "height", "width"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["translate.size_multiple"] == "32" and props["translate.value_range"] == "[-1.0, 1.0]"
    # one file, two more sizes (dynamic batch, height and width)
    for shape in [(2, 3, 64, 32), (1, 3, 128, 96)]:
        assert onnx_vs_torch(path, unet_model, "G", registry, shape) < PARITY


def test_cyclegan_one_file_per_generator(cyclegan_model, registry):
    report = export_onnx(cyclegan_model, sizes=((2, 12, 20), (2, 16, 8)), registry=registry, echo=None)
    assert [p.name for p in report.files] == ["AtoB.onnx", "BtoA.onnx"]
    assert [g.direction for g in report.generators] == ["AtoB", "BtoA"]
    assert [c.shape for c in report.generators[1].checks] == [(2, 1, 12, 20), (2, 1, 16, 8)]
    assert report.max_abs_diff < PARITY and report.warnings == []
    ab = onnx.load(str(cyclegan_model / "AtoB.onnx"))
    assert dims(ab.graph.input[0]) == ["batch", 3, "height", "width"]
    assert dims(ab.graph.output[0]) == ["batch", 1, "height", "width"]
    for shape in [(2, 3, 32, 48), (2, 3, 20, 8)]:
        assert onnx_vs_torch(cyclegan_model / "AtoB.onnx", cyclegan_model, "AtoB", registry, shape) < PARITY
    for shape in [(2, 1, 24, 36), (1, 1, 64, 64)]:
        assert onnx_vs_torch(cyclegan_model / "BtoA.onnx", cyclegan_model, "BtoA", registry, shape) < PARITY


def test_difference_above_tolerance_fails_and_writes_nothing(cyclegan_model, registry, tmp_path, monkeypatch):
    import translate.models.onnx.check as mod

    real = mod.reference_output
    monkeypatch.setattr(mod, "reference_output", lambda module, x: real(module, x) + 0.01)
    out = tmp_path / "out"
    with pytest.raises(TranslateError) as info:
        export_onnx(cyclegan_model, out, sizes=((1, 8, 8), (2, 8, 16)), tolerance=1e-3, registry=registry, echo=None)
    message = str(info.value)
    assert "generator 'AtoB'" in message and "does not match PyTorch" in message
    assert "max |difference| 0.01 exceeds the tolerance 0.001" in message
    assert "1x3x8x8: 0.01" in message and "2x3x8x16: 0.01" in message
    assert list(out.iterdir()) == []  # neither the .onnx file nor its temp file


def test_missing_onnxruntime_is_a_clear_error(unet_model, registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    with pytest.raises(TranslateError, match=r'needs onnxruntime, which is not installed: '
                                             r'pip install "translate-i2i\[onnx\]"'):
        export_onnx(unet_model, registry=registry, echo=None)


def test_torchscript_fallback_and_one_generator_to_a_named_file(cyclegan_model, registry, tmp_path, monkeypatch):
    real = torch.onnx.export

    def no_dynamo(*args, dynamo=True, **kwargs):
        if dynamo:
            raise RuntimeError("torch.export cannot capture this network")
        return real(*args, dynamo=False, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", no_dynamo)  # the legacy exporter is also much faster
    target = tmp_path / "sub" / "photo_to_A.onnx"
    report = export_onnx(cyclegan_model, target, generator="BtoA", sizes=((2, 12, 20), (1, 16, 8)),
                         registry=registry, echo=None)
    assert report.files == [target] and [g.name for g in report.generators] == ["BtoA"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["photo_to_A.onnx"]
    assert report.exporter == "TorchScript" and report.max_abs_diff < PARITY
    assert "cannot capture this network" in report.warnings[0]
    model = onnx.load(str(target))
    assert dims(model.graph.input[0]) == ["batch", 1, "height", "width"]
    assert dims(model.graph.output[0]) == ["batch", 3, "height", "width"]
    assert onnx_vs_torch(target, cyclegan_model, "BtoA", registry, (2, 1, 36, 24)) < PARITY
    with pytest.raises(TranslateError, match=r"one \.onnx file cannot hold the 2 generators AtoB, BtoA"):
        export_onnx(cyclegan_model, tmp_path / "both.onnx", registry=registry, echo=None)


def test_bad_arguments(unet_model, registry):
    with pytest.raises(TranslateError, match="opset 17 is not supported"):
        export_onnx(unet_model, opset=17, registry=registry, echo=None)
    with pytest.raises(TranslateError, match="tolerance"):
        export_onnx(unet_model, tolerance=float("nan"), registry=registry, echo=None)
