"""PatchGAN discriminators (pix2pix): an N-layer patch classifier and the 1x1 PixelGAN.

``n_layers`` stride-2 4x4 convs (C64-C128-C256 for n_layers=3, filters capped at
``8 * ndf``, no norm on the first), one stride-1 4x4 conv (C512), then a stride-1 4x4 conv
to one logit per patch. LeakyReLU(0.2) throughout. n_layers = 1, 3, 5 give receptive
fields of 16, 70 and 286 pixels; on 256x256 input the 70x70 PatchGAN yields 30x30 logits.
"""

from __future__ import annotations

import torch
from torch import nn

from translate.api import conv_bias, init_weights, norm_layer
from .network_options import PatchGANOptions, PixelGANOptions


def receptive_field(n_layers: int) -> int:
    """Receptive field (pixels per side) of one PatchGAN logit; ``n_layers=0`` is the PixelGAN (1)."""
    if n_layers == 0:
        return 1
    field = 1 + 3 + 3  # output conv and stride-1 conv: 4x4 kernels
    for _ in range(n_layers):  # stride-2 4x4 convs, from the output back to the input
        field = (field - 1) * 2 + 4
    return field


def _block(*layers: nn.Module | None) -> list[nn.Module]:
    return [layer for layer in layers if layer is not None]


class PatchGAN(nn.Module):
    """Patch discriminator returning logits ``(N, 1, h, w)``, one per overlapping patch.

    Args:
        in_channels: input channels (condition and image together for a conditional D).
        n_layers: stride-2 conv layers (3: 70x70 field).
        ndf: filters of the first layer.
        norm: "batch", "instance" or "none".

    Example:
        >>> d = PatchGAN(6, n_layers=3, ndf=8)
        >>> d(torch.zeros(1, 6, 256, 256)).shape
        torch.Size([1, 1, 30, 30])
    """

    def __init__(self, in_channels: int, *, n_layers: int = 3, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        self.receptive_field = receptive_field(n_layers)
        bias = conv_bias(norm)
        ch = [ndf * min(2**i, 8) for i in range(n_layers + 1)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ch[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1
            layers += _block(
                nn.Conv2d(ch[i - 1], ch[i], 4, stride, 1, bias=bias), norm_layer(norm, ch[i]), nn.LeakyReLU(0.2)
            )
        layers.append(nn.Conv2d(ch[-1], 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelGAN(nn.Module):
    """1x1 PixelGAN: one logit per pixel, ``(N, 1, H, W)``.

    conv1x1(ndf) - LeakyReLU - conv1x1(2 ndf) - norm - LeakyReLU - conv1x1(1).
    """

    def __init__(self, in_channels: int, *, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        self.receptive_field = 1
        self.model = nn.Sequential(*_block(
            nn.Conv2d(in_channels, ndf, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 1, bias=conv_bias(norm)),
            norm_layer(norm, ndf * 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, 1, 1),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_patchgan(options: PatchGANOptions, *, in_channels: int, n_layers: int | None = None) -> PatchGAN:
    """Build and initialise a PatchGAN from validated options; a named variant fixes its depth, the
    configurable ``patchgan`` takes ``n_layers`` from its options."""
    if n_layers is None:
        n_layers = options.n_layers  # type: ignore[attr-defined]
    net = PatchGAN(in_channels, n_layers=n_layers, ndf=options.ndf, norm=options.norm)
    return init_weights(net, options.init, options.init_gain)


def build_pixelgan(options: PixelGANOptions, *, in_channels: int) -> PixelGAN:
    """Build and initialise a PixelGAN from validated options."""
    net = PixelGAN(in_channels, ndf=options.ndf, norm=options.norm)
    return init_weights(net, options.init, options.init_gain)
