"""The CycleGAN ResNet generator (Johnson et al. 2016, as in Zhu et al. 2017, appendix 7.2).

c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3, Tanh, following ``ResnetGenerator``
of the reference code (pytorch-CycleGAN-and-pix2pix):

- c7s1-k: ReflectionPad2d(3), 7x7 conv, norm, ReLU.
- dk: 3x3 conv stride 2 (padding 1), norm, ReLU; each doubles the width.
- Rk: pad, 3x3 conv, norm, ReLU, [dropout], pad, 3x3 conv, norm; output ``x + block(x)``.
- uk: 3x3 transposed conv stride 2 (padding 1, output_padding 1), norm, ReLU; each halves the width.
- last: ReflectionPad2d(3), 7x7 conv to the output channels (with bias), Tanh.

Convs carry a bias unless a BatchNorm follows. (The reference also drops the bias for
``norm="none"``, a side effect of how it tests the norm type; here a conv without a
following BatchNorm always has one.) At ngf 64, 3->3 channels and instance norm the 9-block
network has 11,378,179 parameters and the 6-block one 7,837,699, as in the reference.
"""

from __future__ import annotations

import torch
from torch import nn

from translate.api import conv_bias, init_weights, norm_layer

from .authors import AuthorsCheckpoint
from .network_options import ResnetOptions
from .padding import ReflectionPad2d


def _seq(*layers: nn.Module | None) -> nn.Sequential:
    return nn.Sequential(*(layer for layer in layers if layer is not None))


def _pad(padding: str, amount: int) -> tuple[nn.Module | None, int]:
    """The padding layer for ``padding`` and the padding the conv itself then takes."""
    if padding == "reflect":
        return ReflectionPad2d(amount), 0
    if padding == "replicate":
        return nn.ReplicationPad2d(amount), 0
    if padding == "zero":
        return None, amount
    raise ValueError(f"unknown padding {padding!r}; expected 'reflect', 'replicate' or 'zero'")


class ResnetBlock(nn.Module):
    """Residual block: ``x + conv_block(x)``, both convs 3x3 at constant width ``dim``."""

    def __init__(self, dim: int, *, padding: str = "reflect", norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        bias = conv_bias(norm)
        pad1, p1 = _pad(padding, 1)
        pad2, p2 = _pad(padding, 1)
        self.conv_block = _seq(
            pad1,
            nn.Conv2d(dim, dim, 3, padding=p1, bias=bias),
            norm_layer(norm, dim),
            nn.ReLU(),
            nn.Dropout(dropout) if dropout > 0 else None,
            pad2,
            nn.Conv2d(dim, dim, 3, padding=p2, bias=bias),
            norm_layer(norm, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(AuthorsCheckpoint, nn.Module):
    """ResNet generator mapping ``(N, in_channels, H, W)`` to ``(N, out_channels, H, W)`` in [-1, 1].

    Args:
        in_channels: input channels.
        out_channels: output channels.
        ngf: filters of the first layer; the residual blocks have ``ngf * 2**n_downsampling``.
        n_blocks: residual blocks (9 for 256x256 images, 6 for 128x128 in CycleGAN).
        n_downsampling: stride-2 downsamplings (and as many upsamplings); 2 in CycleGAN.
        norm: "instance", "batch" or "none". Convs feeding a BatchNorm carry no bias.
        dropout: dropout probability inside each residual block (0 disables, as in CycleGAN).
        padding: "reflect", "replicate" or "zero", for the residual blocks' 3x3 convs.

    Shape:
        - Input: ``(N, in_channels, H, W)``, H and W multiples of ``size_multiple``.
        - Output: ``(N, out_channels, H, W)``.

    Example:
        >>> g = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
        >>> g(torch.zeros(1, 3, 32, 48)).shape
        torch.Size([1, 3, 32, 48])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        ngf: int = 64,
        n_blocks: int = 9,
        n_downsampling: int = 2,
        norm: str = "instance",
        dropout: float = 0.0,
        padding: str = "reflect",
    ) -> None:
        super().__init__()
        if n_blocks < 1:
            raise ValueError(f"n_blocks must be at least 1, got {n_blocks}")
        if n_downsampling < 1:
            raise ValueError(f"n_downsampling must be at least 1, got {n_downsampling}")
        _pad(padding, 1)  # validates the name even before any block is built
        self.size_multiple = 2**n_downsampling
        bias = conv_bias(norm)

        layers: list[nn.Module | None] = [
            ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, padding=0, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(),
        ]
        for i in range(n_downsampling):
            cin = ngf * 2**i
            layers += [
                nn.Conv2d(cin, 2 * cin, 3, stride=2, padding=1, bias=bias),
                norm_layer(norm, 2 * cin),
                nn.ReLU(),
            ]
        dim = ngf * 2**n_downsampling
        layers += [ResnetBlock(dim, padding=padding, norm=norm, dropout=dropout) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            cin = ngf * 2 ** (n_downsampling - i)
            layers += [
                nn.ConvTranspose2d(cin, cin // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                norm_layer(norm, cin // 2),
                nn.ReLU(),
            ]
        layers += [ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7, padding=0), nn.Tanh()]
        self.model = _seq(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.size_multiple
        if h % m or w % m:
            raise ValueError(
                f"ResNet generator input is {h}x{w}, but height and width must be multiples of {m} "
                f"(2**n_downsampling); pad or resize the input"
            )
        return self.model(x)


def build_resnet(
    options: ResnetOptions, *, in_channels: int, out_channels: int, n_blocks: int | None = None,
    n_downsampling: int | None = None,
) -> ResnetGenerator:
    """Build and initialise a ResNet generator from validated options; a named variant fixes its depth,
    the configurable ``resnet`` takes ``n_blocks`` and ``n_downsampling`` from its options."""
    fixed = None if n_blocks is None else (n_blocks, 2 if n_downsampling is None else n_downsampling)
    if n_blocks is None:
        n_blocks = options.n_blocks  # type: ignore[attr-defined]
    if n_downsampling is None:
        n_downsampling = options.n_downsampling  # type: ignore[attr-defined]
    net = ResnetGenerator(
        in_channels,
        out_channels,
        ngf=options.ngf,
        n_blocks=n_blocks,
        n_downsampling=n_downsampling,
        norm=options.norm,
        dropout=options.dropout,
        padding=options.padding,
    )
    net.fixed_depth = fixed  # a named variant's depth, for reading the authors' checkpoints
    return init_weights(net, options.init, options.init_gain)
