"""Adversarial losses: vanilla (log loss), least squares, hinge and WGAN-GP.

All compute in float32 (logits are cast with ``.float()``) so they are safe under bf16
autocast. The discriminator losses of vanilla, lsgan and hinge are halved:
``0.5 * (loss_real + loss_fake)``, as pix2pix and CycleGAN do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from translate.api import AdversarialLoss, Discriminator


def _logits(D: Discriminator, x: torch.Tensor) -> torch.Tensor:
    return D(x).float()


class _TargetLoss(AdversarialLoss):
    """A GAN loss that regresses logits to fixed targets (real label for G's fakes: non-saturating)."""

    def __init__(self, target_real_label: float = 1.0, target_fake_label: float = 0.0) -> None:
        super().__init__()
        self.real_label = target_real_label
        self.fake_label = target_fake_label

    def criterion(self, logits: torch.Tensor, target: float) -> torch.Tensor:
        raise NotImplementedError

    def discriminator_loss(self, D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss_real = self.criterion(_logits(D, real), self.real_label)
        loss_fake = self.criterion(_logits(D, fake), self.fake_label)
        return 0.5 * (loss_real + loss_fake)

    def generator_loss(self, D: Discriminator, fake: torch.Tensor) -> torch.Tensor:
        return self.criterion(_logits(D, fake), self.real_label)


class VanillaGANLoss(_TargetLoss):
    """The original GAN log loss: sigmoid cross-entropy on logits; G maximises log D(G(x))."""

    def criterion(self, logits: torch.Tensor, target: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class LSGANLoss(_TargetLoss):
    """Least-squares GAN (Mao et al. 2017): mean squared error of the logits to the targets."""

    def criterion(self, logits: torch.Tensor, target: float) -> torch.Tensor:
        return F.mse_loss(logits, torch.full_like(logits, target))


class HingeGANLoss(AdversarialLoss):
    """Hinge loss: D minimises relu(1 - D(real)) + relu(1 + D(fake)) (halved); G minimises -D(fake)."""

    def discriminator_loss(self, D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss_real = F.relu(1.0 - _logits(D, real)).mean()
        loss_fake = F.relu(1.0 + _logits(D, fake)).mean()
        return 0.5 * (loss_real + loss_fake)

    def generator_loss(self, D: Discriminator, fake: torch.Tensor) -> torch.Tensor:
        return -_logits(D, fake).mean()


class WGANGPLoss(AdversarialLoss):
    """Wasserstein loss with gradient penalty (Gulrajani et al. 2017); not halved.

    Critic: ``mean(D(fake)) - mean(D(real)) + lambda_gp * mean((||grad D(x_hat)||_2 - 1)^2)``
    with ``x_hat`` uniform random interpolates between real and fake samples. The penalty
    is built with ``create_graph=True`` so that it contributes to the critic's gradients.
    Generator: ``-mean(D(fake))``.
    """

    def __init__(self, lambda_gp: float = 10.0) -> None:
        super().__init__()
        self.lambda_gp = lambda_gp

    def gradient_penalty(self, D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """``mean((||dD/dx_hat||_2 - 1)^2)`` over the batch, norms per sample."""
        real, fake = real.detach(), fake.detach().to(real.dtype)
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        out = _logits(D, x_hat)
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
        norms = grad.float().flatten(1).norm(2, dim=1)
        return ((norms - 1.0) ** 2).mean()

    def discriminator_loss(self, D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss = _logits(D, fake).mean() - _logits(D, real).mean()
        if self.lambda_gp > 0:
            loss = loss + self.lambda_gp * self.gradient_penalty(D, real, fake)
        return loss

    def generator_loss(self, D: Discriminator, fake: torch.Tensor) -> torch.Tensor:
        return -_logits(D, fake).mean()
