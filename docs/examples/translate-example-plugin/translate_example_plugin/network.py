"""The ``tiny_resnet`` network: a compact version of the CycleGAN ResNet generator.

Layout: 7x7 stem -> ``downsampling`` stride-2 convolutions (channels doubling) ->
``blocks`` residual blocks -> as many transposed convolutions back up -> 7x7 head
and ``tanh``. Input and output are images in [-1, 1].
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def _norm_layer(kind: str) -> Callable[[int], nn.Module]:
    if kind == "instance":
        return lambda ch: nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    if kind == "batch":
        return lambda ch: nn.BatchNorm2d(ch)
    if kind == "none":
        return lambda ch: nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with reflection padding and an identity shortcut.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, norm: Callable[[int], nn.Module], dropout: float, bias: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm(channels),
            nn.ReLU(inplace=True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm(channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TinyResNetGenerator(nn.Module):
    """ResNet-style image-to-image generator.

    Args:
        in_channels: channels of the input image.
        out_channels: channels of the output image.
        width: channels after the stem (``ngf``).
        blocks: residual blocks at the bottleneck.
        downsampling: number of stride-2 stages.
        norm: ``"instance"``, ``"batch"`` or ``"none"``.
        dropout: dropout probability inside residual blocks.

    Shape: ``(N, in_channels, H, W) -> (N, out_channels, H, W)``, with H and W
    multiples of :attr:`size_multiple`.

    Example:
        >>> net = TinyResNetGenerator(3, 3, width=8, blocks=1, downsampling=1)
        >>> net(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        width: int = 32,
        blocks: int = 4,
        downsampling: int = 2,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        #: translate pads or checks inputs so that H and W are multiples of this.
        self.size_multiple = 2**downsampling
        make_norm = _norm_layer(norm)
        bias = norm != "batch"  # BatchNorm has its own shift; instance norm here has none
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, bias=bias),
            make_norm(width),
            nn.ReLU(inplace=True),
        ]
        ch = width
        for _ in range(downsampling):
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=bias), make_norm(ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResidualBlock(ch, make_norm, dropout, bias) for _ in range(blocks)]
        for _ in range(downsampling):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                make_norm(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _init_weights(module: nn.Module) -> None:
    """N(0, 0.02) convolutions and N(1, 0.02) norm scales, as in pix2pix / CycleGAN."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
