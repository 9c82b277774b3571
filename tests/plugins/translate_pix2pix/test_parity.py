"""Parity with the authors' pix2pix networks and training step (pytorch-CycleGAN-and-pix2pix).

The authors' networks are rebuilt here from facts about their layout (module nesting, layer
order, which convs have a bias, tensor names and shapes), not from their code:

- ``UnetSkipConnectionBlock``: a ``model`` Sequential. Outermost: [down-conv, block, ReLU,
  transposed conv (bias), Tanh]. Innermost: [LeakyReLU, down-conv, ReLU, transposed conv, norm].
  Others: [LeakyReLU, down-conv, norm, block, ReLU, transposed conv, norm, Dropout(0.5) in the
  ``num_downs - 5`` blocks at ``8 * ngf`` around the innermost]. Each non-outermost block returns
  ``cat([x, model(x)])``. Activations are in place; a conv has a bias exactly with InstanceNorm;
  ``norm = "none"`` puts a parameter-free identity where the norm would be.
- ``NLayerDiscriminator`` (``model.<i>``) and ``PixelDiscriminator`` (``net.<i>``) likewise.
"""

from __future__ import annotations

import copy
import dataclasses
from contextlib import nullcontext
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from translate.components.build import BuildContext
from translate.components.method import ComponentRecord, ExportSpec, StepContext
from translate.errors import ModelFileError
from translate.models import load_model, save_model
from translate.plugin.loading import load_plugins
from translate.recipe import Recipe

REG = load_plugins().registry

# The authors' parameter counts (measured on their networks.py; ngf/ndf 64, 3 -> 3 channels for G,
# 6 input channels for D).
AUTHORS_PARAMS = {
    ("unet_256", "batch"): 54_413_955, ("unet_256", "instance"): 54_409_603, ("unet_256", "none"): 54_404_099,
    ("unet_128", "batch"): 41_828_995, ("unet_128", "instance"): 41_825_667, ("unet_128", "none"): 41_821_187,
    ("patchgan_70", "batch"): 2_768_705, ("patchgan_70", "instance"): 2_767_809, ("patchgan_70", "none"): 2_766_913,
    ("patchgan_16", "batch"): 139_585, ("patchgan_286", "batch"): 11_159_361,
    ("pixelgan", "batch"): 9_024, ("pixelgan", "instance"): 8_897, ("pixelgan", "none"): 8_768,
}


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)  # affine=False, no running statistics
    return nn.Identity()


