"""``timm_unet``: a U-Net decoder on a timm encoder (``features_only``), any backbone timm knows.

The encoder returns features at increasing reductions (e.g. 2, 4, 8, 16, 32 for a ResNet); the
decoder starts at the deepest, and per shallower feature upsamples to its size, concatenates it
and applies two 3x3 conv-norm-ReLU layers; a last stage upsamples to the input's size (no skip),
then a 3x3 conv and tanh give ``out_channels`` in [-1, 1]. Inputs in [-1, 1] are mapped to the
encoder's mean and std (timm's ``pretrained_cfg``). H and W must be multiples of the encoder's
largest reduction (``size_multiple``). Other input channel counts use timm's ``in_chans`` (a
pretrained first convolution is adapted as timm does).

Pretrained encoder weights come as for the perceptual losses (:mod:`.backbone`). A model file must
be loadable without them, since it holds the trained encoder: the network's ``rebuild_options``
(a trait the core declares, :func:`translate.api.rebuild_options`) turns ``weights="pretrained"``
into ``weights="stored"`` in the model file, so rebuilding it from the file builds the architecture
only and the file's tensors fill it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from translate.api import TranslateError, conv_bias, init_weights, norm_layer

from .backbone import create_features, input_stats
from .options import TimmUNetOptions

DEFAULT_DECODER = (256, 128, 64, 32, 16)


class DecoderBlock(nn.Module):
    """Two 3x3 conv-norm-ReLU layers."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin in (in_channels, out_channels):
            layers.append(nn.Conv2d(cin, out_channels, 3, padding=1, bias=conv_bias(norm)))
            n = norm_layer(norm, out_channels)
            if n is not None:
                layers.append(n)
            layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TimmUNet(nn.Module):
    """U-Net on a timm encoder; ``(N, in, H, W)`` in [-1, 1] -> ``(N, out, H, W)`` in [-1, 1]."""

    def __init__(self, encoder: nn.Module, in_channels: int, out_channels: int, decoder_channels: list[int],
                 norm: str, upsample: str) -> None:
        super().__init__()
        self.encoder = encoder
        skips = list(encoder.feature_info.channels())
        self.size_multiple = int(max(encoder.feature_info.reduction()))
        self.upsample = upsample
        mean, std = input_stats(encoder, in_channels)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        blocks, prev = [], skips[-1]
        for skip, width in zip(reversed(skips[:-1]), decoder_channels[:-1]):
            blocks.append(DecoderBlock(prev + skip, width, norm))
            prev = width
        blocks.append(DecoderBlock(prev, decoder_channels[-1], norm))  # to full resolution, no skip
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(decoder_channels[-1], out_channels, 3, padding=1)
        init_weights(self.decoder, "kaiming")
        init_weights(self.head, "kaiming")

    def rebuild_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Rebuilt from a model file, whose tensors replace every weight: "pretrained" becomes "stored"."""
        return {**options, "weights": "stored"} if options.get("weights") == "pretrained" else options

    def _up(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=size, mode=self.upsample,
                             **({"align_corners": False} if self.upsample == "bilinear" else {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(((x.to(self.mean.dtype) + 1) / 2 - self.mean) / self.std)
        y = feats[-1]
        for block, skip in zip(self.decoder[:-1], reversed(feats[:-1])):
            y = block(torch.cat([self._up(y, skip.shape[-2:]), skip], dim=1))
        y = self.decoder[-1](self._up(y, x.shape[-2:]))
        return torch.tanh(self.head(y))


def build_timm_unet(options: TimmUNetOptions, *, in_channels: int, out_channels: int) -> TimmUNet:
    """The ``timm_unet`` generator component."""
    what = f"the {options.backbone} encoder of the timm_unet generator"
    features = create_features(options.backbone, out_indices=options.out_indices, in_chans=in_channels,
                               weights=options.weights, weights_file=options.weights_file, what=what,
                               option="generator.options.weights_file")
    n = len(features.net.feature_info.channels())
    widths = options.decoder_channels or [DEFAULT_DECODER[min(i, len(DEFAULT_DECODER) - 1)] for i in range(n)]
    if len(widths) != n:
        raise TranslateError(f"{what}: decoder_channels has {len(widths)} entries but the encoder gives {n} features "
                             f"(reductions {features.net.feature_info.reduction()}); give {n} channel counts")
    model = TimmUNet(features.net, in_channels, out_channels, list(widths), options.norm, options.upsample)
    model.weights_source = features.source
    model.ignored_keys = features.ignored_keys
    return model
