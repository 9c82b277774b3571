"""Reflection padding that keeps its input's dtype under autocast (the same values, without two casts).

PyTorch's CPU autocast policy runs reflection padding in fp32: under bf16 autocast each padded
activation of the ResNet generator was cast up to fp32 for the pad and back down to bf16 by the
convolution after it, forward and backward (18% of a CycleGAN step on the development CPU,
docs/performance.md). Padding only copies values, so padding the bf16 tensor itself gives the same
numbers; outside autocast, or for an fp32 input, this is ``nn.ReflectionPad2d`` unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class ReflectionPad2d(nn.ReflectionPad2d):
    """``nn.ReflectionPad2d`` that pads a bf16/fp16 input in its own dtype when autocast is on."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32 and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return super().forward(x)
        return super().forward(x)
