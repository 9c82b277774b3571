"""Colorization (pix2pix on L -> ab, plugin translate_pix2pix): Lab with kornia, the grey the data
sets serve, the unet_colorizer generator, a short run of the quickstart recipe, infer and ONNX."""

from __future__ import annotations

from pathlib import Path

import kornia
import numpy as np
import pytest
import torch
from PIL import Image

from translate.commands.main import main
from translate.errors import DataError, RecipeError
from translate.plugin.loading import load_plugins
from translate.recipe import load_recipe
from translate.testing import check_generator
from translate_pix2pix.colorization_lab import AB_SCALE, grey_of, lightness, to_lab, to_rgb

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
TINY = ["data.options.count=8", "data.options.val_count=2", "data.options.test_count=3",
        "data.options.image_size=32", "generator.options.num_downs=5", "generator.options.ngf=8",
        "discriminator.options.ndf=8", "data.batch_size=4", "train.epochs=1", "train.decay=0",
        "eval.every=2", "output.log_every=1", "output.sample_every=2", "output.tensorboard=false",
        "output.progress=false", "train.cpu=true"]


@pytest.fixture(scope="module")
def registry():
    return load_plugins(strict=True).registry


def test_lab_round_trip_with_kornia() -> None:
    torch.manual_seed(0)
    rgb = torch.rand(4, 3, 16, 16) * 2 - 1
    l_norm, ab = to_lab(rgb)
    assert l_norm.shape == (4, 1, 16, 16) and ab.shape == (4, 2, 16, 16)
    assert l_norm.min() >= -1 and l_norm.max() <= 1 and ab.abs().max() <= 1
    assert (to_rgb(l_norm, ab) - rgb).abs().max() < 1e-4
    direct = kornia.color.lab_to_rgb(kornia.color.rgb_to_lab((rgb + 1) / 2)) * 2 - 1
    assert (direct - rgb).abs().max() < 1e-4
    # the normalisation: L / 50 - 1, ab / 110
    lab = kornia.color.rgb_to_lab((rgb + 1) / 2)
    assert torch.allclose(ab * AB_SCALE, lab[:, 1:], atol=1e-5)


def test_grey_has_the_lab_l_of_the_colour_image() -> None:
    torch.manual_seed(1)
    rgb01 = torch.rand(3, 3, 8, 8)
    grey = grey_of(rgb01)
    assert grey.shape == (3, 1, 8, 8)
    l_colour = kornia.color.rgb_to_lab(rgb01)[:, :1]
    l_grey = kornia.color.rgb_to_lab(grey.expand(-1, 3, -1, -1))
    assert (l_grey[:, :1] - l_colour).abs().max() < 1e-3
    assert l_grey[:, 1:].abs().max() < 0.05  # and it is grey: a = b = 0
    # not the Rec. 601 luma most converters use: that would give another L
    luma = (rgb01 * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert (lightness(luma * 2 - 1) - l_colour).abs().max() > 1.0


def _folder_of_colour_images(root: Path, n: int = 3, size: int = 40) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split / "class_a").mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)).save(
                root / split / "class_a" / f"{i}.png")
    return root


@pytest.mark.parametrize("name", ["colorization", "synthetic_colorization"])
def test_served_grey_has_the_targets_l(name: str, registry, tmp_path: Path) -> None:
    comp = registry.get("dataset", name)
    options = {"root": str(_folder_of_colour_images(tmp_path / "photos")), "load_size": 36, "crop_size": 32} \
        if name == "colorization" else {"root": str(tmp_path / "gen"), "count": 3, "val_count": 1, "test_count": 2,
                                        "image_size": 32}
    for split in ("train", "val"):
        ds = comp.build(comp.parse_options(options, "data.options"), split=split)
        assert ds.channels == {"input": 1, "target": 3} and len(ds) == (3 if split == "train" else 1 + 2 * (name == "colorization"))
        assert ds.info.translations == (("AtoB", "input", "target"),) and ds.info.aligned and ds.info.image_size == 32
        item = ds[(0, 5)]
        x, y = item["input"][None], item["target"][None]
        assert x.shape == (1, 1, 32, 32) and y.shape == (1, 3, 32, 32)
        assert x.min() >= -1 and x.max() <= 1
        assert (lightness(x) - lightness(y)).abs().max() < 1e-3
        assert torch.equal(ds[(0, 5)]["target"], item["target"])  # seeded
    if name == "synthetic_colorization":  # the grey test inputs for translate infer: the test images' L
        grey = np.asarray(Image.open(tmp_path / "gen" / "test_inputs" / "00001.png"), dtype=np.float32) / 255
        test = comp.build(comp.parse_options(options, "data.options"), split="test")[1]
        assert grey.ndim == 2 and np.abs(grey * 2 - 1 - test["input"][0].numpy()).max() <= 1 / 255 + 1e-6


