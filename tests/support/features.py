"""A "feature network" that passes features through, to test FID/KID arithmetic alone."""

from __future__ import annotations

import torch


class Identity(torch.nn.Module):
    """Features in, the same features out; ``num_features`` as an Inception layer declares its width."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
