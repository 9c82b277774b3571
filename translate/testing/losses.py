"""``check_loss``: the smoke test of a loss component, as the engine would run it (part of :mod:`translate.testing`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from ..plugin.registry import Component, OptionsInvalid, Registry

if TYPE_CHECKING:  # pragma: no cover
    import torch


def check_loss(source: Registry | Component, name: str | None = None, *, options: dict[str, Any] | None = None,
               channels: int = 3, batch_size: int = 2, size: int | tuple[int, int] = 32, seed: int = 0) -> Any:
    """Build a loss, place it as the engine does, and run it on random images in [-1, 1].

    The loss is built from ``smoke_options`` (or ``options=``) and, when it is a
    ``torch.nn.Module``, moved to the CPU and frozen and put in eval mode unless it says
    ``trainable = True`` (:func:`translate.engine.loss_device.place_losses`, as after
    ``prepare``). Then:

    - a reconstruction-style loss, ``loss(prediction, target)``, must return a finite scalar
      whose gradient reaches ``prediction`` (finite, not all zero);
    - an adversarial loss (``translate.AdversarialLoss``) is run with a one-layer
      discriminator: ``discriminator_loss(D, real, fake)`` must give D finite gradients and
      ``generator_loss(D, fake)`` must reach ``fake``; both finite scalars;
    - a frozen loss's own parameters receive no gradient, a trainable one's do.

    Returns the built loss.
    """
    import torch

    from ..components.losses import AdversarialLoss, is_trainable
    from ..engine.loss_device import place_losses

    comp = component_of(source, "loss", name)
    where = f"loss {comp.name!r}"
    values = comp.smoke_options if options is None else options
    try:
        loss = comp.build(values)
    except (OptionsInvalid, PluginError) as err:
        raise AssertionError(f"{where}: options {values!r} rejected: {err}") from None
    if not callable(loss):
        raise AssertionError(f"{where}: factory returned {type(loss).__name__}, which is not callable")
    if isinstance(loss, torch.nn.Module):
        loss.train()  # as built: the engine's placement must be what makes it eval
        place_losses({comp.name: loss}, torch.device("cpu"))
        if not is_trainable(loss):
            if loss.training or any(p.requires_grad for p in loss.parameters()):
                raise AssertionError(f"{where}: still trainable after the engine froze it")
    height, width = (size, size) if isinstance(size, int) else size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        real = torch.rand(batch_size, channels, height, width) * 2 - 1
        fake = (torch.rand(batch_size, channels, height, width) * 2 - 1).requires_grad_(True)
        if isinstance(loss, AdversarialLoss):
            _check_adversarial(loss, where, real, fake)
        else:
            value = _scalar(loss(fake, real), where)
            value.backward()
            _check_input_grad(fake, where, "prediction")
    _check_own_grads(loss, where)
    return loss


def component_of(source: Registry | Component, kind: str, name: str | None) -> Component:
    """``source`` itself when it is a component of ``kind``, else ``source.get(kind, name)``."""
    if isinstance(source, Component):
        if source.kind != kind:
            raise AssertionError(f"{source.kind} {source.name!r} is not a {kind}")
        return source
    if name is None:
        raise TypeError(f"pass the {kind} name along with the registry")
    return source.get(kind, name)


def _check_adversarial(loss: Any, where: str, real: "torch.Tensor", fake: "torch.Tensor") -> None:
    import torch

    D = torch.nn.Conv2d(real.shape[1], 1, 4, stride=2, padding=1)
    d_loss = _scalar(loss.discriminator_loss(D, real, fake.detach()), f"{where}: discriminator_loss")
    d_loss.backward()
    missing = [n for n, p in D.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    if missing:
        raise AssertionError(f"{where}: discriminator_loss gives D no finite gradient for {', '.join(missing)}")
    D.requires_grad_(False)
    g_loss = _scalar(loss.generator_loss(D, fake), f"{where}: generator_loss")
    g_loss.backward()
    _check_input_grad(fake, f"{where}: generator_loss", "fake")


def _scalar(value: Any, where: str) -> "torch.Tensor":
    import torch

    if not isinstance(value, torch.Tensor) or value.dim() != 0:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise AssertionError(f"{where}: returned {shape}, expected a scalar tensor")
    if not value.is_floating_point() or not torch.isfinite(value):
        raise AssertionError(f"{where}: returned {value!r}, expected a finite floating-point scalar")
    if not value.requires_grad:
        raise AssertionError(f"{where}: the returned value does not depend on the input (no gradient)")
    return value


def _check_input_grad(x: "torch.Tensor", where: str, what: str) -> None:
    import torch

    if x.grad is None or not torch.isfinite(x.grad).all() or not x.grad.abs().sum() > 0:
        raise AssertionError(f"{where}: no finite, non-zero gradient reaches the {what}")


def _check_own_grads(loss: Any, where: str) -> None:
    import torch

    from ..components.losses import is_trainable

    if not isinstance(loss, torch.nn.Module):
        return
    params = list(loss.named_parameters())
    if is_trainable(loss):
        missing = [n for n, p in params if p.grad is None]
        if missing:
            raise AssertionError(f"{where}: trainable, but its parameters get no gradient: {', '.join(missing[:5])}")
    else:
        leaked = [n for n, p in params if p.grad is not None]
        if leaked:
            raise AssertionError(f"{where}: frozen parameters received gradients: {', '.join(leaked[:5])}")
