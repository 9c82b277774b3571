"""The SRGAN networks (Ledig et al., CVPR 2017, figure 4): the SRResNet generator and the VGG-style discriminator.

Weights keep PyTorch's default initialisation (the paper does not give one).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .options import SRDiscriminatorOptions, SRResNetOptions


class ResidualBlock(nn.Module):
    """k3n64s1 conv, BN, PReLU, k3n64s1 conv, BN, plus the block's input (elementwise sum)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.PReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet: ``(N, in, H, W)`` -> ``(N, out, scale * H, scale * W)``.

    9x9 conv (``channels``) + PReLU; ``n_blocks`` residual blocks; 3x3 conv + BN added to the
    first layer's output (the long skip); ``log2(scale)`` blocks of 3x3 conv to ``4 * channels``,
    PixelShuffle(2) and PReLU; a 9x9 conv to ``out`` channels, linear (the paper) or tanh.
    ``scale_factor`` (the generator contract) is ``scale``; any H, W work (``size_multiple`` 1).
    """

    size_multiple = 1

    def __init__(self, in_channels: int, out_channels: int, *, n_blocks: int = 16, channels: int = 64,
                 scale: int = 4, output: str = "linear") -> None:
        super().__init__()
        ups = int(round(math.log2(scale)))
        if 2**ups != scale or ups < 1:
            raise ValueError(f"scale must be 2, 4 or 8, got {scale!r}")
        self.scale_factor = int(scale)
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 9, padding=4), nn.PReLU())
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(n_blocks)))
        self.trunk_end = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                       nn.BatchNorm2d(channels))
        self.upsample = nn.Sequential(*(
            nn.Sequential(nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2), nn.PReLU())
            for _ in range(ups)
        ))
        self.tail = nn.Conv2d(channels, out_channels, 9, padding=4)
        self.tanh = output == "tanh"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head(x)
        y = self.tail(self.upsample(head + self.trunk_end(self.blocks(head))))
        return torch.tanh(y) if self.tanh else y


class SRDiscriminator(nn.Module):
    """The SRGAN discriminator: one logit per image, shaped ``(N, 1, 1, 1)`` (the discriminator contract).

    Eight 3x3 convs with ``ndf`` x (1, 1, 2, 2, 4, 4, 8, 8) channels and strides 1, 2, 1, 2, ...;
    BatchNorm after every conv but the first; LeakyReLU 0.2. Then adaptive average pooling to
    ``pool_size`` x ``pool_size`` (a 96x96 input is 6x6 there already, so the paper's network is
    unchanged at its training size, and any other size works), dense ``dense``, LeakyReLU 0.2,
    dense 1. The paper's final sigmoid is in the adversarial loss (logits, as the built-in GAN losses expect).
    """

    size_multiple = 1

    def __init__(self, in_channels: int, *, ndf: int = 64, dense: int = 1024, pool_size: int = 6) -> None:
        super().__init__()
        widths = [ndf, ndf, 2 * ndf, 2 * ndf, 4 * ndf, 4 * ndf, 8 * ndf, 8 * ndf]
        layers: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            layers.append(nn.Conv2d(prev, width, 3, stride=1 + i % 2, padding=1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2))
            prev = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(prev * pool_size * pool_size, dense), nn.LeakyReLU(0.2), nn.Linear(dense, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x))).view(-1, 1, 1, 1)


def build_srresnet(options: SRResNetOptions, *, in_channels: int, out_channels: int) -> SRResNet:
    """Factory of the ``srresnet`` generator."""
    return SRResNet(in_channels, out_channels, n_blocks=options.n_blocks, channels=options.channels,
                    scale=options.scale, output=options.output)


def build_discriminator(options: SRDiscriminatorOptions, *, in_channels: int) -> SRDiscriminator:
    """Factory of the ``srgan_discriminator``."""
    return SRDiscriminator(in_channels, ndf=options.ndf, dense=options.dense, pool_size=options.pool_size)
