"""Generators that change resolution (contract 1 of issue 12): output H, W = scale_factor x input's.

A scale-2 test generator (conv + PixelShuffle, tests/support/scale_plugin.py) on a paired data set
serving 16x16 inputs and 32x32 targets goes through everything that runs a generator: the
generator check, the engine's size checks, training with sample grids, the model file, infer
(padding, ``--size``, tiles), ``translate.load``, ONNX export and check, evaluation, the card.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

import translate
from tests.support.scale_plugin import ScalePlugin
from tests.support.tiny_plugin import TinyMetricsPlugin
from translate.commands import builtin as builtin_commands
from translate.components.build import BuildContext
from translate.components.method import ComponentRecord, ExportSpec
from translate.data.contract import DataInfo
from translate.engine.samples import LABEL_HEIGHT, make_grid
from translate.engine.setup import size_problems
from translate.engine.trainer import train
from translate.errors import ModelFileError, PluginError, RecipeError, TranslateError
from translate.evaluation.runner import EvaluationError, GeneratorUnderTest, MetricSpec, evaluate_generators
from translate.inference import Translator, translate_tiles
from translate.models import load_model, read_metadata, save_model
from translate.models.card import model_card
from translate.nn.traits import MAX_SCALE_FACTOR, scale_factor
from translate.recipe import Recipe
from translate.testing import check_generator, load_plugins_with

RECIPE = """seed = 1

[method]
name = "tiny_sr"

[generator]
name = "sr2"

[data]
name = "tiny_sr"
batch_size = 2

[data.options]
count = 6

[train]
steps = 4

[output]
dir = "{run}"
log_every = 2
sample_every = 2
checkpoint_every = 4
num_samples = 2
tensorboard = false
progress = false
"""


@pytest.fixture(scope="module")
def plugins():
    return load_plugins_with(ScalePlugin(), TinyMetricsPlugin(), ("commands", builtin_commands))


@pytest.fixture(scope="module")
def registry(plugins):
    return plugins.registry


@pytest.fixture(scope="module")
def run(registry, tmp_path_factory) -> Path:
    """A 4-step run of the scale-2 method: 16x16 inputs, 32x32 targets."""
    folder = tmp_path_factory.mktemp("sr")
    recipe = folder / "sr.toml"
    recipe.write_text(RECIPE.format(run=(folder / "run").as_posix()))
    result = train(recipe, registry=registry)
    assert result.step == 4
    return result.run_dir


def build_recorded(registry, options: dict, *, cin: int = 3, cout: int = 3,
                   seed: int = 0) -> tuple[torch.nn.Module, ComponentRecord]:
    """An ``sr2`` generator built through a BuildContext, and the context's record of it."""
    recipe = Recipe.model_validate({"method": {"name": "tiny_sr"}, "generator": {"name": "sr2", "options": options},
                                    "data": {"name": "tiny_sr"}, "train": {"steps": 1}})
    torch.manual_seed(seed)
    ctx = BuildContext(recipe, registry, channels={})
    net = ctx.generator(in_channels=cin, out_channels=cout)
    return net, ctx.record_of(net)


def build(registry, options: dict, **kw) -> torch.nn.Module:
    return build_recorded(registry, options, **kw)[0]


def saved(registry, folder: Path, options: dict, **kw) -> Path:
    net, record = build_recorded(registry, options, **kw)
    folder.mkdir(parents=True, exist_ok=True)
    save_model(folder / "model.safetensors", method="tiny_sr", exports=[(ExportSpec("G", "G"), net, record)],
               data=DataInfo(image_size=16 * net.scale_factor, scale=net.scale_factor))
    return folder


# ---------------------------------------------------------------- the contract and the checks


def test_scale_factor_is_a_positive_int() -> None:
    class M:
        pass

    assert scale_factor(M()) == 1
    for good in (1, 2, 4, MAX_SCALE_FACTOR):
        M.scale_factor = good
        assert scale_factor(M()) == good
    for bad in (0, -2, 2.0, True, "2", MAX_SCALE_FACTOR + 1):
        M.scale_factor = bad
        with pytest.raises(PluginError, match="scale_factor must be an int"):
            scale_factor(M(), "generator 'x'")


