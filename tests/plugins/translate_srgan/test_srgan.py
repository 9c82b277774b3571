"""The SRGAN plugin: networks as published, the bicubic low/high-resolution data, the two training phases
(also across a resume), and a tiny quickstart_sr run through infer, export and ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import translate_srgan
from translate.api import DataError, StepContext
from translate.commands.main import main
from translate.components.build import BuildContext
from translate.errors import RecipeError
from translate.plugin.loading import load_plugins
from translate.plugin.registry import OptionsInvalid
from translate.recipe import Recipe, load_recipe
from translate.testing import check_discriminator, check_generator, check_options_strict, load_registry_with
from translate_srgan.data import bicubic_downsample
from translate_srgan.networks import ResidualBlock

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def registry():
    return load_plugins(strict=True).registry


def test_plugin_loads_alone_and_every_options_model_is_strict():
    reg = load_registry_with(translate_srgan)
    names = {(c.kind, c.name) for c in reg}
    assert names == {("generator", "srresnet"), ("discriminator", "srgan_discriminator"), ("method", "srgan"),
                     ("dataset", "sr_folder"), ("dataset", "sr_shapes"), ("data_source", "DIV2K_train_HR"),
                     ("data_source", "DIV2K_valid_HR"), ("command", "bicubic-baseline")}
    for comp in reg:
        if comp.kind != "data_source":
            check_options_strict(comp)


# ---- networks


@pytest.mark.parametrize("scale", [2, 4])
def test_srresnet_upscales_by_its_scale_factor(registry, scale):
    G = check_generator(registry, "srresnet", options={"n_blocks": 2, "channels": 8, "scale": scale},
                        size=(12, 20))
    assert G.scale_factor == scale
    with torch.no_grad():
        assert G.eval()(torch.zeros(1, 3, 7, 9)).shape == (1, 3, 7 * scale, 9 * scale)  # any input size
    check_generator(registry, "srresnet", options={"n_blocks": 1, "channels": 4, "scale": scale, "output": "tanh"},
                    in_channels=1, out_channels=1)


def test_srresnet_is_the_published_architecture(registry):
    G = registry.get("generator", "srresnet").build({}, in_channels=3, out_channels=3)
    assert sum(isinstance(m, ResidualBlock) for m in G.modules()) == 16
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in G.modules()) == 2
    convs = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].kernel_size == (9, 9) and convs[0].out_channels == 64
    assert convs[-1].kernel_size == (9, 9) and convs[-1].out_channels == 3
    assert [c.out_channels for c in convs if c.out_channels == 256] == [256, 256]  # conv 256 -> PixelShuffle(2)
    assert not any(isinstance(m, torch.nn.Tanh) for m in G.modules())
    assert 1.4e6 < sum(p.numel() for p in G.parameters()) < 1.7e6  # the paper's SRResNet: about 1.5M


def test_discriminator_is_the_published_architecture_and_image_level(registry):
    D = check_discriminator(registry, "srgan_discriminator", options={"ndf": 8, "dense": 16}, in_channels=3, size=96)
    with torch.no_grad():
        for side in (24, 37, 96, 130):  # adaptive pooling: any size, one logit per image
            assert D.eval()(torch.zeros(2, 3, side, side)).shape == (2, 1, 1, 1)
    full = registry.get("discriminator", "srgan_discriminator").build({}, in_channels=3)
    convs = [m for m in full.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2] * 4 and all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in full.modules()) == 7
    linears = [m for m in full.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(512 * 6 * 6, 1024), (1024, 1)]
    assert all(m.negative_slope == 0.2 for m in full.modules() if isinstance(m, torch.nn.LeakyReLU))


# ---- data


def _images(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    return folder


def _uint8(t: torch.Tensor) -> np.ndarray:
    return np.round((t.numpy().transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)


def test_low_resolution_input_is_pillow_bicubic_of_the_high_resolution_target(registry, tmp_path):
    _images(tmp_path / "imgs", [(70, 50), (64, 64)])
    comp = registry.get("dataset", "sr_folder")
    for split in ("train", "test"):
        ds = comp.build({"root": str(tmp_path / "imgs"), "crop_size": 32, "scale": 4}, split=split)
        item = ds[(0, 7)]
        assert item["target"].shape == (3, 32, 32) and item["input"].shape == (3, 8, 8)
        hr = _uint8(item["target"])
        direct = np.asarray(Image.fromarray(hr).resize((8, 8), Image.BICUBIC))
        np.testing.assert_array_equal(_uint8(item["input"]), direct)
    assert ds.info.scale == 4 and ds.info.image_size == 32 and ds.info.aligned
    assert ds.info.keys_for("AtoB") == ("input", "target")


def _matlab_imresize(img: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB's ``imresize(img, 1/scale, 'bicubic')`` (antialiased Keys a = -0.5, mirrored borders), in float64."""
    def cubic(x):
        a = np.abs(x)
        return (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1) + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2))

    out = img.astype(np.float64)
    for axis in (0, 1):
        n = out.shape[axis]
        u = np.arange(1, n // scale + 1) * scale + 0.5 * (1 - scale)
        idx = np.floor(u - 2 * scale)[:, None] + np.arange(4 * scale + 2)[None, :]
        w = cubic((u[:, None] - idx) / scale) / scale
        w /= w.sum(1, keepdims=True)
        mirror = np.concatenate([np.arange(n), np.arange(n - 1, -1, -1)])
        out = np.moveaxis(np.einsum("op,op...->o...", w, np.moveaxis(out, axis, 0)[mirror[(idx - 1).astype(int) % (2 * n)]]),
                          0, axis)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("scale", [2, 4])
def test_pillow_bicubic_matches_matlab_imresize_away_from_the_border(scale):
    hr = np.random.default_rng(scale).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    diff = np.abs(bicubic_downsample(hr, scale).astype(int) - _matlab_imresize(hr, scale).astype(int))
    inner = diff[2:-2, 2:-2]  # the outer 2 pixels differ more: MATLAB mirrors, Pillow renormalises the cut kernel
    assert (inner <= 1).mean() > 0.999 and inner.max() <= 3  # Pillow rounds to 8 bits between its two passes


def test_crops_random_on_train_centred_on_eval_and_whole_images(registry, tmp_path):
    folder = _images(tmp_path / "imgs", [(70, 50)])
    source = np.asarray(Image.open(folder / "img0.png"))
    comp = registry.get("dataset", "sr_folder")
    train = comp.build({"root": str(folder), "crop_size": 16, "scale": 2}, split="train")
    crops = {_uint8(train[(0, s)]["target"]).tobytes() for s in range(6)}
    assert len(crops) > 1 and _uint8(train[(0, 3)]["target"]).tobytes() in crops  # seeded: same key, same crop
    np.testing.assert_array_equal(_uint8(train[(0, 3)]["target"]), _uint8(train[(0, 3)]["target"]))
    val = comp.build({"root": str(folder), "crop_size": 16, "eval_crop_size": 20, "scale": 2}, split="val")
    np.testing.assert_array_equal(_uint8(val[(0, 1)]["target"]), source[15:35, 25:45])
    whole = comp.build({"root": str(folder), "crop_size": 16, "scale": 4, "full_eval_images": True}, split="test")
    item = whole[0]
    assert item["target"].shape == (3, 48, 68) and item["input"].shape == (3, 12, 17)
    np.testing.assert_array_equal(_uint8(item["target"]), source[:48, :68])


def test_split_folders_and_clear_errors(registry, tmp_path):
    _images(tmp_path / "data" / "DIV2K_train_HR", [(40, 40)] * 3)
    _images(tmp_path / "data" / "DIV2K_valid_HR", [(40, 40)] * 2)
    comp = registry.get("dataset", "sr_folder")
    opts = {"root": str(tmp_path / "data"), "crop_size": 32,
            "split_folders": {"train": "DIV2K_train_HR", "val": "DIV2K_valid_HR"}}
    assert len(comp.build(opts, split="train")) == 3 and len(comp.build(opts, split="val")) == 2
    with pytest.raises(DataError, match="split_folders names .* not the split 'test'"):
        comp.build(opts, split="test")
    with pytest.raises(DataError, match=r"img0.png is 40x40, smaller than the 48x48 crop"):
        comp.build({**opts, "crop_size": 48}, split="train")[0]
    with pytest.raises(OptionsInvalid, match="crop_size \\(30\\) must be a multiple of scale \\(4\\)"):
        comp.build({"root": "x", "crop_size": 30})


def test_generated_shapes_and_their_test_inputs(registry, tmp_path):
    opts = {"root": str(tmp_path / "sr"), "count": 3, "val_count": 1, "test_count": 2, "image_size": 32,
            "crop_size": 16}
    ds = registry.get("dataset", "sr_shapes").build(opts, split="test")
    assert len(ds) == 2 and ds[0]["target"].shape == (3, 32, 32) and ds[0]["input"].shape == (3, 8, 8)
    lr = np.asarray(Image.open(tmp_path / "sr" / "test_inputs" / "00000.png"))
    np.testing.assert_array_equal(lr, _uint8(ds[0]["input"]))
    hr = np.asarray(Image.open(tmp_path / "sr" / "test" / "00000.png"))
    np.testing.assert_array_equal(bicubic_downsample(hr, 4), lr)
    assert len(np.unique(hr.reshape(-1, 3), axis=0)) > 8  # textured, not flat


def test_div2k_sources_point_at_the_public_host(registry, tmp_path):
    for name in ("DIV2K_train_HR", "DIV2K_valid_HR"):
        source = registry.get("data_source", name).factory()
        assert source.url == f"https://data.vision.ee.ethz.ch/cvl/DIV2K/{name}.zip"
        assert (source.name, source.archive, source.strip, source.size, source.sha256) == (name, "zip", name, None, None)
    recipe, _ = load_recipe(ROOT / "recipes" / "srgan_div2k.toml", None, registry)
    assert recipe.data.options["split_folders"] == {"train": "DIV2K_train_HR", "val": "DIV2K_valid_HR",
                                                    "test": "DIV2K_valid_HR"}


def test_bicubic_baseline_command(registry, tmp_path, capsys):
    from translate.commands.main import main as translate_main
    from translate_srgan.bicubic import bicubic_upsample

    def baseline(argv):  # the plugin's command, through the translate command line
        return translate_main(["bicubic-baseline", *argv])

    opts = {"root": str(tmp_path / "sr"), "count": 2, "val_count": 1, "test_count": 2, "image_size": 32,
            "crop_size": 16}
    ds = registry.get("dataset", "sr_shapes").build(opts, split="test")
    assert baseline([str(tmp_path / "sr")]) == 0
    printed = capsys.readouterr().out
    psnrs = []
    for i in range(2):
        up = bicubic_upsample(_uint8(ds[i]["input"]), 4).astype(np.float64) / 255
        psnrs.append(10 * np.log10(1 / np.mean((up - _uint8(ds[i]["target"]) / 255) ** 2)))
    assert f"bicubic x4 on {tmp_path / 'sr'} (test, 2 images): psnr {np.mean(psnrs):.2f} dB" in printed
    assert baseline([str(tmp_path / "nothing")]) == 2 and "not found" in capsys.readouterr().err


# ---- the method


def _method(registry, options: dict, losses: dict | None = None):
    recipe = Recipe.model_validate({
        "method": {"name": "srgan", "options": options},
        "generator": {"name": "srresnet", "options": {"n_blocks": 1, "channels": 8}},
        "discriminator": {"name": "srgan_discriminator", "options": {"ndf": 4, "dense": 8}},
        "losses": losses or {}, "data": {"name": "sr_shapes"}, "train": {"steps": 10},
    })
    ctx = BuildContext(recipe, registry, channels={"input": 3, "target": 3})
    comp = registry.get("method", "srgan")
    return comp.factory(comp.parse_options(options, "method.options"), ctx=ctx)


def _batch(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"input": torch.rand(2, 3, 8, 8, generator=g) * 2 - 1, "target": torch.rand(2, 3, 32, 32, generator=g) * 2 - 1}


def test_pretraining_is_mse_only_then_gan_from_the_step_on(registry):
    from accelerate import Accelerator

    torch.manual_seed(0)
    method = _method(registry, {"pretrain_steps": 2}, {"content": {"name": "l1"}})
    accelerator = Accelerator(cpu=True)
    D = method.networks["D"]
    d_before = [p.detach().clone() for p in D.parameters()]
    for step in range(2):
        batch = _batch(step)
        with torch.no_grad():
            expected = F.mse_loss(method.networks["G"](batch["input"]), batch["target"])
        losses = method.train_step(batch, StepContext(accelerator, step=step, epoch=0))
        assert set(losses) == {"G", "G_mse"}
        assert losses["G"].item() == pytest.approx(expected.item(), rel=1e-5)  # MSE, not the l1 content loss
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))  # D untouched while pre-training
    assert method.phase(1) == "pretrain" and method.phase(2) == "gan"
    g_opt = method.optimizers["G"]
    assert all(float(s["step"]) == 2 for s in g_opt.state.values())
    losses = method.train_step(_batch(2), StepContext(accelerator, step=2, epoch=0))
    assert set(losses) == {"D", "G", "G_content", "G_adv", "G_mse"}
    assert losses["G"].item() == pytest.approx(losses["G_content"].item() + 1e-3 * losses["G_adv"].item(), rel=1e-5)
    assert not all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))
    assert all(float(s["step"]) == 1 for s in g_opt.state.values())  # Adam started afresh for SRGAN
    method.train_step(_batch(3), StepContext(accelerator, step=3, epoch=0))
    assert all(float(s["step"]) == 2 for s in g_opt.state.values())


