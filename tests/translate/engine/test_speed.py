"""The training speed switch: how plans resolve, and fast mode against the reference computation.

Fast mode (bf16 autocast where the CPU computes bf16 natively, small convolutions as GEMMs and
channels_last activations on the CPU; channels_last networks on GPUs) must stay within a stated
tolerance of the reference run after a few steps, resume to the same weights as an uninterrupted
fast run, and torch.compile must give the eager outputs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support.tiny_recipes import CYCLEGAN, PIX2PIX, write_recipe
from translate.engine import speed
from translate.engine.trainer import train
from translate.nn import gemm_conv
from translate.recipe import TrainSpec, load_recipe
from translate.run.checkpoint import list_checkpoints
from translate.run.logs import read_metrics

ROOT = Path(__file__).resolve().parents[3]

# After 6 steps of the tiny pix2pix run (lr 2e-4), fast-mode weights stay this close to the
# reference run's, relative to how far the reference run moved them from step 1 to step 6.
WEIGHT_TOLERANCE = 0.1  # measured: 0.0025 (pix2pix, the current CPU plan), 0.010 (CycleGAN fp32 NHWC)
LOSS_TOLERANCE = 0.05  # relative difference of each logged loss


def _reset_accelerate() -> None:
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(list_checkpoints(run_dir)[-1] / "networks.safetensors"))


def _distances(ref: Path, other: Path, start: Path, keep=lambda name: True) -> tuple[torch.Tensor, torch.Tensor]:
    """How far ``other``'s final weights are from ``ref``'s, and how far ``ref`` moved from ``start``'s."""
    w_ref, w_other, w_start = _weights(ref), _weights(other), _weights(start)
    keys = [k for k in w_ref if keep(k)]
    apart = torch.cat([(w_other[k] - w_ref[k]).flatten() for k in keys]).norm()
    moved = torch.cat([(w_ref[k] - w_start[k]).flatten() for k in keys]).norm()
    return apart, moved


def test_reference_plan_is_the_plain_computation() -> None:
    plan = speed.resolve_speed(TrainSpec(steps=1, speed="reference"), "cpu")
    assert plan == speed.SpeedPlan(precision="no", channels_last=False, compile="off")
    assert plan.describe() == "fp32, contiguous, eager"


@pytest.mark.parametrize("native", [True, False])
def test_fast_plan_follows_the_device(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(speed, "native_bf16", lambda device_type: native)
    plan = speed.resolve_speed(TrainSpec(steps=1), "cpu")
    assert plan.precision == ("bf16" if native else "no")  # emulated bf16 would be slower than fp32
    # bf16 on the CPU: NHWC activations (measured faster for CycleGAN, level for pix2pix), parameters contiguous;
    # fp32 on the CPU: not measured with NHWC, contiguous
    assert plan.channels_last == native and not plan.channels_last_params and plan.compile == "off"
    assert plan.gemm_convs  # small convolutions as GEMMs: measured faster on the CPU
    assert plan.describe() == ("bf16 autocast, channels_last activations" if native else "fp32, contiguous") \
        + ", small convs as GEMM, eager"
    on_gpu = speed.resolve_speed(TrainSpec(steps=1), "cuda")
    assert on_gpu.channels_last and on_gpu.channels_last_params and on_gpu.precision == ("bf16" if native else "no")
    assert not on_gpu.gemm_convs  # not measured on a GPU
    assert on_gpu.describe() == ("bf16 autocast" if native else "fp32") + ", channels_last, eager"


def test_explicit_keys_override_the_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "native_bf16", lambda device_type: True)
    plan = speed.resolve_speed(TrainSpec(steps=1, mixed_precision="no", channels_last=False, compile="default"), "cpu")
    assert plan == speed.SpeedPlan(precision="no", channels_last=False, compile="default", gemm_convs=True)
    plan = speed.resolve_speed(TrainSpec(steps=1, speed="reference", mixed_precision="bf16", channels_last=True), "cpu")
    assert plan == speed.SpeedPlan(precision="bf16", channels_last=True, compile="off")
    plan = speed.resolve_speed(TrainSpec(steps=1, speed="reference", channels_last=True), "cuda")
    assert plan == speed.SpeedPlan(precision="no", channels_last=True, compile="off", channels_last_params=True)
    assert not speed.resolve_speed(TrainSpec(steps=1, channels_last=False), "cpu").channels_last
    assert not speed.resolve_speed(TrainSpec(steps=1, gemm_convs=False), "cpu").gemm_convs
    assert speed.resolve_speed(TrainSpec(steps=1, speed="reference", gemm_convs=True), "cuda").gemm_convs


