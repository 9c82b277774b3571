"""The adversarial-loss contract. Implementations live in plugins."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

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
