"""Building blocks for network plugins: the papers' weight initialisation and normalisation layers.

Public for plugin authors through :mod:`translate.api` (``from translate.api import init_weights``),
so that networks from different plugins initialise and normalise the same way without
importing each other's internals.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_NORMS = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)


def init_weights(module: nn.Module, init: str = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise ``module`` in place, as in pix2pix/CycleGAN, and return it.

    Conv, transposed conv and linear weights: ``normal`` draws N(0, gain), ``xavier``
    Xavier-normal with ``gain``, ``kaiming`` Kaiming-normal (fan-in, ReLU). Their biases
    are zeroed. Affine norm layers get scales from N(1, gain) and zero shifts.
    """
    if init not in ("normal", "xavier", "kaiming"):
        raise ValueError(f"unknown init {init!r}; expected 'normal', 'xavier' or 'kaiming'")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if init == "normal":
                nn.init.normal_(m.weight, 0.0, gain)
            elif init == "xavier":
                nn.init.xavier_normal_(m.weight, gain=gain)
            else:
                nn.init.kaiming_normal_(m.weight, a=0.0, mode="fan_in")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and getattr(m, "weight", None) is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return module


def norm_layer(kind: str, channels: int) -> nn.Module | None:
    """The normalisation layer for ``kind`` ("batch", "instance", "none"); None for "none".

    InstanceNorm has no affine parameters and no running statistics, like the reference code.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return None
    raise ValueError(f"unknown norm {kind!r}; expected 'batch', 'instance' or 'none'")


def conv_bias(kind: str) -> bool:
    """Whether a conv followed by a ``kind`` norm carries a bias (not before BatchNorm)."""
    return kind != "batch"


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` that keeps a channels_last input channels_last, and is quicker in bf16.

    ``F.instance_norm`` makes its input contiguous and returns a contiguous tensor, so in a
    channels_last network every InstanceNorm converted the layout and the next convolution
    converted it back (slower than contiguous throughout, docs/performance.md). Without running
    statistics, instance normalisation of sample ``i`` is batch normalisation of the batch
    ``x[i:i+1]``: the kernel ``F.instance_norm`` itself calls, with the same numbers (bit for bit
    on contiguous tensors, tested), and ``F.batch_norm`` keeps the layout. That route is taken for
    channels_last or reduced-precision inputs; a contiguous fp32 input (the reference computation)
    goes through ``nn.InstanceNorm2d`` unchanged, as does a layer with running statistics.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.running_mean is None and x.dim() == 4 and (x.dtype != torch.float32 or is_channels_last(x)):
            return instance_norm_per_sample(x, self.weight, self.bias, self.eps)
        return super().forward(x)


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether a 4-D ``x`` is stored channels_last (NHWC) and not also plain contiguous (as 1x1 maps
    or single channels are, where the two layouts coincide)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def instance_norm_per_sample(x: torch.Tensor, weight: torch.Tensor | None = None,
                             bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Instance normalisation of an ``(N, C, H, W)`` tensor as N batch normalisations, layout kept."""
    if x.shape[0] == 1:
        return F.batch_norm(x, None, None, weight, bias, True, 0.0, eps)
    return torch.cat([F.batch_norm(x[i : i + 1], None, None, weight, bias, True, 0.0, eps)
                      for i in range(x.shape[0])])