def test_content_role_takes_the_perceptual_loss(registry):
    from accelerate import Accelerator

    torch.manual_seed(0)
    content = {"name": "perceptual", "options": {"model": "test_resnet", "layers": [1], "weights": "random"}}
    method = _method(registry, {}, {"content": content})
    batch = _batch()
    with torch.no_grad():
        expected = method.content(method.networks["G"](batch["input"]), batch["target"])
    losses = method.train_step(batch, StepContext(Accelerator(cpu=True), step=0, epoch=0))
    assert losses["G_content"].item() == pytest.approx(expected.item(), rel=1e-4)  # BN in train mode, same batch
    assert losses["G_content"].item() != pytest.approx(losses["G_mse"].item(), rel=1e-3)


def test_srresnet_only_builds_no_discriminator_and_options_are_checked(registry):
    method = _method(registry, {"adversarial": False})
    assert set(method.networks) == {"G"} and method.phase(10**6) == "pretrain"
    with pytest.raises(OptionsInvalid, match="pretrain_steps is set but adversarial = false"):
        registry.get("method", "srgan").parse_options({"adversarial": False, "pretrain_steps": 3}, "method.options")
    (spec,) = method.exports()
    assert (spec.input_domain, spec.output_domain, spec.test_mode) == ("low_resolution", "high_resolution", "eval")