def test_folder_errors(registry, tmp_path: Path) -> None:
    comp = registry.get("dataset", "colorization")
    with pytest.raises(DataError, match=r"data folder .*missing not found: data.options.root"):
        comp.build(comp.parse_options({"root": str(tmp_path / "missing")}, "data.options"), split="train")
    photos = _folder_of_colour_images(tmp_path / "photos")
    with pytest.raises(DataError, match=r"has train/, val/ but no test/ folder"):
        comp.build(comp.parse_options({"root": str(photos)}, "data.options"), split="test")
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(flat / "red.jpg")
    ds = comp.build(comp.parse_options({"root": str(flat), "crop_size": 32, "load_size": 32}, "data.options"),
                    split="test")
    assert ds.names == ["red"] and ds[0]["target"].shape == (3, 32, 32)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match="recursive = false"):
        comp.build(comp.parse_options({"root": str(tmp_path / "empty"), "recursive": False}, "data.options"),
                   split="train")


@pytest.mark.parametrize("channels", [(1, 3), (3, 3), (1, 2)])
def test_generator_passes_check_generator(registry, channels: tuple[int, int]) -> None:
    net = check_generator(registry, "unet_colorizer", in_channels=channels[0], out_channels=channels[1])
    assert net.size_multiple == 32


def test_generator_keeps_the_inputs_lightness(registry) -> None:
    net = registry.get("generator", "unet_colorizer").build({"ngf": 8, "num_downs": 5}, in_channels=1, out_channels=3)
    last = net.unet.up[-1][1]
    with torch.no_grad():  # ab = tanh(0) = 0: the output is the input's grey again
        last.weight.zero_()
        last.bias.zero_()
    x = grey_of(torch.rand(2, 3, 32, 32)) * 2 - 1
    out = net.eval()(x)
    assert out.shape == (2, 3, 32, 32)
    assert (out - x.expand(-1, 3, -1, -1)).abs().max() < 1e-4
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as in training: the Lab conversions stay float32
        out = net(x)
        l_norm, _ = to_lab(out)
    assert out.dtype == torch.float32 and (out - x.expand(-1, 3, -1, -1)).abs().max() < 1e-4
    assert l_norm.dtype == torch.float32
    with torch.no_grad():
        last.bias.copy_(torch.tensor([0.3, -0.2]))
    out = net(x)
    assert ((out[:, 0] + out[:, 2]) / 2 - out[:, 1]).mean() > 0.1  # a > 0 (red), b < 0 (blue): magenta
    assert torch.equal(net(x, output="ab"), net.predict_ab(x))


def test_method_refuses_a_colour_input_target_mismatch(registry, tmp_path: Path) -> None:
    recipe, _ = load_recipe(RECIPES / "quickstart_colorization.toml", TINY, registry)
    from translate.components.build import BuildContext
    from translate.data.contract import DataInfo

    comp = registry.get("method", "colorization")
    ctx = BuildContext(recipe=recipe, registry=registry, channels={"input": 1, "target": 1}, data=DataInfo(),
                       source="q.toml")
    with pytest.raises(RecipeError, match="needs a grey .* the data set serves 1 and 1 channels"):
        comp.factory(comp.parse_options({}, "method.options"), ctx=ctx)


