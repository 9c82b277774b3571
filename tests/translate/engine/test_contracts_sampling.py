"""Sampling cannot change training state: the engine restores buffers, modes, requires_grad and every RNG
around ``Method.sample``, whatever the plugin does; every registered method is checked."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import translate
from translate.components.build import BuildContext, BuiltMethod
from translate.components.method import ExportSpec, Method, StepContext
from translate.data.contract import DataInfo
from translate.engine.sampling import guarded_sample, training_state_kept
from translate.engine.steps import write_samples
from translate.plugin.loading import get_registry
from translate.testing import check_method, load_registry_with


class Net(nn.Module):
    """conv -> BatchNorm -> (a frozen-in-eval BatchNorm) -> dropout -> tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.norm = nn.BatchNorm2d(3)
        self.frozen_norm = nn.BatchNorm2d(3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.drop(self.frozen_norm(self.norm(self.conv(x)))))


class Misbehaving(Method):
    """Its ``sample`` does everything the contract says it may not leave behind."""

    data_keys = ("input", "target")

    def __init__(self, options: translate.NoOptions | None = None, ctx: BuildContext | None = None) -> None:
        super().__init__()
        self.networks["G"] = Net() if ctx is None else ctx.generator(in_channels=3, out_channels=3, default="bn_net")
        self.networks["G"].frozen_norm.eval()  # a mixed-mode network: must come back mixed
        self.optimizers["G"] = torch.optim.SGD(self.networks["G"].parameters(), lr=0.1)
        self.draws: list[float] = []

    def train_step(self, batch, ctx: StepContext):
        G, opt = self.networks["G"], self.optimizers["G"]
        opt.zero_grad()
        loss = (G(batch["input"]) - batch["target"]).abs().mean()
        ctx.backward(loss)
        opt.step()
        return {"G": loss.detach()}

    def sample(self, batch):
        G = self.networks["G"]
        G.train()  # batch statistics: updates every BatchNorm's running stats
        for _ in range(3):
            fake = G(batch["input"] * 3 + 1)
        G.norm.running_mean = torch.full((3,), 7.0)  # replaces a buffer
        G.eval()  # and leaves the network in eval mode
        for p in G.parameters():
            p.requires_grad_(False)
        self.draws = [torch.rand(()).item(), random.random(), float(np.random.rand())]
        return [[("input", batch["input"]), ("output", fake)]]

    def exports(self):
        return [ExportSpec(name="G", network="G")]


def _state(method: Method) -> dict:
    G = method.networks["G"]
    return {
        "buffers": {k: v.clone() for k, v in G.named_buffers()},
        "modes": {k: m.training for k, m in G.named_modules()},
        "requires_grad": [p.requires_grad for p in G.parameters()],
        "torch": torch.get_rng_state(),
        "random": random.getstate(),
        "numpy": repr(np.random.get_state()),
    }


def _equal(a: dict, b: dict) -> list[str]:
    diff = []
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict) and x and isinstance(next(iter(x.values())), torch.Tensor):
            same = x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
        elif isinstance(x, torch.Tensor):
            same = torch.equal(x, y)
        else:
            same = x == y
        if not same:
            diff.append(key)
    return diff


def _batch() -> dict:
    g = torch.Generator().manual_seed(1)
    return {"input": torch.rand(2, 3, 8, 8, generator=g) * 2 - 1, "target": torch.rand(2, 3, 8, 8, generator=g)}


def _trained() -> Misbehaving:
    method = Misbehaving()
    method.networks["G"].train()
    method.networks["G"].frozen_norm.eval()
    with torch.no_grad():
        method.networks["G"](_batch()["input"])  # running stats away from their initial values
    return method


def test_the_misbehaving_method_does_change_state_when_called_directly():
    method = _trained()
    before = _state(method)
    method.sample(_batch())
    assert set(_equal(before, _state(method))) == {"buffers", "modes", "requires_grad", "torch", "random", "numpy"}