def test_sample_shows_input_bicubic_output_target(registry):
    method = _method(registry, {})
    groups = method.sample(_batch())
    assert [label for label, _ in groups[0]] == ["input", "bicubic", "output", "target"]
    assert [tuple(t.shape[-2:]) for _, t in groups[0]] == [(8, 8), (32, 32), (32, 32), (32, 32)]


# ---- recipes and a tiny run


def test_shipped_recipes_validate(registry):
    for name in ("quickstart_sr.toml", "srgan_div2k.toml"):
        recipe, _ = load_recipe(ROOT / "recipes" / name, None, registry)
        assert recipe.method.name == "srgan"
    div2k, _ = load_recipe(ROOT / "recipes" / "srgan_div2k.toml", None, registry)
    assert div2k.losses["content"].name == "perceptual" and div2k.data.batch_size == 16
    assert div2k.data.options["crop_size"] == 96
    with pytest.raises(RecipeError, match="losses.reconstruction"):
        load_recipe(ROOT / "recipes" / "quickstart_sr.toml", ['losses.reconstruction.name="l1"'], registry)


TINY = [
    "train.steps=4", "method.options.pretrain_steps=2", "generator.options.n_blocks=1", "generator.options.channels=8",
    "discriminator.options.ndf=4", "discriminator.options.dense=8", "data.batch_size=2", "data.options.count=4",
    "data.options.val_count=1", "data.options.test_count=2", "data.options.image_size=32",
    "data.options.crop_size=16", "output.log_every=1", "output.sample_every=2", "output.checkpoint_every=1",
    "output.keep_checkpoints=5", "output.tensorboard=false", "output.progress=false", "eval.every=0",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, list[str]]:
    from accelerate.state import AcceleratorState, GradientState

    from translate.engine.trainer import train

    root = tmp_path_factory.mktemp("sr")
    overrides = [*TINY, f'data.options.root="{root / "data"}"']
    try:
        train(ROOT / "recipes" / "quickstart_sr.toml", overrides=overrides, output_dir=str(root / "run"))
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    return root, overrides