@pytest.mark.parametrize("name", ["pix2pix_facades", "pix2pix_edges2shoes", "pix2pix_cityscapes",
                                  "cyclegan_horse2zebra", "cyclegan_monet2photo", "ablations/facades_l1_only"])
def test_papers_recipes_keep_the_reference_computation(name: str) -> None:
    recipe, _ = load_recipe(ROOT / "recipes" / f"{name}.toml")
    assert speed.resolve_speed(recipe.train, "cpu") == speed.SpeedPlan("no", False, "off")


def test_bad_speed_value_names_the_key(tmp_path: Path) -> None:
    from translate.errors import RecipeError

    recipe = write_recipe(PIX2PIX, tmp_path / "r.toml", data=tmp_path / "data", run=tmp_path / "run")
    with pytest.raises(RecipeError, match="train.speed"):
        load_recipe(recipe, ['train.speed="turbo"'])


def test_fast_run_stays_close_to_the_reference_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "native_bf16", lambda device_type: True)  # bf16 on every CPU, for the test
    recipe = write_recipe(PIX2PIX, tmp_path / "r.toml", data=tmp_path / "data", run=tmp_path / "run")
    common = ["train.steps=6", "train.decay=0", "train.calibrate=false"]  # the preset's levers, not the timed ones
    routed: list[str] = []  # the fast plan's GEMM route for small convolutions must be the one exercised
    for name in ("conv2d_gemm", "conv_transpose2d_gemm"):
        real = getattr(gemm_conv, name)
        monkeypatch.setattr(gemm_conv, name, lambda *a, _real=real, _name=name: routed.append(_name) or _real(*a))
    ref = train(recipe, overrides=[*common, 'train.speed="reference"'], output_dir=str(tmp_path / "ref"))
    assert not routed
    _reset_accelerate()
    fast = train(recipe, overrides=common, output_dir=str(tmp_path / "fast"))
    assert {"conv2d_gemm", "conv_transpose2d_gemm"} <= set(routed)
    for a, b in zip(read_metrics(ref.run_dir), read_metrics(fast.run_dir), strict=True):
        for key in ("D", "G_gan", "G_l1"):
            assert b[key] == pytest.approx(a[key], rel=LOSS_TOLERANCE), (a["step"], key)
    _reset_accelerate()
    start = train(recipe, overrides=["train.steps=1", "train.decay=0", 'train.speed="reference"'],
                  output_dir=str(tmp_path / "init"))  # the weights after the first step
    apart, moved = _distances(ref.run_dir, fast.run_dir, start.run_dir)
    print(f"fast vs reference after 6 steps: {float(apart / moved):.4f} of the distance moved since step 1")
    assert 0 < apart < WEIGHT_TOLERANCE * moved, (float(apart), float(moved))


