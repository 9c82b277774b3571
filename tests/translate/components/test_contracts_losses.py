"""Losses that hold weights (placed on the run's device by the engine, frozen, never checkpointed) and
declared loss roles (recipe validation, ``BuildContext.loss``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from safetensors import safe_open
from torch import nn

import translate
from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.commands.main import main
from translate.components.build import BuildContext, BuiltMethod
from translate.components.method import Method
from translate.data.contract import DataInfo
from translate.engine.loss_device import place_losses
from translate.engine.setup import prepare
from translate.errors import PluginError, RecipeError, UnknownComponent
from translate.recipe import Recipe, validate
from translate.testing import load_registry_with

ROOT = Path(__file__).resolve().parents[3]


class ProbeLoss(nn.Module):
    """An L1 loss on 1x1-conv features: holds a parameter and a buffer, built in float64 and train mode.

    Each call records what the method's reference sees: device, dtype, mode, ``requires_grad``."""

    seen: ClassVar[list[dict]] = []

    def __init__(self, _options: translate.NoOptions) -> None:
        super().__init__()
        self.perceptual_probe = nn.Conv2d(3, 4, 1).double()
        self.register_buffer("probe_scale", torch.ones((), dtype=torch.float64))

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        w = self.perceptual_probe.weight
        ProbeLoss.seen.append({"device": w.device.type, "dtype": w.dtype, "training": self.training,
                               "requires_grad": w.requires_grad, "id": id(self)})
        return (self.perceptual_probe(fake) - self.perceptual_probe(real)).abs().mean() * self.probe_scale


class TrainableProbe(ProbeLoss):
    trainable = True


class AnyRoles(translate.Options):
    """A method options model without ``loss_roles``: any role is accepted."""


class LossesMethod(Method):
    def __init__(self, options: AnyRoles, ctx: BuildContext) -> None:
        super().__init__()
        self.net = nn.Conv2d(3, 3, 1)
        self.networks["G"] = self.net
        self.made = ctx.loss("anything", default="probe")


class Probes:
    @translate.hookimpl
    def register_losses(self, register):
        register("probe", ProbeLoss, description="L1 on 1x1-conv features (test)")
        register("trainable_probe", TrainableProbe, description="trainable probe (test)")

    @translate.hookimpl
    def register_methods(self, register):
        register("any_roles", LossesMethod, options=AnyRoles, description="declares no loss roles (test)")


@pytest.fixture(scope="module")
def registry():
    return load_registry_with(("probes", Probes()), installed=True)


def _probe() -> ProbeLoss:
    loss = ProbeLoss(translate.NoOptions())
    loss.train()
    return loss


def test_place_losses_moves_in_place_freezes_and_evals():
    loss, fn = _probe(), torch.nn.functional.l1_loss
    placed = place_losses({"perceptual": loss, "reconstruction": fn}, torch.device("meta"))
    assert placed == ["perceptual"]
    assert loss.perceptual_probe.weight.device.type == "meta" and loss.probe_scale.device.type == "meta"
    assert loss.perceptual_probe.weight.dtype == torch.float32 and loss.probe_scale.dtype == torch.float32
    assert not loss.training and not any(p.requires_grad for p in loss.parameters())


def test_trainable_losses_are_placed_but_not_frozen():
    loss = TrainableProbe(translate.NoOptions())
    loss.train()
    place_losses({"perceptual": loss}, torch.device("meta"))
    assert loss.perceptual_probe.weight.device.type == "meta"
    assert loss.training and all(p.requires_grad for p in loss.parameters())


def test_a_loss_whose_to_returns_a_copy_is_refused():
    class Copying(ProbeLoss):
        def to(self, *args, **kwargs):
            return ProbeLoss(translate.NoOptions())

    with pytest.raises(PluginError, match="returned a new object"):
        place_losses({"perceptual": Copying(translate.NoOptions())}, "cpu")


def test_the_engines_prepare_places_the_built_losses_on_the_accelerators_device():
    class FakeAccelerator:
        device = torch.device("meta")

        def prepare(self, *objs):
            return objs if len(objs) > 1 else objs[0]

    method = Method()
    method.networks["G"] = nn.Conv2d(3, 3, 1)
    loss = _probe()
    prepare(FakeAccelerator(), BuiltMethod(method, DataInfo(), records={}, losses={"perceptual": loss}))
    assert loss.perceptual_probe.weight.device.type == "meta" and not loss.training
    assert method.networks["G"].weight.device.type == "cpu"  # networks are Accelerate's business


def _recipe(method: str, losses: dict) -> Recipe:
    return Recipe.model_validate({"method": {"name": method}, "losses": losses,
                                  "data": {"name": "synthetic_shapes"}, "train": {"steps": 1}})


def test_build_context_records_each_loss_it_built(registry):
    ctx = BuildContext(_recipe("pix2pix", {"reconstruction": {"name": "probe"}}), registry, channels={})
    rec = ctx.loss("reconstruction", default="l1")
    gan = ctx.loss("adversarial", default="vanilla")
    again = ctx.loss("reconstruction", default="l1")
    assert ctx.losses == {"reconstruction": rec, "adversarial": gan, "reconstruction#2": again}
    assert isinstance(rec, ProbeLoss) and rec is not again


