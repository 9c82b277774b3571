"""translate.testing's checks for losses and methods, ``load_registry_with`` on an installed plugin, and the
worked method example of docs/plugins.md (run as a plugin and checked with ``check_method``)."""

from __future__ import annotations

import importlib.util
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch
from torch import nn

import translate
from translate.components.method import ExportSpec, Method
from translate.models import read_metadata
from translate.plugin.loading import get_registry
from translate.testing import check_component, check_loss, check_method, load_registry_with

ROOT = Path(__file__).resolve().parents[3]
PLUGINS_MD = ROOT / "docs" / "plugins.md"
TINY_UNET = {"name": "unet", "options": {"num_downs": 5, "ngf": 8}}
TINY_PATCHGAN = {"name": "patchgan", "options": {"n_layers": 2, "ndf": 8}}


@pytest.mark.parametrize("name", sorted(get_registry().names("loss")))
def test_every_registered_loss_passes_check_loss(name):
    comp = get_registry().get("loss", name)
    assert check_component(comp) is not None


class Features(nn.Module):
    """A loss with weights: L1 between 1x1-conv features."""

    def __init__(self, _options=None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, fake, real):
        return (self.conv(fake) - self.conv(real)).abs().mean()


class TrainableFeatures(Features):
    trainable = True


class Unused(TrainableFeatures):
    def forward(self, fake, real):
        return (fake - real).abs().mean()


class NotScalar(Features):
    def forward(self, fake, real):
        return (fake - real).abs()


class Detached(Features):
    def forward(self, fake, real):
        return (fake.detach() - real).abs().mean()


class Losses:
    @translate.hookimpl
    def register_losses(self, register):
        for name, cls in [("features", Features), ("trainable_features", TrainableFeatures), ("unused", Unused),
                          ("not_scalar", NotScalar), ("detached", Detached)]:
            register(name, cls, description=f"{name} (test)")


@pytest.fixture(scope="module")
def losses():
    return load_registry_with(("losses_under_test", Losses()))


def test_a_weighted_loss_is_frozen_and_passes(losses):
    loss = check_loss(losses, "features")
    assert not loss.training and loss.conv.weight.grad is None and not loss.conv.weight.requires_grad


def test_a_trainable_loss_keeps_its_gradients(losses):
    loss = check_loss(losses, "trainable_features")
    assert loss.training and loss.conv.weight.grad is not None