class AuthorsBlock(nn.Module):
    def __init__(self, outer: int, inner: int, *, cin: int | None = None, sub: nn.Module | None = None,
                 place: str = "mid", norm: str = "batch", dropout: bool = False) -> None:
        super().__init__()
        bias, cin = norm == "instance", cin or outer
        self.outermost = place == "outer"
        if place == "outer":
            layers = [nn.Conv2d(cin, inner, 4, 2, 1, bias=bias), sub, nn.ReLU(True),
                      nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif place == "inner":
            layers = [nn.LeakyReLU(0.2, True), nn.Conv2d(cin, inner, 4, 2, 1, bias=bias), nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), _norm(norm, outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), nn.Conv2d(cin, inner, 4, 2, 1, bias=bias), _norm(norm, inner), sub,
                      nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias), _norm(norm, outer)]
            layers += [nn.Dropout(0.5)] if dropout else []
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class AuthorsUnet(nn.Module):
    def __init__(self, cin: int, cout: int, num_downs: int, ngf: int, norm: str, dropout: bool = True) -> None:
        super().__init__()
        block = AuthorsBlock(ngf * 8, ngf * 8, place="inner", norm=norm)
        for _ in range(num_downs - 5):
            block = AuthorsBlock(ngf * 8, ngf * 8, sub=block, norm=norm, dropout=dropout)
        for mult in (4, 2, 1):
            block = AuthorsBlock(ngf * mult, ngf * mult * 2, sub=block, norm=norm)
        self.model = AuthorsBlock(cout, ngf, cin=cin, sub=block, place="outer", norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class AuthorsPatchGAN(nn.Module):
    def __init__(self, cin: int, ndf: int, n_layers: int, norm: str) -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if n < n_layers else 1, 1, bias=bias),
                       _norm(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class AuthorsPixelGAN(nn.Module):
    def __init__(self, cin: int, ndf: int, norm: str) -> None:
        super().__init__()
        bias = norm == "instance"
        self.net = nn.Sequential(nn.Conv2d(cin, ndf, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
                                 _norm(norm, ndf * 2), nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * 2, 1, 1, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def gen(name: str, options: dict | None = None, cin: int = 3, cout: int = 3) -> nn.Module:
    return REG.get("generator", name).build(options or {}, in_channels=cin, out_channels=cout)


def disc(name: str, options: dict | None = None, cin: int = 6) -> nn.Module:
    return REG.get("discriminator", name).build(options or {}, in_channels=cin)


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, biases and BatchNorm statistics, so that every tensor matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("num_batches_tracked"):
                t.fill_(7)
            elif name.endswith(".weight") and t.dim() == 1:  # BatchNorm scale
                t.copy_(1 + 0.1 * torch.randn(t.shape, generator=g))
            else:
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
    return module


def shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


# --- parameter counts -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,norm", [k for k in AUTHORS_PARAMS if k[0].startswith("unet")])
def test_unet_parameter_counts_equal_the_authors(name: str, norm: str) -> None:
    ours = n_params(gen(name, {"norm": norm}))
    theirs = n_params(AuthorsUnet(3, 3, 8 if name == "unet_256" else 7, 64, norm))
    assert ours == theirs == AUTHORS_PARAMS[(name, norm)]


@pytest.mark.parametrize("name,norm", [k for k in AUTHORS_PARAMS if not k[0].startswith("unet")])
def test_discriminator_parameter_counts_equal_the_authors(name: str, norm: str) -> None:
    ours = n_params(disc(name, {"norm": norm}))
    if name == "pixelgan":
        theirs = n_params(AuthorsPixelGAN(6, 64, norm))
    else:
        theirs = n_params(AuthorsPatchGAN(6, 64, {"patchgan_16": 1, "patchgan_70": 3, "patchgan_286": 5}[name], norm))
    assert ours == theirs == AUTHORS_PARAMS[(name, norm)]


def test_translate_0_1_0_layout_has_two_more_biases() -> None:
    # translate 0.1.0 gave the outermost and innermost down-convs a bias (64 + 512) and the PixelGAN's last conv one.
    assert n_params(gen("unet_256", {"bias": "v0.1"})) == 54_413_955 + 64 + 512
    assert n_params(disc("pixelgan", {"bias": "v0.1"})) == 9_024 + 1
    assert n_params(disc("patchgan_70", {"bias": "v0.1"})) == 2_768_705  # unchanged with batch norm


# --- tensor for tensor ----------------------------------------------------------------------------

UNET_CASES = [(n, norm) for n in (5, 6, 7, 8) for norm in ("batch", "instance", "none")]


@pytest.mark.parametrize("num_downs,norm", UNET_CASES)
def test_unet_tensors_and_outputs_equal_the_authors(num_downs: int, norm: str) -> None:
    cout = 2 if norm == "none" else 3  # other channel counts too
    ours = randomize(gen("unet", {"ngf": 4, "num_downs": num_downs, "norm": norm, "dropout_layers": "authors"},
                         cout=cout))
    theirs = AuthorsUnet(3, cout, num_downs, 4, norm)
    converted = ours.to_authors_state_dict()
    assert shapes(converted) == shapes(theirs.state_dict())
    theirs.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 2**num_downs, 2**num_downs)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        out = ours(x)
        diff = (out - theirs(x)).abs().max().item()
    assert diff <= 1e-5
    assert (out.abs() < 0.99).float().mean() > 0.5  # not saturated: the comparison means something
    # Train mode (dropout on, batch statistics): the same dropout masks from the same seed.
    ours.train(), theirs.train()
    with torch.no_grad():
        torch.manual_seed(3)
        a = ours(x)
        torch.manual_seed(3)
        b = theirs(x)
    assert (a - b).abs().max().item() <= 1e-5
    # And back: the authors' state dict under translate's names is ours.
    back = ours.from_authors_state_dict(theirs.state_dict())
    assert shapes(back) == shapes(ours.state_dict())
    assert all(torch.equal(back[k], v) for k, v in ours.state_dict().items())


def test_unet_256_names_are_the_authors() -> None:
    g = gen("unet_256", {"ngf": 2})
    names = set(g.to_authors_state_dict())
    assert names == set(AuthorsUnet(3, 3, 8, 2, "batch").state_dict())
    assert "model.model.0.weight" in names and "model.model.0.bias" not in names
    innermost = "model.model" + ".1.model" + ".3.model" * 6
    assert f"{innermost}.1.weight" in names and f"{innermost}.1.bias" not in names
    assert "model.model.3.bias" in names  # the last transposed conv has its bias


@pytest.mark.parametrize("n_layers", [1, 3, 5])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_patchgan_tensors_and_outputs_equal_the_authors(n_layers: int, norm: str) -> None:
    ours = randomize(disc("patchgan", {"ndf": 4, "n_layers": n_layers, "norm": norm}))
    theirs = AuthorsPatchGAN(6, 4, n_layers, norm)
    theirs.load_state_dict(ours.to_authors_state_dict(), strict=True)
    side = max(64, 2 ** (n_layers + 2))
    x = torch.randn(2, 6, side, side)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-5
    back = ours.from_authors_state_dict(theirs.state_dict())
    assert shapes(back) == shapes(ours.state_dict())


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_pixelgan_tensors_and_outputs_equal_the_authors(norm: str) -> None:
    ours = randomize(disc("pixelgan", {"ndf": 4, "norm": norm}))
    theirs = AuthorsPixelGAN(6, 4, norm)
    theirs.load_state_dict(ours.to_authors_state_dict(), strict=True)
    x = torch.randn(2, 6, 8, 8)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-5
    ours.load_state_dict(ours.from_authors_state_dict(theirs.state_dict()), strict=True)


# --- options from an authors' state dict (what `translate convert` uses) ---------------------------

@pytest.mark.parametrize("name,num_downs,norm", [("unet_256", 8, "batch"), ("unet_128", 7, "instance"),
                                                  ("unet", 6, "none"), ("unet", 8, "batch")])
def test_infer_options_and_load_an_authors_generator(name: str, num_downs: int, norm: str) -> None:
    theirs = randomize(AuthorsUnet(1, 2, num_downs, 4, norm))
    state = theirs.state_dict()
    comp = REG.get("generator", name)
    probe = comp.build(comp.smoke_options, in_channels=3, out_channels=3)
    options = probe.infer_options_from_authors_state_dict(state)
    channels = probe.channels_from_authors_state_dict(state)
    assert channels == {"in_channels": 1, "out_channels": 2}
    assert options["norm"] == norm and options["ngf"] == 4
    assert options["dropout_layers"] == "authors" and options["bias"] == "authors"
    assert ("num_downs" in options) == (name == "unet")
    ours = comp.build(options, **channels)
    ours.load_state_dict(probe.from_authors_state_dict(state), strict=True)
    x = torch.randn(1, 1, 2**num_downs, 2**num_downs)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-5


def test_old_instance_norm_statistics_and_missing_batch_counters() -> None:
    theirs = randomize(AuthorsUnet(3, 3, 5, 4, "instance"))
    state = dict(theirs.state_dict())
    # pre-0.4 PyTorch saved running statistics for InstanceNorm layers; the authors' loader drops them.
    level1 = "model.model.1.model"
    state[f"{level1}.2.running_mean"] = torch.zeros(8)
    state[f"{level1}.2.running_var"] = torch.ones(8)
    state[f"{level1}.6.num_batches_tracked"] = torch.tensor(3)
    ours = gen("unet", {"ngf": 4, "num_downs": 5, "norm": "instance"})
    ours.load_state_dict(ours.from_authors_state_dict(state), strict=True)
    # BatchNorm saved without num_batches_tracked (pre-0.4) still loads.
    bn = {k: v for k, v in randomize(AuthorsUnet(3, 3, 5, 4, "batch")).state_dict().items()
          if not k.endswith("num_batches_tracked")}
    ours = gen("unet", {"ngf": 4, "num_downs": 5})
    ours.load_state_dict(ours.from_authors_state_dict(bn), strict=True)


def test_authors_state_dicts_that_do_not_fit_are_clear_errors() -> None:
    unet128 = AuthorsUnet(3, 3, 7, 4, "batch").state_dict()
    probe = gen("unet_256", {"ngf": 4})
    with pytest.raises(ModelFileError, match="7 downsamplings, this generator has 8"):
        probe.infer_options_from_authors_state_dict(unet128)
    with pytest.raises(ModelFileError, match="unexpected key 'model.1.weight'"):
        probe.from_authors_state_dict({"model.1.weight": torch.zeros(1)})  # a ResNet generator's name
    with pytest.raises(ModelFileError, match="encoder-decoder"):
        gen("encoder_decoder_128", {"ngf": 4}).infer_options_from_authors_state_dict(unet128)
    d = disc("patchgan_70", {"ndf": 4})
    with pytest.raises(ModelFileError, match="n_layers 1, this discriminator has 3"):
        d.infer_options_from_authors_state_dict(AuthorsPatchGAN(6, 4, 1, "batch").state_dict())
    assert d.infer_options_from_authors_state_dict(AuthorsPatchGAN(6, 4, 3, "instance").state_dict()) == \
        {"ndf": 4, "norm": "instance", "bias": "authors"}
    assert disc("patchgan").infer_options_from_authors_state_dict(AuthorsPatchGAN(6, 8, 5, "none").state_dict()) \
        == {"ndf": 8, "norm": "none", "bias": "authors", "n_layers": 5}
    assert disc("pixelgan").infer_options_from_authors_state_dict(AuthorsPixelGAN(4, 8, "batch").state_dict()) \
        == {"ndf": 8, "norm": "batch", "bias": "authors"}
    resnet_like = {"model.1.weight": torch.zeros(64, 3, 7, 7), "model.1.bias": torch.zeros(64),
                   "model.26.weight": torch.zeros(3, 64, 7, 7)}  # the authors' ResnetGenerator names
    for probe in (d, disc("patchgan"), disc("pixelgan"), gen("unet", {"ngf": 4, "num_downs": 5})):
        with pytest.raises(ModelFileError, match="not an authors'"):
            probe.infer_options_from_authors_state_dict(resnet_like)


# --- dropout placement ----------------------------------------------------------------------------

@pytest.mark.parametrize("num_downs,authors_layers", [(8, [1, 2, 3]), (7, [1, 2]), (5, [])])
def test_dropout_layers_option(num_downs: int, authors_layers: list[int]) -> None:
    def dropped(g: nn.Module) -> list[int]:
        return [k for k, layer in enumerate(g.up) if any(isinstance(m, nn.Dropout) for m in layer.modules())]

    assert dropped(gen("unet", {"ngf": 2, "num_downs": num_downs})) == [0, 1, 2]  # the paper: the default
    assert dropped(gen("unet", {"ngf": 2, "num_downs": num_downs, "dropout_layers": "authors"})) == authors_layers
    theirs = AuthorsUnet(3, 3, num_downs, 2, "batch")
    assert sum(isinstance(m, nn.Dropout) for m in theirs.modules()) == len(authors_layers)


def test_dropout_layers_is_recorded_in_the_model_file(tmp_path) -> None:
    g, record = _recorded_generator({"ngf": 4, "num_downs": 6, "dropout_layers": "authors"})
    path = save_model(tmp_path / "m.safetensors", method="pix2pix", exports=[(ExportSpec("AtoB", "G"), g, record)])
    loaded = load_model(path, REG)
    assert loaded.meta.generators["AtoB"].options["dropout_layers"] == "authors"
    assert loaded.meta.generators["AtoB"].options["bias"] == "authors"
    module = loaded.modules["AtoB"]
    assert [k for k, layer in enumerate(module.up) if any(isinstance(m, nn.Dropout) for m in layer.modules())] == [1]


# --- model files written before this change -------------------------------------------------------

def _recorded_generator(options: dict[str, Any]) -> tuple[nn.Module, ComponentRecord]:
    recipe = Recipe.model_validate({"method": {"name": "pix2pix"}, "generator": {"name": "unet", "options": options},
                                    "data": {"name": "facades"}, "train": {"epochs": 1}})
    torch.manual_seed(0)
    ctx = BuildContext(recipe, REG, channels={})
    module = ctx.generator(in_channels=3, out_channels=3)
    return module, ctx.record_of(module)


def test_a_model_file_written_by_translate_0_1_0_still_loads(tmp_path) -> None:
    old, record = _recorded_generator({"ngf": 4, "num_downs": 5, "bias": "v0.1"})
    old = randomize(old)
    # translate 0.1.0's tensors: the authors' ones plus biases on the outermost and innermost down-convs.
    authors_names = set(gen("unet", {"ngf": 4, "num_downs": 5}).state_dict())
    assert set(old.state_dict()) == authors_names | {"down.0.bias", "down.4.1.bias"}
    # ... and its recorded options, which had neither `bias` nor `dropout_layers`.
    recorded = {k: v for k, v in record.options.items() if k not in ("bias", "dropout_layers")}
    assert recorded == {"init": "normal", "init_gain": 0.02, "ngf": 4, "norm": "batch", "dropout": 0.5,
                        "num_downs": 5, "skip_connections": True}
    record = dataclasses.replace(record, options=recorded)
    path = save_model(tmp_path / "old.safetensors", method="pix2pix", exports=[(ExportSpec("AtoB", "G"), old, record)])
    loaded = load_model(path, REG).modules["AtoB"]
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), old.eval()(x))


