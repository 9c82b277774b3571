"""The built-in losses against hand-written reference formulas."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from translate.components.losses import AdversarialLoss
from translate.plugin.loading import load_plugins
from translate.plugin.registry import OptionsInvalid

REG = load_plugins().registry


def loss(name: str, options: dict | None = None) -> nn.Module:
    return REG.get("loss", name).build(options or {})


def identity(x: torch.Tensor) -> torch.Tensor:
    """A 'discriminator' whose logits are its input: the losses see exactly the tensors we pass."""
    return x


@pytest.fixture
def logits() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.randn(2, 1, 5, 5) * 2, torch.randn(2, 1, 5, 5) * 2


def test_all_losses_registered() -> None:
    assert set(REG.names("loss")) >= {"vanilla", "lsgan", "hinge", "wgan_gp", "l1", "l2", "smooth_l1"}
    for name in ("vanilla", "lsgan", "hinge", "wgan_gp"):
        assert isinstance(loss(name), AdversarialLoss)


def test_vanilla(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, f = logits
    L = loss("vanilla")
    d_ref = 0.5 * (-torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean())
    torch.testing.assert_close(L.discriminator_loss(identity, r, f), d_ref)
    torch.testing.assert_close(L.generator_loss(identity, f), -torch.log(torch.sigmoid(f)).mean())


def test_vanilla_label_options(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, f = logits
    L = loss("vanilla", {"target_real_label": 0.9, "target_fake_label": 0.1})

    def bce(x: torch.Tensor, t: float) -> torch.Tensor:
        p = torch.sigmoid(x)
        return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()

    torch.testing.assert_close(L.discriminator_loss(identity, r, f), 0.5 * (bce(r, 0.9) + bce(f, 0.1)))
    torch.testing.assert_close(L.generator_loss(identity, f), bce(f, 0.9))
    with pytest.raises(OptionsInvalid):
        loss("vanilla", {"real_label": 1.0})


def test_lsgan(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, f = logits
    L = loss("lsgan")
    torch.testing.assert_close(L.discriminator_loss(identity, r, f), 0.5 * (((r - 1) ** 2).mean() + (f**2).mean()))
    torch.testing.assert_close(L.generator_loss(identity, f), ((f - 1) ** 2).mean())


def test_hinge(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, f = logits
    L = loss("hinge")
    d_ref = 0.5 * (torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean())
    torch.testing.assert_close(L.discriminator_loss(identity, r, f), d_ref)
    torch.testing.assert_close(L.generator_loss(identity, f), -f.mean())


def test_wgan_without_penalty(logits: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, f = logits
    L = loss("wgan_gp", {"lambda_gp": 0.0})
    torch.testing.assert_close(L.discriminator_loss(identity, r, f), f.mean() - r.mean())
    torch.testing.assert_close(L.generator_loss(identity, f), -f.mean())


def _linear_critic(seed: int = 0) -> nn.Conv2d:
    """D(x) = <w, x> + b: its input gradient is w everywhere, so the penalty is (||w|| - 1)^2."""
    torch.manual_seed(seed)
    return nn.Conv2d(3, 1, kernel_size=4)


def test_wgan_gp_value_and_gradients() -> None:
    real, fake = torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4)
    D = _linear_critic()
    wnorm = D.weight.detach().norm()
    grads = {}
    for lam in (0.0, 10.0):
        D.zero_grad()
        value = loss("wgan_gp", {"lambda_gp": lam}).discriminator_loss(D, real, fake)
        expected = D(fake).mean() - D(real).mean() + lam * (wnorm - 1) ** 2
        torch.testing.assert_close(value, expected.detach())
        value.backward()
        grads[lam] = D.weight.grad.clone()
    # The penalty reaches the critic's weights (create_graph=True): d/dw lam (||w|| - 1)^2.
    delta = grads[10.0] - grads[0.0]
    torch.testing.assert_close(delta, 10.0 * 2 * (wnorm - 1) * D.weight.detach() / wnorm)
    assert delta.abs().max() > 1e-3


def test_generator_losses_are_non_saturating() -> None:
    # D confidently rejects the fakes: the saturating log(1 - D(G(z))) would give ~sigmoid(-8) gradients.
    f = torch.full((1, 1, 2, 2), -8.0, requires_grad=True)
    loss("vanilla").generator_loss(identity, f).backward()
    assert torch.all(f.grad < -0.9 / f.numel())
    assert loss("vanilla").generator_loss(identity, f).item() > 7.9


@pytest.mark.parametrize("name", ["vanilla", "lsgan", "hinge", "wgan_gp"])
def test_adversarial_losses_under_bf16_autocast(name: str) -> None:
    torch.manual_seed(0)
    D = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3))
    real, fake = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    L = loss(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        d, g = L.discriminator_loss(D, real, fake), L.generator_loss(D, fake)
    assert d.dtype == g.dtype == torch.float32 and torch.isfinite(d) and torch.isfinite(g)
    d.backward()
    assert all(torch.isfinite(p.grad).all() for p in D.parameters())
    if name != "wgan_gp":  # the penalty's interpolates are random
        torch.testing.assert_close(d, L.discriminator_loss(D, real, fake), atol=0.05, rtol=0.05)


def test_reconstruction_losses() -> None:
    torch.manual_seed(0)
    p, t = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    e = p - t
    torch.testing.assert_close(loss("l1")(p, t), e.abs().mean())
    torch.testing.assert_close(loss("l2")(p, t), (e**2).mean())
    beta = 0.5
    ref = torch.where(e.abs() < beta, 0.5 * e**2 / beta, e.abs() - 0.5 * beta).mean()
    torch.testing.assert_close(loss("smooth_l1", {"beta": beta})(p, t), ref)
    out = loss("l1")(p.bfloat16(), t.bfloat16())
    assert out.dtype == torch.float32


@pytest.mark.parametrize("name", REG.names("loss"))
def test_every_loss_builds_with_strict_options(name: str) -> None:
    from translate.testing import check_options_strict

    comp = REG.get("loss", name)
    check_options_strict(comp)
    assert isinstance(comp.build(comp.smoke_options), nn.Module)


def test_integer_options_accepted_for_floats() -> None:
    # TOML recipes write ``lambda_gp = 10``; strict options still accept ints for float fields.
    assert loss("wgan_gp", {"lambda_gp": 10}).lambda_gp == 10
    assert loss("lsgan", {"target_real_label": 1}).real_label == 1
