"""The CUT authors' PatchGAN: pix2pix's ``NLayerDiscriminator`` with anti-aliased downsampling.

One ``nn.Sequential`` named ``model``, laid out as theirs. Anti-aliased (their default), each
downsampling is a 4x4 conv with stride 1 (padding 1), [norm], LeakyReLU(0.2), then
:class:`~.antialias.BlurDownsample`; without it, a 4x4 conv with stride 2, as pix2pix. Then a
stride-1 4x4 conv (filters ``ndf * min(2**n_layers, 8)``), norm, LeakyReLU, and a 4x4 conv to one
logit per patch. No norm on the first layer (``norm = "none"`` puts an ``nn.Identity`` where the
norm would be, as theirs); the first and last convs carry a bias, the others
only without BatchNorm. At ndf 64, 3 input channels, instance norm: 2,764,737 parameters. On
256x256 images the anti-aliased n_layers=3 network gives 30x30 logits, as the strided one.
"""

from __future__ import annotations

import torch
from torch import nn

from translate.api import conv_bias, init_weights, norm_layer

from .antialias import BlurDownsample
from .options import CUTPatchGANOptions


class CUTPatchGAN(nn.Module):
    """Patch discriminator ``(N, in_channels, H, W) -> (N, 1, h, w)`` logits.

    Example:
        >>> CUTPatchGAN(3, ndf=8)(torch.zeros(1, 3, 256, 256)).shape
        torch.Size([1, 1, 30, 30])
    """

    def __init__(self, in_channels: int, *, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
                 antialias: bool = True) -> None:
        super().__init__()
        bias = conv_bias(norm)
        stride = 1 if antialias else 2
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=stride, padding=1), nn.LeakyReLU(0.2)]
        if antialias:
            layers.append(BlurDownsample(ndf))
        ch = ndf
        for n in range(1, n_layers):
            out = ndf * min(2**n, 8)
            layers += [nn.Conv2d(ch, out, 4, stride=stride, padding=1, bias=bias),
                       norm_layer(norm, out) or nn.Identity(), nn.LeakyReLU(0.2)]
            if antialias:
                layers.append(BlurDownsample(out))
            ch = out
        out = ndf * min(2**n_layers, 8)
        layers += [nn.Conv2d(ch, out, 4, stride=1, padding=1, bias=bias), norm_layer(norm, out) or nn.Identity(),
                   nn.LeakyReLU(0.2), nn.Conv2d(out, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_cut_patchgan(options: CUTPatchGANOptions, *, in_channels: int) -> CUTPatchGAN:
    """Build and initialise the anti-aliased PatchGAN from validated options."""
    net = CUTPatchGAN(in_channels, ndf=options.ndf, n_layers=options.n_layers, norm=options.norm,
                      antialias=options.antialias)
    return init_weights(net, options.init, options.init_gain)