def test_the_guard_restores_buffers_modes_requires_grad_and_every_rng():
    method = _trained()
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)
    before = _state(method)
    groups = guarded_sample(method, _batch(), seed=5)
    assert _equal(before, _state(method)) == []
    assert method.networks["G"].norm.running_mean is not None and method.networks["G"].frozen_norm.training is False
    assert [label for label, _ in groups[0]] == ["input", "output"]
    # what training draws next is what it would have drawn without sampling
    assert torch.rand(()).item() == torch.rand((), generator=torch.Generator().manual_seed(13)).item()
    assert random.random() == random.Random(11).random()
    assert np.random.rand() == np.random.RandomState(12).rand()


def test_sampling_is_seeded_the_same_each_time():
    method = _trained()
    guarded_sample(method, _batch(), seed=5)
    first = list(method.draws)
    guarded_sample(method, _batch(), seed=5)
    assert method.draws == first
    guarded_sample(method, _batch(), seed=6)
    assert method.draws != first


def test_the_engine_writes_samples_through_the_guard(tmp_path: Path):
    class Accelerator:
        device = torch.device("cpu")

    method = _trained()
    before = _state(method)
    write_samples(BuiltMethod(method, DataInfo(), {}, {}), _batch(), Accelerator(), tmp_path, step=4, seed=0)
    assert (tmp_path / "samples" / "step-00000004.png").is_file()
    assert _equal(before, _state(method)) == []


def test_the_guard_restores_state_when_sample_raises():
    class Failing(Misbehaving):
        def sample(self, batch):
            super().sample(batch)
            raise RuntimeError("broken sample")

    method = Failing()
    before = _state(method)
    with pytest.raises(RuntimeError, match="broken sample"):
        guarded_sample(method, _batch(), seed=0)
    assert _equal(before, _state(method)) == []


def test_the_guard_keeps_loss_modules_too():
    method = _trained()
    loss = nn.BatchNorm2d(3).eval()
    with training_state_kept(method, losses=[loss]):
        loss.train()
        loss(torch.randn(2, 3, 4, 4))
    assert not loss.training and torch.equal(loss.running_mean, torch.zeros(3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_cuda_generator_is_restored():
    torch.zeros(1, device="cuda")  # CUDA initialised, as in a training run
    method = _trained()
    state = torch.cuda.get_rng_state()

    class OnCuda(Misbehaving):
        def sample(self, batch):
            torch.rand(10, device="cuda")
            return super().sample(batch)

    method.__class__ = OnCuda
    guarded_sample(method, _batch(), seed=0, device=torch.device("cuda"))
    assert torch.equal(torch.cuda.get_rng_state(), state)


def _net(options: translate.NoOptions, *, in_channels: int, out_channels: int) -> Net:
    return Net()


class MisbehavingPlugin:
    @translate.hookimpl
    def register_generators(self, register):
        register("bn_net", _net, description="conv, BatchNorm, dropout (test)")

    @translate.hookimpl
    def register_methods(self, register):
        register("misbehaving", Misbehaving, description="a sample with side effects (test)")


def test_check_method_passes_the_misbehaving_method_because_the_engine_guards_it():
    registry = load_registry_with(("misbehaving", MisbehavingPlugin()))
    method = check_method(registry, "misbehaving", steps=1)
    assert len(method.draws) == 3


def test_check_method_catches_a_sample_that_writes_parameters():
    class Writing(Misbehaving):
        def sample(self, batch):
            with torch.no_grad():
                self.networks["G"].conv.weight.add_(1.0)
            return super().sample(batch)

    class Plugin(MisbehavingPlugin):
        @translate.hookimpl
        def register_methods(self, register):
            register("writing", Writing, description="writes weights while sampling (test)")

    with pytest.raises(AssertionError, match="sampling changed parameters and buffers"):
        check_method(load_registry_with(("writing", Plugin())), "writing", steps=1)


@pytest.mark.parametrize("name", sorted(get_registry().names("method")))
def test_every_registered_method_samples_without_side_effects(name):
    """Built on its components' smoke options, trained two steps, sampled, exported and reloaded."""
    check_method(get_registry(), name)