# --- the training step: D order and the optimizer ---------------------------------------------------

class _Accelerator:
    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def autocast(self) -> Any:
        return nullcontext()


def _method(**options: Any) -> Any:
    recipe = Recipe.model_validate({
        "method": {"name": "pix2pix", "options": options},
        "generator": {"name": "unet", "options": {"ngf": 4, "num_downs": 5, "dropout_layers": "authors"}},
        "discriminator": {"name": "patchgan_70", "options": {"ndf": 4}},
        "data": {"name": "facades"}, "train": {"epochs": 1}})
    ctx = BuildContext(recipe, REG, channels={"input": 3, "target": 3})
    comp = REG.get("method", "pix2pix")
    torch.manual_seed(0)
    return comp.factory(comp.parse_options(options, "method.options"), ctx=ctx)


def _authors_step(G: nn.Module, D: nn.Module, x: torch.Tensor, y: torch.Tensor, order: str) -> None:
    """One pix2pix optimisation step as the authors' Pix2PixModel.optimize_parameters does it."""
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = lambda p, t: F.binary_cross_entropy_with_logits(p, torch.full_like(p, t))  # noqa: E731
    fake = G(x)
    for p in D.parameters():
        p.requires_grad_(True)
    opt_d.zero_grad()
    fake_xy, real_xy = torch.cat((x, fake), 1).detach(), torch.cat((x, y), 1)
    if order == "fake_first":
        loss_fake = bce(D(fake_xy), 0.0)
        loss_real = bce(D(real_xy), 1.0)
    else:
        loss_real = bce(D(real_xy), 1.0)
        loss_fake = bce(D(fake_xy), 0.0)
    ((loss_fake + loss_real) * 0.5).backward()
    opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    opt_g.zero_grad()
    loss_g = bce(D(torch.cat((x, fake), 1)), 1.0) + F.l1_loss(fake, y) * 100.0
    loss_g.backward()
    opt_g.step()