def test_check_generator_at_scale_2(registry) -> None:
    module = check_generator(registry, "sr2")
    assert module.scale_factor == 2
    check_generator(registry, "sr2", options={"scale": 4, "multiple": 4}, size=(20, 12), out_channels=1)


def test_check_generator_catches_a_wrong_scale(registry) -> None:
    with pytest.raises(AssertionError, match=r"expected \(2, 3, 64, 64\) \(scale_factor 2"):
        check_generator(registry, "wrong_scale")
    with pytest.raises(AssertionError, match="scale_factor must be an int from 1 to 16.*got 2.0"):
        check_generator(registry, "bad_scale")


def test_data_info_scale() -> None:
    info = DataInfo(image_size=64, scale=4)  # 64x64 targets, 16x16 inputs
    assert info.input_size == 16 and DataInfo(image_size=16).input_size == 16
    assert DataInfo().input_size is None
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="DataInfo.scale must be a positive int"):
            DataInfo(scale=bad)
    with pytest.raises(ValueError, match="image_size 30 \\(the target side\\) is not a multiple of DataInfo.scale 4"):
        DataInfo(image_size=30, scale=4)


class _Net:
    def __init__(self, multiple: int, scale: int | None = None) -> None:
        self.size_multiple = multiple
        if scale is not None:
            self.scale_factor = scale


class _Method:
    def __init__(self, **networks: _Net) -> None:
        self.networks = networks


def test_size_problems_reason_about_the_input_side() -> None:
    # G reads 16x16 inputs (multiple 16 fits), D sees 64x64 targets (multiple 64 fits)
    method = _Method(G=_Net(16, scale=4), D=_Net(64))
    assert size_problems(method, DataInfo(image_size=64, scale=4), 1) == []
    (problem,) = size_problems(_Method(G=_Net(32, scale=4)), DataInfo(image_size=64, scale=4), 1)
    assert "serves 16x16 input images" in problem and "multiples of 32" in problem
    assert "(128 on the target side)" in problem
    (problem,) = size_problems(_Method(G=_Net(1, scale=4), D=_Net(128)), DataInfo(image_size=64, scale=4), 1)
    assert "serves 64x64 target images, but network 'D'" in problem
    (problem,) = size_problems(_Method(G=_Net(1, scale=4)), DataInfo(image_size=64, scale=2), 1)
    assert problem.startswith("data.name: network 'G' outputs images 4 times the size of its inputs")
    assert "serves targets 2 times the size" in problem
    assert size_problems(_Method(G=_Net(1, scale=4)), DataInfo(scale=4), 1) == []  # sizes kept per image
    # the batch limit counts target pixels
    (problem,) = size_problems(_Method(), DataInfo(image_size=32768, scale=4), 2)
    assert problem.startswith("data.batch_size:") and "32768x32768" in problem


def test_a_generator_of_another_scale_than_the_data_is_a_recipe_error(registry, tmp_path: Path) -> None:
    recipe = tmp_path / "sr.toml"
    recipe.write_text(RECIPE.format(run=(tmp_path / "run").as_posix()))
    with pytest.raises(RecipeError, match=r"generator 'sr2' outputs images 2 times .* serves targets the size"):
        train(recipe, registry=registry, overrides=["data.options.scale=1"])
    assert not (tmp_path / "run" / "checkpoints").exists() or not list((tmp_path / "run" / "checkpoints").iterdir())


# ---------------------------------------------------------------- sample grids and training


def test_a_grid_row_with_a_small_input_and_a_large_output_is_aligned() -> None:
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    y = torch.rand(2, 3, 64, 64) * 2 - 1
    grid = make_grid([[("input", x), ("output", y), ("target", y)]], pad=2, labels=False)
    assert grid.shape == (3, 2 * 68, 3 * 68)
    shown = grid[:, 2:66, 2:66]  # the first row's input cell: nearest upsampling, 4x4 blocks of each pixel
    assert torch.equal(shown, x[0].repeat_interleave(4, 1).repeat_interleave(4, 2))
    assert torch.equal(grid[:, 2:66, 70:134], y[0])


