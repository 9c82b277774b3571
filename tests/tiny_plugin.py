"""A tiny test-local generator plugin shared by the model-file and inference tests."""

from __future__ import annotations

import torch
from torch import nn

import translate


class TinyOptions(translate.Options):
    width: int = 4
    dropout: float = 0.0
    note: str | None = None


class TinyGenerator(nn.Module):
    """Conv stride 4 down, BatchNorm, Dropout, transposed conv up: needs H, W multiples of 4."""

    size_multiple = 4

    def __init__(self, options: TinyOptions, *, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(in_channels, options.width, 4, stride=4)
        self.norm = nn.BatchNorm2d(options.width)
        self.drop = nn.Dropout(options.dropout)
        self.up = nn.ConvTranspose2d(options.width, out_channels, 4, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % 4 == 0 and x.shape[-1] % 4 == 0, x.shape
        return torch.tanh(self.up(self.drop(torch.relu(self.norm(self.down(x))))))


class TinyPlugin:
    @translate.hookimpl
    def register_generators(self, register):
        register("tiny", TinyGenerator, options=TinyOptions, description="test generator")
