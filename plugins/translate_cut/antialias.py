"""Anti-aliased resampling (Zhang, ICML 2019) as the CUT authors' networks use it by default.

- :class:`BlurDownsample`: reflection padding by 1, then a fixed depthwise 3x3 binomial filter
  ``[1, 2, 1] x [1, 2, 1] / 16`` applied with stride 2. An ``H x W`` map becomes
  ``ceil(H / 2) x ceil(W / 2)``.
- :class:`BlurUpsample`: replication padding by 1, then a fixed depthwise 4x4 binomial filter
  ``[1, 3, 3, 1] x [1, 3, 3, 1] / 16`` (times 4, the stride squared) applied as a stride-2 transposed
  convolution, cropped to exactly ``2H x 2W``.

The filters are buffers named ``filt`` of shape ``(C, 1, k, k)``, as in the authors' checkpoints.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def binomial_filter(size: int) -> torch.Tensor:
    """The ``size x size`` outer product of binomial coefficients, normalised to sum 1 (size 1 to 7)."""
    if not 1 <= size <= 7:
        raise ValueError(f"binomial filter size must be 1 to 7, got {size}")
    row = torch.ones(1, dtype=torch.float64)
    for _ in range(size - 1):
        row = torch.cat([row, torch.zeros(1, dtype=torch.float64)]) + torch.cat([torch.zeros(1, dtype=torch.float64), row])
    kernel = row[:, None] * row[None, :]
    return (kernel / kernel.sum()).float()


class BlurDownsample(nn.Module):
    """Blur then subsample by 2: ``(N, C, H, W) -> (N, C, ceil(H/2), ceil(W/2))``."""

    def __init__(self, channels: int, size: int = 3) -> None:
        super().__init__()
        self.channels = channels
        low, high = (size - 1) // 2, size // 2  # left/top and right/bottom padding
        self.pad = nn.ReflectionPad2d((low, high, low, high))
        self.register_buffer("filt", binomial_filter(size)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.pad(x), self.filt.to(x.dtype), stride=2, groups=x.shape[1])


class BlurUpsample(nn.Module):
    """Upsample by 2 with a fixed blur: ``(N, C, H, W) -> (N, C, 2H, 2W)``."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.channels = channels
        self.size = size
        self.pad = nn.ReplicationPad2d(1)
        self.register_buffer("filt", (binomial_filter(size) * 4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trim = 1 + (self.size - 1) // 2
        out = F.conv_transpose2d(self.pad(x), self.filt.to(x.dtype), stride=2, padding=trim, groups=x.shape[1])
        out = out[:, :, 1:, 1:]
        return out if self.size % 2 else out[:, :, :-1, :-1]