def test_training_writes_a_sample_grid_and_a_model_file(run: Path) -> None:
    grid = Image.open(run / "samples" / "step-00000004.png")
    assert grid.size == (3 * (32 + 4), LABEL_HEIGHT + 2 * (32 + 4))  # input (upsampled), output, target; 2 rows
    meta = read_metadata(run / "model.safetensors")
    assert meta.generators["G"].scale_factor == 2
    assert meta.preprocessing is not None and meta.preprocessing.recommended_size == 16  # the input side
    card = model_card(meta)
    assert "| scale |" in card and "| 2x |" in card
    assert "Outputs are 2 times the input's height and width" in card
    assert "trained on 16x16 input crops (32x32 targets)" in card
    assert "written as PNG files to OUT with 2 times the inputs' height and width" in card


# ---------------------------------------------------------------- the model file


def _rewrite_meta(path: Path, edit) -> None:
    with safe_open(str(path), "pt") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    body = json.loads(header["translate"])
    edit(body)
    header["translate"] = json.dumps(body)
    save_file(tensors, str(path), metadata=header)


def test_a_model_file_without_scale_factor_reads_as_1(registry, tmp_path: Path) -> None:
    folder = saved(registry, tmp_path / "same", {"scale": 1})
    path = folder / "model.safetensors"
    assert '"scale_factor":1' in dict(safe_open(str(path), "pt").metadata())["translate"]
    _rewrite_meta(path, lambda body: body["generators"]["G"].pop("scale_factor"))
    assert "scale_factor" not in dict(safe_open(str(path), "pt").metadata())["translate"]
    loaded = load_model(path, registry)
    assert loaded.meta.generators["G"].scale_factor == 1
    y = Translator(*loaded.generator(), device="cpu")(np.random.rand(12, 10, 3).astype(np.float32))
    assert y.shape == (12, 10, 3)


def test_a_recorded_scale_that_the_network_does_not_declare_is_refused(registry, tmp_path: Path) -> None:
    path = saved(registry, tmp_path / "sr", {"scale": 2}) / "model.safetensors"
    _rewrite_meta(path, lambda body: body["generators"]["G"].pop("scale_factor"))
    with pytest.raises(ModelFileError, match="records scale_factor 1, but the network rebuilt from its options "
                                             r"\('sr2'\) declares 2"):
        load_model(path, registry)


# ---------------------------------------------------------------- inference