def test_fast_cyclegan_run_keeps_channels_last_and_stays_close(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """CycleGAN's fast plan on the CPU: bf16, NHWC activations through the layout-keeping InstanceNorm.

    The bf16 run is compared on its losses. Its weights are not: after 4 steps they are 0.83 of the
    distance moved away from the reference's, and so are those of a contiguous bf16 run (measured):
    Adam's first steps are about lr * sign(gradient), so every gradient smaller than bf16's rounding
    error steps either way. The layout machinery is checked on its own in fp32, where it changes only
    the convolutions' summation order: weights within WEIGHT_TOLERANCE (measured 0.010). Conv biases
    are left out of that distance: before InstanceNorm their true gradient is zero, and Adam turns the
    rounding noise left in it into steps of lr.
    """
    import translate.nn.layers as tnn

    monkeypatch.setattr(speed, "native_bf16", lambda device_type: True)
    recipe = write_recipe(CYCLEGAN, tmp_path / "r.toml", data=tmp_path / "data", run=tmp_path / "run")
    common = ["train.steps=4", "train.decay=0", "train.calibrate=false"]  # the preset's levers, not the timed ones
    layouts: list[bool] = []
    real = tnn.instance_norm_per_sample
    monkeypatch.setattr(tnn, "instance_norm_per_sample", lambda x, *a: (torch.is_grad_enabled() and layouts.append(
        x.is_contiguous(memory_format=torch.channels_last))) or real(x, *a))  # train steps (samples: no grad)
    ref = train(recipe, overrides=[*common, 'train.speed="reference"'], output_dir=str(tmp_path / "ref"))
    assert not layouts  # the reference computation is torch's InstanceNorm on contiguous fp32 tensors
    _reset_accelerate()
    fast = train(recipe, overrides=common, output_dir=str(tmp_path / "fast"))
    assert layouts and all(layouts)  # every InstanceNorm of the fast steps saw (and kept) NHWC activations
    for a, b in zip(read_metrics(ref.run_dir), read_metrics(fast.run_dir), strict=True):
        for key in ("G", "cycle_A", "cycle_B", "D_A", "D_B"):
            assert b[key] == pytest.approx(a[key], rel=LOSS_TOLERANCE), (a["step"], key)
    _reset_accelerate()
    layouts.clear()
    nhwc = train(recipe, overrides=[*common, 'train.mixed_precision="no"', "train.channels_last=true"],
                 output_dir=str(tmp_path / "nhwc"))
    assert layouts and all(layouts)
    _reset_accelerate()
    start = train(recipe, overrides=["train.steps=1", "train.decay=0", 'train.speed="reference"'],
                  output_dir=str(tmp_path / "init"))
    apart, moved = _distances(ref.run_dir, nhwc.run_dir, start.run_dir, keep=lambda name: not name.endswith(".bias"))
    print(f"CycleGAN fp32 NHWC vs reference after 4 steps: {float(apart / moved):.4f} of the distance moved")
    assert 0 < apart < WEIGHT_TOLERANCE * moved, (float(apart), float(moved))


def test_optimizer_state_follows_the_parameter_layout() -> None:
    """After a resume, Adam's moments come back contiguous; fused Adam needs the parameter's layout."""
    from translate.components.method import Method

    def two_steps(channels_last: bool, reload: bool) -> torch.Tensor:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        torch.manual_seed(0)
        p = torch.nn.Parameter(torch.randn(4, 3, 2, 2).contiguous(memory_format=fmt))
        opt = torch.optim.Adam([p], lr=0.1, fused=channels_last)
        p.grad = torch.randn(4, 3, 2, 2).contiguous(memory_format=fmt)
        opt.step()
        if reload:
            state = opt.state_dict()
            state["state"][0] = {k: v.contiguous() if v.dim() == 4 else v for k, v in state["state"][0].items()}
            opt.load_state_dict(state)  # what loading a checkpoint does
            method = Method()
            method.optimizers["G"] = opt
            assert speed.match_optimizer_layouts(method) == 2  # exp_avg and exp_avg_sq
            assert all(v.stride() == p.stride() for v in opt.state[p].values() if v.dim() == 4)
        p.grad = torch.randn(4, 3, 2, 2).contiguous(memory_format=fmt)
        opt.step()
        return p.detach().clone()

    assert torch.allclose(two_steps(True, reload=True), two_steps(False, reload=False), atol=1e-6)


@pytest.mark.parametrize("params_too", [False, True], ids=["cpu-layout", "gpu-layout"])
def test_fast_resume_matches_uninterrupted_fast_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    params_too: bool) -> None:
    monkeypatch.setattr(speed, "native_bf16", lambda device_type: True)
    if params_too:  # the GPU plan's channels_last parameters, the layout a resume must restore (test above)
        real = speed.resolve_speed
        monkeypatch.setattr(speed, "resolve_speed", lambda train, device_type: dataclasses.replace(
            real(train, device_type), channels_last=True, channels_last_params=True))
    recipe = write_recipe(PIX2PIX, tmp_path / "r.toml", data=tmp_path / "data", run=tmp_path / "run")
    layout = ["train.channels_last=true"]
    full = train(recipe, overrides=layout, output_dir=str(tmp_path / "full"))
    _reset_accelerate()
    train(recipe, overrides=layout, output_dir=str(tmp_path / "part"), max_steps=3)
    _reset_accelerate()
    resumed = train(recipe, overrides=layout, output_dir=str(tmp_path / "part"), resume=True)
    a, b = _weights(full.run_dir), _weights(resumed.run_dir)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_compiled_networks_give_the_eager_outputs() -> None:
    from translate.components.method import Method
    from translate.plugin.loading import get_registry

    torch.manual_seed(0)
    net = get_registry().get("generator", "unet").build({"num_downs": 5, "ngf": 4}, in_channels=3, out_channels=3)
    eager = Method()
    eager.networks["G"] = net
    compiled = Method()
    compiled.networks["G"] = __import__("copy").deepcopy(net)
    plan = speed.SpeedPlan("no", False, "default", gemm_convs=True)  # the CPU plan's GEMM route, compiled
    speed.before_prepare(compiled, plan)
    assert any(isinstance(m, gemm_conv.GemmConv2d) for m in compiled.networks["G"].modules())
    speed.after_prepare(compiled, plan)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for m in (eager, compiled):
        m.networks["G"].eval()
    with torch.no_grad():
        a, b = eager.networks["G"](x), compiled.networks["G"](x)
    assert torch.allclose(a, b, atol=1e-5)
    # the compiled module is the same object with the same parameter names (checkpoints, export)
    assert list(compiled.networks["G"].state_dict()) == list(net.state_dict())
