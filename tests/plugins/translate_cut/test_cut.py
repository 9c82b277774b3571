"""The CUT plugin (translate_cut): networks, PatchNCE, the method, parity facts, resume, recipes.

Facts measured against the authors' code (taesungp/contrastive-unpaired-translation, commit b3ac297)
by a script outside the repository (docs/cut.md, "How it was checked"): parameter counts, tensor
names and shapes, and one training step of a tiny network whose weights and random draws are fixed
below (``AUTHORS_STEP``: the authors' losses and parameter sums after the step).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import translate_cut
from translate.api import BuildContext, FeatureEncoder, RecipeError, StepContext, TranslateError
from translate.testing import check_component, check_method, load_registry_with
from translate_cut.antialias import BlurDownsample, BlurUpsample
from translate_cut.patchnce import PatchNCELoss, PatchSampleMLP

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
REG = load_registry_with(translate_cut, installed=True)
OURS = [(kind, name) for kind in ("generator", "discriminator", "loss") for name in REG.names(kind)
        if REG.get(kind, name).plugin.name == "cut"]


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(kind: str, name: str, options: dict | None = None, **kw: int) -> torch.nn.Module:
    return REG.get(kind, name).build(options or {}, **kw)


# --- components ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,name", OURS)
def test_components_pass_the_plugin_checks(kind: str, name: str) -> None:
    check_component(REG.get(kind, name))


def test_parameter_counts_equal_the_authors() -> None:
    # the authors' define_G / define_D / PatchSampleF at their defaults (ngf = ndf = 64, 3 channels,
    # instance norm, anti-aliased), measured on their code
    g9 = build("generator", "cut_resnet_9blocks", in_channels=3, out_channels=3)
    assert n_params(g9) == 11_378_179
    assert n_params(build("generator", "cut_resnet_6blocks", in_channels=3, out_channels=3)) == 7_837_699
    assert n_params(build("discriminator", "cut_patchgan", in_channels=3)) == 2_764_737
    heads = PatchSampleMLP(g9.feature_channels([0, 4, 8, 12, 16]), mlp_channels=256)
    assert n_params(heads) == 560_384
    assert g9.feature_channels([0, 4, 8, 12, 16]) == [3, 128, 256, 256, 256]


def test_tensor_names_and_shapes_are_the_authors() -> None:
    g = build("generator", "cut_resnet_9blocks", {"ngf": 8}, in_channels=3, out_channels=3).state_dict()
    # Downsample buffers after each stride-1 conv, residual blocks from 12, Upsample buffers at 21 and 25
    expected = {"model.1.weight": (8, 3, 7, 7), "model.4.weight": (16, 8, 3, 3), "model.7.filt": (16, 1, 3, 3),
                "model.8.weight": (32, 16, 3, 3), "model.11.filt": (32, 1, 3, 3),
                "model.12.conv_block.1.weight": (32, 32, 3, 3), "model.20.conv_block.5.bias": (32,),
                "model.21.filt": (32, 1, 4, 4), "model.22.weight": (16, 32, 3, 3), "model.25.filt": (16, 1, 4, 4),
                "model.26.weight": (8, 16, 3, 3), "model.30.weight": (3, 8, 7, 7), "model.30.bias": (3,)}
    assert {k: tuple(g[k].shape) for k in expected} == expected
    assert len(g) == 52  # the same keys as the authors' (load_state_dict(strict=True) in the parity script)
    d = build("discriminator", "cut_patchgan", {"ndf": 8}, in_channels=3).state_dict()
    assert [k for k in d if k.endswith("filt")] == ["model.2.filt", "model.6.filt", "model.10.filt"]
    assert tuple(d["model.14.weight"].shape) == (1, 64, 4, 4)


def test_feature_layers_follow_the_authors_numbering() -> None:
    g = build("generator", "cut_resnet_9blocks", {"ngf": 8}, in_channels=3, out_channels=3)
    assert isinstance(g, FeatureEncoder)
    offered = g.feature_layers()
    assert len(offered) == 32 and offered[0].startswith("input") and "residual block 1" in offered[12]
    x = torch.rand(1, 3, 64, 64)
    feats = g(x, layers=[0, 4, 8, 12, 16])
    assert [tuple(f.shape[1:]) for f in feats] == [(3, 70, 70), (16, 64, 64), (32, 32, 32), (32, 16, 16),
                                                   (32, 16, 16)]
    assert torch.equal(feats[0][..., 3:-3, 3:-3], x)  # layer 0: the reflection-padded input
    with pytest.raises(ValueError, match="no feature layer"):
        g(x, layers=[0, 32])
    with pytest.raises(ValueError, match="strictly increasing"):
        g(x, layers=[4, 0])


def test_blur_resampling() -> None:
    x = torch.full((1, 2, 6, 5), 0.5)
    assert torch.allclose(BlurDownsample(2)(x), torch.full((1, 2, 3, 3), 0.5))
    assert torch.allclose(BlurUpsample(2)(x), torch.full((1, 2, 12, 10), 0.5))
    assert BlurDownsample(1).filt.flatten().mul(16).tolist() == [1, 2, 1, 2, 4, 2, 1, 2, 1]
    d = build("discriminator", "cut_patchgan", {"ndf": 4}, in_channels=3)
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # as the strided 70x70 PatchGAN


# --- PatchNCE ------------------------------------------------------------------------------------

def test_patchnce_value_and_negatives_per_image() -> None:
    q = torch.eye(4).unsqueeze(0)  # 4 orthonormal patches: each positive scores 1/tau, each negative 0
    assert PatchNCELoss(temperature=0.5)(q, q).item() == pytest.approx(math.log(1 + 3 * math.exp(-2)), rel=1e-6)
    loss = PatchNCELoss(temperature=0.07)
    g = torch.Generator().manual_seed(0)
    q2 = torch.nn.functional.normalize(torch.randn(2, 16, 8, generator=g), dim=-1)
    k2 = torch.nn.functional.normalize(torch.randn(2, 16, 8, generator=g), dim=-1)
    per_image = (loss(q2[:1], k2[:1]) + loss(q2[1:], k2[1:])) / 2
    assert loss(q2, k2).item() == pytest.approx(per_image.item(), rel=1e-6)  # negatives: the same image only
    batch = PatchNCELoss(negatives="batch")(q2, k2)
    assert batch.item() > loss(q2, k2).item()  # 31 negatives instead of 15
    q2.requires_grad_(True)
    k2.requires_grad_(True)
    loss(q2, k2).backward()
    assert q2.grad.abs().sum() > 0 and k2.grad is None  # keys are detached, as the authors'


def test_patch_positions_are_shared_between_passes() -> None:
    heads = PatchSampleMLP([3, 5], mlp_channels=64, init_gain=1.0)
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 5, 4, 4)
    keys, ids = heads([a, b], num_patches=6)
    again, ids2 = heads([a, b], num_patches=6, positions=ids)
    assert [i.tolist() for i in ids] == [i.tolist() for i in ids2] and len(ids[0]) == 6
    assert all(torch.equal(x, y) for x, y in zip(keys, again))
    assert keys[0].shape == (2, 6, 64) and torch.allclose(keys[0].norm(dim=-1), torch.ones(2, 6), atol=1e-5)
    lazy = PatchSampleMLP(mlp_channels=64)  # the authors' way: heads made on the first call
    lazy([a, b], num_patches=6)
    assert n_params(lazy) == n_params(heads)


def test_patch_sampling_keeps_instance_norm_gradients_right() -> None:
    # PyTorch's CPU instance_norm backward is wrong for a channels_last gradient of a batch of one (torch
    # 2.14; docs/cut.md). The heads send back a gradient in the features' own layout, so an InstanceNorm
    # before them gets the same gradient as the per-sample batch_norm it is equivalent to.
    torch.manual_seed(0)
    conv, x = torch.nn.Conv2d(3, 8, 3), torch.rand(1, 3, 10, 10)
    heads = PatchSampleMLP([8], mlp_channels=16, init_gain=1.0)
    ids = [torch.tensor([0, 5, 9, 17, 33, 60])]
    grads = []
    for norm in (torch.nn.InstanceNorm2d(8), lambda t: torch.nn.functional.batch_norm(t, None, None, training=True)):
        conv.zero_grad()
        feat = norm(conv(x))
        (q,), _ = heads([feat], 6, ids)
        (q * torch.linspace(-1, 1, q.numel()).reshape(q.shape)).sum().backward()
        grads.append(conv.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    leaf = torch.rand(1, 8, 8, 8, requires_grad=True)
    heads([leaf], 6, ids)[0][0].sum().backward()
    assert leaf.grad.is_contiguous()


# --- one step against the authors' code ----------------------------------------------------------

TINY = {
    "generator": {"name": "cut_resnet_9blocks", "options": {"ngf": 4}},
    "discriminator": {"name": "cut_patchgan", "options": {"ndf": 4}},
    "losses": {"nce": {"name": "patchnce", "options": {"num_patches": 16}}},
}

# The authors' CUTModel on the same weights and draws (parity script, float32, CPU): loss terms, and
# per network the sum of the weights and of |weight - initial| after one optimize_parameters().
AUTHORS_STEP = {
    "cut": {
        "losses": {"D": 0.5035203695297241, "G_GAN": 0.9612652659416199, "NCE": 8.797652244567871,
                   "NCE_Y": 8.836221694946289, "G": 9.778202056884766},
        "sums": {"G": [0.7023912263175589, 9.105652149526122], "D": [0.2643745944951661, 2.291178110815281],
                 "F": [0.07296950693125837, 0.44480460172053427]},
    },
    "fastcut": {  # flipped
        "losses": {"D": 0.5020958781242371, "G_GAN": 0.9527589082717896, "NCE": 84.28083801269531,
                   "G": 85.23359680175781},
        "sums": {"G": [-0.9192198662203737, 9.105662330426185], "D": [0.27239317589555867, 2.291162608696368],
                 "F": [0.06657008818001486, 0.4448055988759734]},
    },
}


def tiny_method(mode: str, registry=REG):
    """The tiny CUT/FastCUT of the step test, with fixed weights (no RNG) and fixed draws."""
    from translate.recipe import Recipe

    recipe = Recipe.model_validate({"seed": 0, **TINY, "data": {"name": "(test)"}, "train": {"steps": 1},
                                    "method": {"name": "cut", "options": {"mode": mode, "mlp_channels": 16,
                                                                         "optimizer": "reference"}}})
    comp = registry.get("method", "cut")
    ctx = BuildContext(recipe=recipe, registry=registry, channels={"A": 3, "B": 3}, source="test")
    method = comp.factory(comp.parse_options(recipe.method.options, "method.options"), ctx=ctx)
    for n, net in enumerate(method.networks.values()):
        with torch.no_grad():
            for i, p in enumerate(net.parameters()):
                t = torch.arange(p.numel(), dtype=torch.float64)
                scale = 0.01 if p.dim() == 1 else 1 / math.sqrt(p[0].numel())
                p.copy_((scale * torch.sin(0.7 * t + 1.3 * i + 0.1 * n)).reshape(p.shape))
    method.draw_flip = lambda: True
    method.networks["F"].draw = lambda n, k, device: ((torch.arange(k) * 7919 + 3) % n).to(device)
    return method


def tiny_batch() -> dict[str, torch.Tensor]:
    t = torch.arange(2 * 3 * 32 * 32, dtype=torch.float64).reshape(2, 3, 32, 32)
    return {"A": torch.sin(0.05 * t).float(), "B": torch.cos(0.031 * t + 1).float()}


def step_figures(method, batch: dict[str, torch.Tensor]) -> dict:
    """Losses of one train_step and, per network, sums of the weights and of their movement."""
    from accelerate import Accelerator

    before = {k: {n: p.detach().clone() for n, p in net.named_parameters()} for k, net in method.networks.items()}
    losses = method.train_step(batch, StepContext(accelerator=Accelerator(cpu=True), step=0, epoch=0))
    sums = {}
    for k, net in method.networks.items():
        w = [(p.detach().double(), before[k][n].double()) for n, p in net.named_parameters() if n.endswith("weight")]
        sums[k] = [sum(p.sum().item() for p, _ in w), sum((p - p0).abs().sum().item() for p, p0 in w)]
    return {"losses": {k: float(v) for k, v in losses.items()}, "sums": sums}


@pytest.mark.parametrize("mode", ["cut", "fastcut"])
def test_one_step_equals_the_authors(mode: str) -> None:
    ref = AUTHORS_STEP[mode]
    got = step_figures(tiny_method(mode), tiny_batch())
    assert set(ref["losses"]) <= set(got["losses"])
    for key, value in ref["losses"].items():
        assert got["losses"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    for net, (total, moved) in ref["sums"].items():
        assert got["sums"][net][0] == pytest.approx(total, abs=1e-5), net
        assert got["sums"][net][1] == pytest.approx(moved, rel=1e-4), net


# --- the method ------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{"mode": "cut"}, {"mode": "fastcut", "nce_layers": [0, 4, 8]},
                                     {"mode": "cut", "mlp": False, "direction": "BtoA"}])
def test_method_passes_check_method(options: dict) -> None:
    method = check_method(REG, "cut", options={"mlp_channels": 8, **options}, channels={"A": 3, "B": 3},
                          tables={"losses": {"nce": {"name": "patchnce", "options": {"num_patches": 8}}}})
    names = ["G", "D", "F"] if options.get("mlp", True) else ["G", "D"]
    assert list(method.networks) == names and list(method.optimizers) == names


def test_presets() -> None:
    from translate_cut.options import CUTOptions

    assert CUTOptions().preset() == (1.0, True, False)
    assert CUTOptions(mode="fastcut").preset() == (10.0, False, True)
    assert CUTOptions(mode="fastcut", nce_idt=True, lambda_nce=2.0).preset() == (2.0, True, True)


@pytest.mark.parametrize("tables,channels,match", [
    ({"method": {"nce_layers": [0, 4, 99]}}, None, "method.options.nce_layers: the generator offers no feature layer"),
    ({"generator": {"name": "resnet", "options": {"ngf": 4, "n_blocks": 1}}}, None, "generator.name"),
    ({}, {"A": 3, "B": 1}, "method.options.nce_idt"),
])
def test_recipe_errors_name_the_key(tables: dict, channels: dict | None, match: str) -> None:
    options = {"mlp_channels": 8, **tables.pop("method", {})}
    with pytest.raises(RecipeError, match=match):
        check_method(REG, "cut", options=options, tables=tables, channels=channels or {"A": 3, "B": 3})


def test_option_errors_name_the_key() -> None:
    with pytest.raises(TranslateError) as info:
        REG.get("method", "cut").parse_options({"nce_layers": [4, 0], "mode": "fast"}, "method.options")
    text = str(info.value)
    assert "method.options.nce_layers" in text and "method.options.mode" in text


# --- training runs: exact resume, recipes -----------------------------------------------------------

RECIPE = """
seed = 2
[method]
name = "cut"
[method.options]
mode = "{mode}"
mlp_channels = 8
nce_layers = [0, 4, 8, 12]
[generator]
name = "cut_resnet"
[generator.options]
ngf = 4
n_blocks = 1
[discriminator]
name = "cut_patchgan"
[discriminator.options]
ndf = 4
n_layers = 2
[losses.nce]
name = "patchnce"
[losses.nce.options]
num_patches = 8
[data]
name = "synthetic_unpaired"
batch_size = 2
[data.options]
root = "{data}"
count_a = 6
count_b = 5
test_count = 2
image_size = 32
[train]
steps = 5
decay = 2
[output]
dir = "{run}"
log_every = 1
sample_every = 5
checkpoint_every = 2
keep_checkpoints = 5
num_samples = 2
tensorboard = false
progress = false
"""


@pytest.mark.parametrize("mode", ["fastcut"])
def test_resume_is_exact_including_the_mlp_heads(mode: str, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from translate.engine.trainer import train

    recipe = tmp_path / "cut.toml"
    recipe.write_text(RECIPE.format(mode=mode, data=(tmp_path / "data").as_posix(), run=(tmp_path / "run").as_posix()))
    full = train(recipe, output_dir=str(tmp_path / "full"))
    assert {"D", "G_GAN", "NCE", "G"} <= set(full.last_losses)
    train(recipe, output_dir=str(tmp_path / "part"), max_steps=3)
    train(recipe, output_dir=str(tmp_path / "part"), resume=True)
    for name in ("networks", "optimizers"):
        a = load_file(str(sorted((tmp_path / "full" / "checkpoints").glob("step-*"))[-1] / f"{name}.safetensors"))
        b = load_file(str(sorted((tmp_path / "part" / "checkpoints").glob("step-*"))[-1] / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
        if name == "networks":
            assert any(k.startswith("F.mlp_0.") for k in a)  # the MLP heads are checkpointed


TRANSLATE = [sys.executable, "-m", "translate"]  # the command line of the interpreter running the tests


def test_recipes_validate() -> None:
    for name in ("cut_horse2zebra.toml", "fastcut_horse2zebra.toml", "quickstart_cut.toml", "cut_cat2dog.toml",
                 "fastcut_cat2dog.toml", "cut_cityscapes.toml"):
        done = subprocess.run([*TRANSLATE, "check", str(ROOT / "recipes" / name)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_authors_checkpoint_converts(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    # the authors' ResnetGenerator state dict has our names and shapes (load_state_dict(strict=True) both ways)
    g = build("generator", "cut_resnet_9blocks", {"ngf": 4}, in_channels=3, out_channels=3)
    torch.save(g.state_dict(), tmp_path / "latest_net_G.pth")
    done = subprocess.run([*TRANSLATE, "convert", str(tmp_path / "latest_net_G.pth"), "--out", str(tmp_path / "m")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cut_resnet_9blocks (ngf=4, norm=instance, dropout=0.0, padding=reflect, antialias=True, " \
           "antialias_up=True" in done.stdout
    tensors = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert all(torch.equal(tensors[f"AtoB.{k}"], v) for k, v in g.state_dict().items())
    # their --no_antialias_up variant: recognised from the names, the same options back
    up = build("generator", "cut_resnet_9blocks", {"ngf": 4, "antialias_up": False}, in_channels=3, out_channels=3)
    assert up.infer_options_from_authors_state_dict(up.state_dict()) == {
        "ngf": 4, "norm": "instance", "dropout": 0.0, "antialias": True, "antialias_up": False}


def test_checkpoints_without_antialiasing_are_left_to_cyclegan() -> None:
    from translate_cut.authors import cut_layout

    g = build("generator", "cut_resnet_6blocks", {"ngf": 4, "antialias": False, "antialias_up": False},
              in_channels=3, out_channels=3)
    with pytest.raises(TranslateError, match="CycleGAN layout"):
        cut_layout(g.state_dict())
    layout = cut_layout(build("generator", "cut_resnet", {"ngf": 4, "n_blocks": 3, "n_downsampling": 3},
                              in_channels=1, out_channels=2).state_dict())
    assert layout == {"ngf": 4, "n_blocks": 3, "n_downsampling": 3, "norm": "instance", "dropout": 0.0,
                      "antialias": True, "antialias_up": True, "in_channels": 1, "out_channels": 2}


def test_installed_entry_point() -> None:
    comp = load_registry_with(installed=True).get("method", "cut")  # through the entry point alone
    assert (comp.plugin.name, comp.plugin.distribution) == ("cut", "translate-i2i")


_LAUNCH = """
import json, sys
from pathlib import Path
from accelerate import PartialState, debug_launcher
from translate.engine.trainer import train