@pytest.mark.parametrize(("name", "message"), [
    ("unused", "trainable, but its parameters get no gradient: conv.weight"),
    ("not_scalar", "returned (2, 3, 32, 32), expected a scalar tensor"),
    ("detached", "does not depend on the input"),
])
def test_check_loss_names_what_is_wrong(losses, name, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_loss(losses, name)


def _net(_options, *, in_channels, out_channels):
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


class Lazy(Method):
    """Builds its generator through ctx; the subclasses below break one rule each."""

    data_keys = ("x", "y")

    def __init__(self, options, ctx) -> None:
        super().__init__()
        self.networks["G"] = ctx.generator(in_channels=ctx.channels["x"], out_channels=ctx.channels["y"],
                                           default="conv")
        self.optimizers["G"] = ctx.adam(self.networks["G"].parameters(), 1e-2, (0.5, 0.999))
        self.count = 0

    def train_step(self, batch, ctx):
        opt = self.optimizers["G"]
        opt.zero_grad()
        loss = (self.networks["G"](batch["x"]) - batch["y"]).abs().mean()
        ctx.backward(loss)
        opt.step()
        return {"G": loss.detach()}

    def sample(self, batch):
        return [[("x", batch["x"]), ("output", self.networks["G"](batch["x"]).clamp(-1, 1))]]

    def exports(self):
        return [ExportSpec(name="G", network="G", test_mode="eval")]

    def state_dict(self):
        return {"count": self.count}


class NotDetached(Lazy):
    def train_step(self, batch, ctx):
        super().train_step(batch, ctx)
        return {"G": (self.networks["G"](batch["x"]) - batch["y"]).abs().mean()}


class NoStep(Lazy):
    def train_step(self, batch, ctx):
        return {"G": (self.networks["G"](batch["x"]) - batch["y"]).abs().mean().detach()}


class Counting(Lazy):
    def sample(self, batch):
        self.count += 1
        return super().sample(batch)


class BadExport(Lazy):
    def exports(self):
        return [ExportSpec(name="G", network="generator")]


class Methods:
    @translate.hookimpl
    def register_generators(self, register):
        register("conv", _net, description="one conv (test)")

    @translate.hookimpl
    def register_methods(self, register):
        for name, cls in [("lazy", Lazy), ("not_detached", NotDetached), ("no_step", NoStep),
                          ("counting", Counting), ("bad_export", BadExport)]:
            register(name, cls, description=f"{name} (test)")


@pytest.fixture(scope="module")
def methods():
    return load_registry_with(("methods_under_test", Methods()))


def test_check_method_passes_a_correct_method_and_writes_the_model(methods, tmp_path):
    method = check_method(methods, "lazy", channels={"x": 1, "y": 3}, folder=tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    pipe = translate.load(tmp_path, registry=methods, device="cpu")
    assert tuple(pipe(torch.zeros(1, 1, 8, 8)).shape) == (1, 3, 8, 8)
    assert method.networks["G"].weight.shape == (3, 1, 3, 3)


@pytest.mark.parametrize(("name", "message"), [
    ("not_detached", "train_step loss 'G' is not detached"),
    ("no_step", "2 train steps changed no weight"),
    ("counting", "sampling changed state_dict()"),
    ("bad_export", "exports() names networks ['generator'] that are not in method.networks"),
])
def test_check_method_names_what_is_wrong(methods, name, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_method(methods, name)


def test_check_method_refuses_an_undeclared_loss_role():
    registry = get_registry()
    with pytest.raises(AssertionError, match="uses no loss role 'reconstrution'"):
        check_method(registry, "pix2pix", tables={"generator": TINY_UNET, "discriminator": TINY_PATCHGAN,
                                                  "losses": {"reconstrution": {"name": "l1"}}})


def test_check_method_builds_untabled_components_from_their_smoke_options(tmp_path):
    method = check_method(get_registry(), "pix2pix", tables={"generator": TINY_UNET}, steps=1, folder=tmp_path)
    assert next(method.networks["D"].parameters()).shape[0] == 8  # patchgan's smoke options: ndf 8
    assert read_metadata(tmp_path / "model.safetensors").generators["G"].options["num_downs"] == 5


EXAMPLE_DIST = "translate-example-plugin"


def test_load_registry_with_an_installed_plugin():
    try:
        metadata.distribution(EXAMPLE_DIST)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{EXAMPLE_DIST} is not installed: pip install ./docs/examples/translate-example-plugin")
    import translate_example_plugin

    registry = load_registry_with(translate_example_plugin, installed=True)
    comp = registry.get("generator", "tiny_resnet")
    assert comp.plugin.name == "example" and comp.plugin.distribution == "(in-process)"
    assert "unet" in registry.names("generator")  # the built-ins are loaded too
    named = load_registry_with(("mine", translate_example_plugin), installed=True)
    assert named.get("generator", "tiny_resnet").plugin.name == "mine"


def _section_12_code() -> list[str]:
    text = PLUGINS_MD.read_text()
    section = text.split("## 12. Writing a method", 1)[1].split("## 13.", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2, "docs/plugins.md section 12 should show the method module and its test"
    return blocks


@pytest.fixture
def example_method(tmp_path, monkeypatch):
    module_code, _ = _section_12_code()
    path = tmp_path / "translate_example_method.py"
    path.write_text(module_code)
    spec = importlib.util.spec_from_file_location("translate_example_method", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "translate_example_method", module)
    spec.loader.exec_module(module)
    return module


def test_the_method_example_in_plugins_md_passes_its_own_test(example_method):
    _, test_code = _section_12_code()
    namespace: dict = {}
    exec(compile(test_code, "plugins.md: the method example's test", "exec"), namespace)
    namespace["test_regression_method"]()


def test_the_method_example_refuses_the_roles_it_does_not_declare(example_method, tmp_path):
    from translate.recipe.check import check_recipe

    registry = load_registry_with(example_method, installed=True)
    recipe = tmp_path / "regression.toml"
    recipe.write_text('[method]\nname = "regression"\n\n[losses.perceptual]\nname = "l1"\n\n'
                      '[data]\nname = "synthetic_shapes"\n\n[data.options]\nroot = "x"\n\n[train]\nsteps = 1\n')
    status, err = check_recipe(recipe, registry=registry)
    assert status == 2
    assert "losses.perceptual: method 'regression' uses no loss role 'perceptual'; it accepts reconstruction" in err
    page = " ".join(PLUGINS_MD.read_text().split())
    shown = "(`losses.perceptual: method 'regression' uses no loss role 'perceptual'; it accepts reconstruction`)"
    assert shown in page