def test_recipes_validate(registry) -> None:
    recipe, _ = load_recipe(RECIPES / "pix2pix_colorization.toml", None, registry)
    assert recipe.method.name == "colorization" and recipe.generator.name == "unet_colorizer"
    assert recipe.data.name == "colorization" and recipe.data.batch_size == 4
    recipe, _ = load_recipe(RECIPES / "quickstart_colorization.toml", None, registry)
    assert recipe.data.name == "synthetic_colorization"
    with pytest.raises(RecipeError, match="perceptual"):
        load_recipe(RECIPES / "quickstart_colorization.toml", ['losses.perceptual.name="l1"'], registry)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from translate.engine.trainer import train

    root = tmp_path_factory.mktemp("colorization")
    overrides = TINY + [f'data.options.root="{(root / "data").as_posix()}"']
    result = train(RECIPES / "quickstart_colorization.toml", overrides=overrides, output_dir=str(root / "run"))
    assert result.step == 2 and result.model_path is not None
    return root


def test_short_training_run_and_evaluation(tiny_run: Path) -> None:
    import json

    run = tiny_run / "run"
    losses = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in losses if "G_l1" in line]
    assert [line["step"] for line in steps] == [1, 2]
    assert {"D", "G_gan", "G_l1", "G"} <= set(steps[-1])
    assert {"eval/psnr", "eval/ssim"} <= {key for line in losses for key in line}
    text = (run / "evaluation.json").read_text()
    assert '"psnr"' in text and '"ssim"' in text
    grid = Image.open(sorted((run / "samples").glob("*.png"))[-1])
    assert grid.mode == "RGB"


def test_infer_turns_grey_into_colour(tiny_run: Path, capsys) -> None:
    out = tiny_run / "colour"
    code = main(["infer", str(tiny_run / "run"), str(tiny_run / "data" / "test_inputs"), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    files = sorted(out.glob("*.png"))
    assert len(files) == 3
    grey = np.asarray(Image.open(tiny_run / "data" / "test_inputs" / files[0].name), dtype=np.float32) / 255
    colour = Image.open(files[0])
    assert colour.mode == "RGB" and colour.size == (32, 32)
    rgb = torch.from_numpy(np.asarray(colour, dtype=np.float32).transpose(2, 0, 1) / 255)[None]
    # the output keeps the input's lightness (up to 8-bit rounding and sRGB-gamut clipping)
    diff = (lightness(rgb * 2 - 1) - lightness(torch.from_numpy(grey)[None, None] * 2 - 1)).abs()
    assert diff.mean() < 1.0


def test_onnx_round_trip(tiny_run: Path, registry) -> None:
    import onnxruntime as ort

    from translate.models import load_model
    from translate.models.onnx import export_onnx

    folder = tiny_run / "run"
    report = export_onnx(folder / "model.safetensors", tiny_run / "onnx", sizes=((2, 32, 64), (1, 64, 32)),
                         registry=registry, echo=None)
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-4
    (path,) = report.files
    module, _ = load_model(folder, registry).generator("G")
    x = grey_of(torch.rand(2, 3, 32, 96)) * 2 - 1
    with torch.no_grad():
        expected = module.eval()(x).numpy()
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["output"], {"input": x.numpy()})
    assert got.shape == (2, 3, 32, 96) and np.abs(got - expected).max() < 1e-4


def test_check_method_grey_to_colour(registry) -> None:
    from translate.data.contract import DataInfo
    from translate.testing import check_method

    method = check_method(registry, "colorization", channels={"input": 1, "target": 3},
                          data=DataInfo(translations=(("AtoB", "input", "target"),)))
    assert method.predicts_ab and unwrap_d_channels(method) == 3
    method = check_method(registry, "colorization", options={"conditional": False},
                          channels={"input": 1, "target": 3})
    assert unwrap_d_channels(method) == 2


def unwrap_d_channels(method) -> int:
    first = next(m for m in method.networks["D"].modules() if isinstance(m, torch.nn.Conv2d))
    return first.in_channels