def _logged(run: Path) -> dict[int, set[str]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {r["step"]: set(r) for r in rows if "G" in r}


def test_tiny_run_switches_phase_at_the_step_also_after_resume(tiny_run, tmp_path):
    import shutil

    from translate.engine.trainer import train

    root, overrides = tiny_run
    logged = _logged(root / "run")
    assert "G_adv" not in logged[1] and "G_adv" not in logged[2] and "G_adv" in logged[3] and "G_adv" in logged[4]
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    for ckpt in ("step-00000002", "step-00000003", "step-00000004"):
        shutil.rmtree(run / "checkpoints" / ckpt)  # resume from step 1: one more MSE step, then GAN
    (run / "model.safetensors").unlink()
    assert train(ROOT / "recipes" / "quickstart_sr.toml", overrides=overrides, output_dir=str(run),
                 resume=True).step == 4
    logged = _logged(run)
    assert "G_adv" not in logged[2] and "G_adv" in logged[3]


def test_infer_output_is_four_times_the_input(tiny_run, tmp_path, capsys):
    root, _ = tiny_run
    inputs = root / "data" / "test_inputs"
    assert main(["infer", str(root / "run"), str(inputs), "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    outs = sorted((tmp_path / "out").glob("*.png"))
    assert len(outs) == 2
    for out in outs:
        with Image.open(inputs / out.name) as lr, Image.open(out) as sr:
            assert sr.size == (4 * lr.size[0], 4 * lr.size[1])


def test_onnx_round_trip_of_the_sr_model(tiny_run, tmp_path):
    import onnxruntime as ort

    from translate.models import load_model
    from translate.models.export import export_run
    from translate.models.onnx import export_onnx

    root, _ = tiny_run
    folder = export_run(root / "run", tmp_path / "model")
    registry = load_plugins().registry
    onnx_path = tmp_path / "sr.onnx"
    export_onnx(folder, onnx_path, sizes=((1, 8, 8), (2, 12, 20)), registry=registry, echo=None)
    module, _ = load_model(folder, registry).generator("G")
    x = torch.rand(2, 3, 10, 6) * 2 - 1
    with torch.no_grad():
        expected = module.eval()(x).numpy()
    (got,) = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(["output"], {"input": x.numpy()})
    assert got.shape == (2, 3, 40, 24)
    assert float(np.abs(got - expected).max()) < 1e-4