def test_build_context_refuses_an_undeclared_role_naming_the_method(registry):
    ctx = BuildContext(_recipe("pix2pix", {}), registry, channels={})
    with pytest.raises(PluginError) as info:
        ctx.loss("reconstrution", default="l1")
    message = str(info.value)
    assert "'pix2pix'" in message and "'reconstrution'" in message
    assert "adversarial, reconstruction, perceptual" in message and not ctx.losses


def test_a_method_without_loss_roles_accepts_any_role(registry):
    data = {"method": {"name": "any_roles"}, "losses": {"anything": {"name": "probe"}},
            "data": {"name": "synthetic_shapes"}, "train": {"steps": 1}}
    recipe = validate(data, registry)
    comp = registry.get("method", "any_roles")
    ctx = BuildContext(recipe, registry, channels={})
    method = comp.factory(comp.parse_options({}, "method.options"), ctx=ctx)
    assert ctx.losses == {"anything": method.made}


@pytest.mark.parametrize(("method", "role", "accepted"), [
    ("pix2pix", "reconstrution", "adversarial, reconstruction, perceptual"),
    ("cyclegan", "cycles", "adversarial, cycle, identity"),
])
def test_validation_refuses_a_loss_role_the_method_does_not_declare(registry, method, role, accepted):
    data = {"method": {"name": method}, "losses": {role: {"name": "l1"}, "adversarial": {"name": "lsgan"}},
            "data": {"name": "synthetic_shapes"}, "train": {"steps": 1}}
    with pytest.raises(RecipeError) as info:
        validate(data, registry, source="r.toml")
    assert info.value.problems == [
        f"losses.{role}: method {method!r} uses no loss role {role!r}; it accepts {accepted} "
        f"(did you mean {role[:-1] if role.endswith('s') else 'reconstruction'!r}?)"]


def test_translate_check_fails_on_a_misspelt_loss_role(tmp_path, capsys):
    text = (ROOT / "recipes" / "pix2pix_cityscapes.toml").read_text().replace(
        "[losses.reconstruction]", "[losses.reconstrution]")
    assert "[losses.reconstrution]" in text
    path = tmp_path / "cityscapes.toml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "losses.reconstrution: method 'pix2pix' uses no loss role 'reconstrution'" in err
    assert "it accepts adversarial, reconstruction, perceptual (did you mean 'reconstruction'?)" in err


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "recipes").glob("*.toml")))
def test_the_shipped_recipes_use_declared_roles(recipe, capsys):
    assert main(["check", str(ROOT / "recipes" / recipe)]) == 0, capsys.readouterr().err


def test_unknown_loss_message_has_the_right_plural(registry):
    with pytest.raises(UnknownComponent, match=r"Installed losses: .*\bl1\b"):
        registry.get("loss", "l11")


def test_a_weighted_loss_trains_on_the_device_frozen_and_stays_out_of_checkpoints(tmp_path, registry):
    from translate.engine.trainer import train

    text = PIX2PIX.replace("[data]", '[losses.reconstruction]\nname = "probe"\n\n[data]')
    path = write_recipe(text, tmp_path / "probe.toml", data=tmp_path / "shapes", run=tmp_path / "run")
    ProbeLoss.seen.clear()
    run = train(path, max_steps=3, registry=registry).run_dir
    assert len(ProbeLoss.seen) == 3 and len({s["id"] for s in ProbeLoss.seen}) == 1
    assert all(s == {**ProbeLoss.seen[0]} for s in ProbeLoss.seen)
    seen = ProbeLoss.seen[0]
    assert (seen["device"], seen["dtype"], seen["training"], seen["requires_grad"]) == \
        ("cpu", torch.float32, False, False)
    files = [*run.glob("checkpoints/*/**/*.safetensors"), run / "model.safetensors"]
    assert len(files) >= 2
    for file in files:
        with safe_open(str(file), "pt") as f:
            assert not [k for k in f.keys() if "probe" in k], file
    for manifest in run.glob("checkpoints/*/**/*.json"):
        assert "perceptual_probe" not in manifest.read_text(), manifest
    assert json.loads((run / "recipe.json").read_text())["losses"]["reconstruction"]["name"] == "probe"


def test_a_malformed_loss_roles_declaration_is_a_plugin_error():
    class BadRoles(translate.Options):
        loss_roles: ClassVar[str] = "adversarial"  # a string, not a tuple of roles

    class Plugin:
        @translate.hookimpl
        def register_methods(self, register):
            register("bad_roles", LossesMethod, options=BadRoles, description="malformed loss_roles (test)")

    registry = load_registry_with(("bad_roles", Plugin()))
    data = {"method": {"name": "bad_roles"}, "losses": {"adversarial": {"name": "x"}},
            "data": {"name": "x"}, "train": {"steps": 1}}
    with pytest.raises(PluginError, match=r"method 'bad_roles' \(plugin 'bad_roles'\): loss_roles must be a tuple"):
        validate(data, registry)
