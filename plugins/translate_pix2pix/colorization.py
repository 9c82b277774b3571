"""The ``unet_colorizer`` generator: a grey image in, its colour image out (pix2pix colorization).

pix2pix colours an image by predicting the ab channels of Lab from L (Isola et al. 2017,
section 4.5, after Zhang et al. 2016). This network does that inside its forward pass, so every
core path that only calls ``forward`` (inference, tiling, ONNX, evaluation, model files) turns a
grey image into a colour one:

1. L of the input (kornia ``rgb_to_lab``; a grey input is read as ``(g, g, g)``, an RGB input
   keeps only its lightness), normalised to [-1, 1];
2. ab predicted by the pix2pix U-Net (the same class and options as ``unet``), Tanh, in [-1, 1]
   (``ab / 110``);
3. Lab -> RGB (kornia ``lab_to_rgb``, clipped to the sRGB cube), in [-1, 1].

``out_channels=3`` returns that RGB image; ``out_channels=2`` returns the normalised ab
themselves. :meth:`UNetColorizer.predict_ab` gives the normalised ab for the training loss
(``forward(x, output="ab")`` is the same through a wrapper such as DDP).
"""

from __future__ import annotations

import torch
from torch import nn

from translate.api import init_weights

from .colorization_lab import L_SCALE, lightness, to_rgb
from .network_options import ConfigurableUNetOptions
from .unet import UNet


class UNetColorizer(nn.Module):
    """Grey (or RGB) ``(N, in_channels, H, W)`` in [-1, 1] -> RGB ``(N, 3, H, W)`` (or ab ``(N, 2, H, W)``).

    Args:
        unet: the U-Net mapping normalised L ``(N, 1, H, W)`` to normalised ab ``(N, 2, H, W)``.
        in_channels: 1 (grey) or 3 (RGB: only its lightness is used).
        out_channels: 3 (RGB composed from the input's L and the predicted ab) or 2 (the ab).

    Example:
        >>> g = UNetColorizer(UNet(1, 2, num_downs=5, ngf=8), in_channels=1, out_channels=3)
        >>> g(torch.zeros(1, 1, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, unet: UNet, *, in_channels: int = 1, out_channels: int = 3) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"unet_colorizer: in_channels must be 1 (grey) or 3 (RGB), got {in_channels}")
        if out_channels not in (2, 3):
            raise ValueError(f"unet_colorizer: out_channels must be 3 (RGB) or 2 (the ab of Lab), got {out_channels}")
        self.unet = unet
        self.in_channels, self.out_channels = in_channels, out_channels
        self.size_multiple = unet.size_multiple

    def normalised_lightness(self, x: torch.Tensor) -> torch.Tensor:
        """``L / 50 - 1`` of the input, ``(N, 1, H, W)``."""
        if x.shape[1] != self.in_channels:
            raise ValueError(f"unet_colorizer: input has {x.shape[1]} channels, expected {self.in_channels}")
        return lightness(x) / L_SCALE - 1

    def predict_ab(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted ``ab / 110`` of the input, ``(N, 2, H, W)`` in [-1, 1]."""
        return self.unet(self.normalised_lightness(x))

    def forward(self, x: torch.Tensor, output: str = "image") -> torch.Tensor:
        """``output="image"``: what ``out_channels`` says (RGB or ab); ``"ab"``: the normalised ab."""
        l_norm = self.normalised_lightness(x)
        ab = self.unet(l_norm)
        if output == "ab" or self.out_channels == 2:
            return ab
        if output != "image":
            raise ValueError(f"unet_colorizer: output must be 'image' or 'ab', got {output!r}")
        return to_rgb(l_norm, ab)


def build_unet_colorizer(options: ConfigurableUNetOptions, *, in_channels: int, out_channels: int) -> UNetColorizer:
    """Build and initialise a colorizer around a U-Net of the given options (L -> ab)."""
    unet = UNet(1, 2, num_downs=options.num_downs, ngf=options.ngf, norm=options.norm, dropout=options.dropout,
                dropout_layers=options.dropout_layers, skip_connections=options.skip_connections, bias=options.bias)
    init_weights(unet, options.init, options.init_gain)
    return UNetColorizer(unet, in_channels=in_channels, out_channels=out_channels)
