"""Per-pixel reconstruction losses, called as ``loss(prediction, target) -> scalar`` (float32)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class L1Loss(nn.Module):
    """Mean absolute error (pix2pix's L_L1, CycleGAN's cycle and identity losses)."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(prediction.float(), target.float())


class L2Loss(nn.Module):
    """Mean squared error."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(prediction.float(), target.float())


class SmoothL1Loss(nn.Module):
    """Smooth L1: ``0.5 e^2 / beta`` where ``|e| < beta``, else ``|e| - 0.5 beta``; averaged."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.smooth_l1_loss(prediction.float(), target.float(), beta=self.beta)