def run():
    result = train(sys.argv[1], max_steps=4)
    state = PartialState()
    Path(sys.argv[2], f"rank{state.process_index}.json").write_text(
        json.dumps({"step": result.step, "world": state.num_processes, "losses": sorted(result.last_losses)}))

if __name__ == "__main__":
    debug_launcher(run, num_processes=2)
"""


@pytest.mark.parametrize("mode", ["cut"])
def test_two_processes_train_cut_with_its_heads(mode: str, tmp_path: Path) -> None:
    """CUT through DistributedDataParallel (2 gloo processes on the CPU): G is called for features through its
    wrapper, the heads F are a prepared network; both ranks step, checkpoint and export as one run."""
    import json
    import os

    from safetensors.torch import load_file

    from translate.run.checkpoint import list_checkpoints

    recipe = tmp_path / "cut.toml"
    recipe.write_text(RECIPE.format(mode=mode, data=(tmp_path / "data").as_posix(), run=(tmp_path / "run").as_posix()))
    script = tmp_path / "launch.py"
    script.write_text(_LAUNCH)
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), str(recipe), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["step"], r["world"]) for r in ranks] == [(4, 2), (4, 2)]
    assert {"D", "G_GAN", "NCE", "NCE_Y", "G"} <= set(ranks[0]["losses"])
    ckpt = list_checkpoints(tmp_path / "run")[-1]
    assert json.loads((ckpt / "manifest.json").read_text())["num_processes"] == 2
    networks = load_file(str(ckpt / "networks.safetensors"))
    assert any(k.startswith("F.mlp_0.") for k in networks) and not any(".module." in k for k in networks)
    model = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert model and all(not k.startswith("AtoB.module.") for k in model)  # saved unwrapped
