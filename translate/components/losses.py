"""The loss contract: the adversarial-loss interface, and the one attribute the core reads from a
loss (``trainable``). Implementations live in plugins."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..errors import PluginError

Discriminator = Callable[[torch.Tensor], torch.Tensor]


class AdversarialLoss(nn.Module):
    """A GAN objective. It queries the discriminator itself, so that losses that need
    more than logits (the WGAN-GP gradient penalty) fit the same interface.

    ``real`` and ``fake`` are the discriminator's complete inputs (for a conditional
    D the condition is already concatenated on channels); the caller detaches ``fake``
    for the discriminator step.
    """

    def discriminator_loss(self, D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss (already halved where the method's papers halve it)."""
        raise NotImplementedError

    def generator_loss(self, D: Discriminator, fake: torch.Tensor) -> torch.Tensor:
        """The generator's adversarial loss (non-saturating where applicable)."""
        raise NotImplementedError


def is_trainable(loss: Any, where: str = "loss") -> bool:
    """``loss.trainable`` (False when absent), checked: a bool.

    A loss module that holds weights (a perceptual network) is frozen and put in eval mode by the
    engine unless it declares ``trainable = True`` (:mod:`translate.engine.loss_device`).

    Raises:
        PluginError: ``trainable`` is not a bool; the message names ``where``.
    """
    value = getattr(loss, "trainable", False)
    if not isinstance(value, bool):
        raise PluginError(f"{where}: trainable must be True or False (train the loss's weights, or freeze them), "
                          f"got {value!r}")
    return value