def _one_step(order: str, optimizer: str) -> tuple[Any, nn.Module, nn.Module]:
    method = _method(d_order=order, optimizer=optimizer)
    G, D = copy.deepcopy(method.networks["G"]), copy.deepcopy(method.networks["D"])
    g = torch.Generator().manual_seed(5)
    x, y = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    torch.manual_seed(11)
    method.train_step({"input": x, "target": y}, StepContext(accelerator=_Accelerator(), step=0, epoch=0))
    torch.manual_seed(11)
    _authors_step(G, D, x, y, order)
    return method, G, D


def _equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("order", ["fake_first", "real_first"])
def test_reference_step_equals_the_authors_bit_for_bit(order: str) -> None:
    method, G, D = _one_step(order, "reference")
    assert _equal(method.networks["D"], D)  # weights and BatchNorm running statistics
    assert _equal(method.networks["G"], G)


def test_d_order_changes_the_batchnorm_statistics_only() -> None:
    fake_first, _, _ = _one_step("fake_first", "reference")
    real_first, _, _ = _one_step("real_first", "reference")
    stats = lambda m: {k: v for k, v in m.networks["D"].state_dict().items() if "running" in k}  # noqa: E731
    assert any(not torch.equal(stats(fake_first)[k], v) for k, v in stats(real_first).items())
    weights = lambda m: {k: v for k, v in m.networks["D"].state_dict().items() if "running" not in k}  # noqa: E731
    assert all(torch.equal(weights(fake_first)[k], v) for k, v in weights(real_first).items())
    assert _method().opt.d_order == "fake_first"  # the authors' order is the default


def test_optimizer_option() -> None:
    reference, fused = _method(optimizer="reference"), _method()
    for name in ("G", "D"):
        assert not reference.optimizers[name].defaults.get("fused")
        assert fused.optimizers[name].defaults["fused"] is True
    # Reference mode is torch.optim.Adam with its defaults, bit for bit.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 1, 3))
    twin = copy.deepcopy(net)
    ours = BuildContext.adam(None, net.parameters(), 2e-4, (0.5, 0.999), reference=True)  # type: ignore[arg-type]
    plain = torch.optim.Adam(twin.parameters(), lr=2e-4, betas=(0.5, 0.999))
    assert ours.defaults == plain.defaults
    for _ in range(3):
        x = torch.randn(2, 3, 9, 9)
        for m, opt in ((net, ours), (twin, plain)):
            opt.zero_grad()
            m(x).square().mean().backward()
            opt.step()
    assert _equal(net, twin)