def _png(path: Path, height: int, width: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def test_translate_infer_returns_the_upscaled_size(plugins, run: Path, tmp_path: Path, install_plugins,
                                                   capsys) -> None:
    from translate.commands.main import main

    install_plugins(plugins)
    inputs = tmp_path / "in"
    inputs.mkdir()
    _png(inputs / "a.png", 16, 16, 0)
    _png(inputs / "b.png", 21, 30, 1)
    assert main(["infer", str(run), str(inputs), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    assert "2x upscaling" in capsys.readouterr().out
    assert Image.open(tmp_path / "out" / "a.png").size == (32, 32)
    assert Image.open(tmp_path / "out" / "b.png").size == (60, 42)
    # --size is the network's input size; the output comes back at 2x the original size
    assert main(["infer", str(run), str(inputs / "b.png"), "--out", str(tmp_path / "sized"), "--device", "cpu",
                 "--size", "16"]) == 0
    assert Image.open(tmp_path / "sized" / "b.png").size == (60, 42)
    # tiles: input-side tile size, output at 2x
    assert main(["infer", str(run), str(inputs / "b.png"), "--out", str(tmp_path / "tiled"), "--device", "cpu",
                 "--tile", "16", "--tile-overlap", "6"]) == 0
    assert Image.open(tmp_path / "tiled" / "b.png").size == (60, 42)


def test_padding_to_the_size_multiple_crops_on_the_output_side(registry, tmp_path: Path) -> None:
    loaded = load_model(saved(registry, tmp_path / "m4", {"scale": 2, "multiple": 4}), registry)
    module, info = loaded.generator()
    image = np.random.default_rng(0).random((13, 18, 3), dtype=np.float32)
    out = Translator(module, info, device="cpu")(image)
    assert out.shape == (26, 36, 3)
    # the same pixels as padding by hand (reflect to 16x20) and cropping 2x
    x = torch.from_numpy(image.transpose(2, 0, 1))[None] * 2 - 1
    x = torch.nn.functional.pad(x, (0, 2, 0, 3), mode="reflect")
    with torch.no_grad():
        y = (module.eval()(x)[0, :, :26, :36].numpy().transpose(1, 2, 0) + 1) / 2
    np.testing.assert_allclose(out, np.clip(y, 0, 1), atol=1e-6)


@pytest.mark.parametrize("kernel, atol", [(1, 1e-5), (3, 0.02)])
def test_tiles_with_scale_equal_the_untiled_output(registry, tmp_path: Path, kernel: int, atol: float) -> None:
    """Pointwise (kernel 1): exactly the untiled output; kernel 3 (receptive field 5 input pixels): the
    tiles' borders differ by zero padding, weighted down by the blend (measured: max 1e-2, mean 5e-4 with
    an overlap of 8; 7e-2 without overlap, so the bound catches a blend that ignores the overlap)."""
    loaded = load_model(saved(registry, tmp_path / f"k{kernel}", {"scale": 2, "kernel": kernel, "width": 8}),
                        registry)
    module, info = loaded.generator()
    image = np.random.default_rng(3).random((40, 57, 3), dtype=np.float32)
    whole = Translator(module, info, device="cpu")(image)
    tiled = Translator(module, info, device="cpu", tile=16, tile_overlap=8, batch_size=3)(image)
    assert whole.shape == tiled.shape == (80, 114, 3)
    assert float(np.abs(whole - tiled).max()) <= atol
    if kernel == 3:
        assert float(np.abs(whole - tiled).mean()) < atol / 10


def test_tile_coordinates_multiply_on_the_output_side() -> None:
    """A forward that upsamples by 3 (nearest): tiled and blended, it must give the whole image's upsampling."""
    image = np.random.default_rng(1).random((23, 31, 2), dtype=np.float32)
    seen = []

    def forward(crops, key):
        seen.append((len(crops), crops[0].shape))
        return [c.repeat(3, axis=0).repeat(3, axis=1) for c in crops]

    out = translate_tiles(image, forward, tile=10, overlap=4, batch_size=2, out_channels=2, scale=3)
    assert out.shape == (69, 93, 2)
    np.testing.assert_allclose(out, image.repeat(3, axis=0).repeat(3, axis=1), atol=1e-6)
    assert all(shape == (10, 10, 2) for _, shape in seen)
    with pytest.raises(ValueError, match="expected 30x30 \\(scale 3\\)"):
        translate_tiles(image, lambda crops, key: crops, tile=10, overlap=4, batch_size=2, out_channels=2, scale=3)


def test_a_module_that_disagrees_with_its_metadata_is_refused(registry, tmp_path: Path) -> None:
    loaded = load_model(saved(registry, tmp_path / "sr", {"scale": 2}), registry)
    _, info = loaded.generator()
    with pytest.raises(TranslateError, match="declares scale_factor 4, but its metadata records 2"):
        Translator(build(registry, {"scale": 4}), info, device="cpu")


def test_a_generator_that_does_not_upscale_as_declared_is_caught_at_inference(registry, tmp_path: Path) -> None:
    recipe = Recipe.model_validate({"method": {"name": "tiny_sr"}, "generator": {"name": "wrong_scale"},
                                    "data": {"name": "tiny_sr"}, "train": {"steps": 1}})
    ctx = BuildContext(recipe, registry, channels={})
    net = ctx.generator(in_channels=3, out_channels=3)
    save_model(tmp_path / "model.safetensors", method="tiny_sr",
               exports=[(ExportSpec("G", "G"), net, ctx.record_of(net))])
    module, info = load_model(tmp_path, registry).generator()
    assert info.meta.scale_factor == 2
    with pytest.raises(TranslateError, match=r"returned shape \(1, 3, 8, 8\) .* expected \(1, 3, 16, 16\)"):
        Translator(module, info, device="cpu")(np.zeros((8, 8, 3), np.float32))


def test_translate_load_returns_upscaled_images(registry, run: Path) -> None:
    pipe = translate.load(run, registry=registry, device="cpu")
    assert pipe.scale_factor == 2
    out = pipe(np.zeros((2, 10, 14, 3), np.uint8))
    assert out.shape == (2, 20, 28, 3) and out.dtype == np.uint8
    t = pipe(torch.zeros(3, 9, 7))
    assert t.shape == (3, 18, 14)
    assert pipe(Image.new("RGB", (12, 8))).size == (24, 16)


# ---------------------------------------------------------------- ONNX


def test_onnx_export_and_check_at_scale_2(registry, run: Path, tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    from translate.models.onnx import export_onnx
    from translate.models.onnx.check import check_parity

    report = export_onnx(run, tmp_path / "onnx", registry=registry, sizes=((1, 16, 16), (2, 24, 40)), echo=None)
    (g,) = report.generators
    assert g.scale_factor == 2 and g.max_abs_diff is not None and g.max_abs_diff < 1e-4
    assert [c.shape for c in g.checks] == [(1, 3, 16, 16), (2, 3, 24, 40)]
    assert "output 2x the input's size" in report.lines()[0]
    proto = onnx.load(str(g.path))
    assert {p.key: p.value for p in proto.metadata_props}["translate.scale_factor"] == "2"
    dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "2*height", "2*width"]
    session = ort.InferenceSession(str(g.path), providers=["CPUExecutionProvider"])
    (y,) = session.run(["output"], {"input": np.zeros((1, 3, 11, 17), np.float32)})  # another size: dynamic
    assert y.shape == (1, 3, 22, 34)
    # the check expects output = scale x input: metadata claiming 1 is caught
    module, info = load_model(run, registry).generator()
    with pytest.raises(TranslateError, match=r"expected \(1, 3, 16, 16\) \(scale_factor 1\)"):
        check_parity(module.eval(), g.path, info.meta.model_copy(update={"scale_factor": 1}), [(1, 16, 16)], 0)


# ---------------------------------------------------------------- evaluation


def test_evaluation_compares_outputs_with_targets_at_the_target_size(registry, run: Path) -> None:
    from tests.support.scale_plugin import TinySrDataOptions, TinySrDataset

    module, info = load_model(run, registry).generator()
    data = TinySrDataset(TinySrDataOptions(count=4), "val")  # 16x16 inputs, 32x32 targets
    gen = [GeneratorUnderTest("G", "AtoB", module)]
    result = evaluate_generators(gen, data, [MetricSpec("tiny_mae")], registry, device="cpu", batch_size=3)
    # the same number by hand: each 32x32 output against its 32x32 target
    with torch.no_grad():
        module.eval()
        maes = [float((module(data[i]["input"][None]).clamp(-1, 1) - data[i]["target"][None]).abs().mean())
                for i in range(4)]
    assert result.values["tiny_mae"] == pytest.approx(sum(maes) / 4, rel=1e-5)
    same_size = TinySrDataset(TinySrDataOptions(count=2, image_size=16, scale=1), "val")
    with pytest.raises(EvaluationError, match=r"turns \(16, 16\) 'input' images into \(32, 32\) outputs, but the "
                                              r"'target' images .* are \(16, 16\) \(scale_factor 2\)"):
        evaluate_generators(gen, same_size, [MetricSpec("tiny_mae")], registry, device="cpu")


def test_translate_eval_on_an_sr_run(plugins, run: Path, tmp_path: Path, install_plugins) -> None:
    from translate.commands.main import main

    install_plugins(plugins)
    out = tmp_path / "evaluation.json"
    assert main(["eval", str(run), "--split", "val", "--metrics", "tiny_mae", "--device", "cpu",
                 "--out", str(out)]) == 0
    values = json.loads(out.read_text())["values"]
    assert 0 < values["tiny_mae"] < 2
