"""The CUT authors' ResNet generator: CycleGAN's, with anti-aliased down- and upsampling, exposing features.

One ``nn.Sequential`` named ``model``, laid out as the authors' ``ResnetGenerator`` (so their
checkpoints load by name and their ``nce_layers`` ids mean the same layers):

- ``c7s1-ngf``: ReflectionPad2d(3), 7x7 conv, norm, ReLU (ids 0 to 3);
- per downsampling, anti-aliased: 3x3 conv stride 1, norm, ReLU, :class:`BlurDownsample` (4 ids);
  without anti-aliasing: 3x3 conv stride 2, norm, ReLU (3 ids). Each doubles the width;
- ``n_blocks`` residual blocks (one id each);
- per upsampling, anti-aliased: :class:`BlurUpsample`, 3x3 conv stride 1, norm, ReLU; without:
  3x3 transposed conv stride 2, norm, ReLU. Each halves the width;
- ReflectionPad2d(3), 7x7 conv to the output channels (with bias), Tanh.

With the authors' defaults (anti-aliased, 2 downsamplings, 9 blocks) the default ``nce_layers``
0, 4, 8, 12, 16 are the padded input, the first and second downsampling convs (before their norm),
and the outputs of residual blocks 1 and 5. Convs carry a bias unless a BatchNorm follows. At
ngf 64, 3 -> 3 channels, instance norm: 11,378,179 parameters, as the authors' network. Their
``latest_net_G.pth`` files convert (:mod:`.authors`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from translate.api import check_feature_layers, conv_bias, init_weights, norm_layer

from .antialias import BlurDownsample, BlurUpsample
from .authors import AuthorsCUTCheckpoint
from .options import CUTResnetOptions


def _pad(padding: str) -> tuple[list[nn.Module], int]:
    if padding == "reflect":
        return [nn.ReflectionPad2d(1)], 0
    if padding == "replicate":
        return [nn.ReplicationPad2d(1)], 0
    if padding == "zero":
        return [], 1
    raise ValueError(f"padding: unknown padding {padding!r}; expected 'reflect', 'replicate' or 'zero'")


def _norm(kind: str, channels: int) -> nn.Module:
    """A norm layer, or ``nn.Identity`` for ``none`` (so module ids do not depend on the norm, as the authors')."""
    layer = norm_layer(kind, channels)
    return nn.Identity() if layer is None else layer


class ResnetBlock(nn.Module):
    """``x + conv_block(x)``: pad, 3x3 conv, norm, ReLU, [dropout], pad, 3x3 conv, norm."""

    def __init__(self, dim: int, *, padding: str = "reflect", norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        bias = conv_bias(norm)
        pad1, p1 = _pad(padding)
        pad2, p2 = _pad(padding)
        layers: list[nn.Module] = [*pad1, nn.Conv2d(dim, dim, 3, padding=p1, bias=bias), _norm(norm, dim), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [*pad2, nn.Conv2d(dim, dim, 3, padding=p2, bias=bias), _norm(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class CUTResnetGenerator(AuthorsCUTCheckpoint, nn.Module):
    """ResNet generator ``(N, in, H, W) -> (N, out, H, W)`` in [-1, 1] that is a :class:`~.features.FeatureEncoder`.

    Args:
        in_channels, out_channels: image channels.
        ngf: filters of the first layer.
        n_blocks: residual blocks; n_downsampling: downsamplings (and as many upsamplings).
        norm: "instance", "batch" or "none"; dropout: inside the residual blocks (0: none).
        padding: of the residual blocks' 3x3 convs.
        antialias, antialias_up: the authors' anti-aliased down- and upsampling (their default).

    Example:
        >>> g = CUTResnetGenerator(3, 3, ngf=8, n_blocks=2)
        >>> [f.shape[1] for f in g(torch.zeros(1, 3, 32, 32), layers=[0, 4, 8])]
        [3, 16, 32]
    """

    def __init__(self, in_channels: int, out_channels: int, *, ngf: int = 64, n_blocks: int = 9,
                 n_downsampling: int = 2, norm: str = "instance", dropout: float = 0.0, padding: str = "reflect",
                 antialias: bool = True, antialias_up: bool = True) -> None:
        super().__init__()
        if n_blocks < 1 or n_downsampling < 1:
            raise ValueError(f"n_blocks and n_downsampling must be at least 1, got {n_blocks} and {n_downsampling}")
        self.size_multiple = 2**n_downsampling
        bias = conv_bias(norm)
        # (module, description, channels after it)
        layers: list[tuple[nn.Module, str, int]] = [
            (nn.ReflectionPad2d(3), "input, reflection-padded by 3", in_channels),
            (nn.Conv2d(in_channels, ngf, 7, bias=bias), "7x7 conv", ngf),
            (_norm(norm, ngf), f"{norm} norm", ngf),
            (nn.ReLU(), "ReLU", ngf),
        ]
        ch = ngf
        for d in range(n_downsampling):
            stride = 1 if antialias else 2
            layers += [(nn.Conv2d(ch, 2 * ch, 3, stride=stride, padding=1, bias=bias),
                        f"downsampling {d + 1}: 3x3 conv stride {stride}", 2 * ch),
                       (_norm(norm, 2 * ch), f"downsampling {d + 1}: {norm} norm", 2 * ch),
                       (nn.ReLU(), f"downsampling {d + 1}: ReLU", 2 * ch)]
            if antialias:
                layers.append((BlurDownsample(2 * ch), f"downsampling {d + 1}: blur, stride 2", 2 * ch))
            ch *= 2
        layers += [(ResnetBlock(ch, padding=padding, norm=norm, dropout=dropout), f"residual block {b + 1}", ch)
                   for b in range(n_blocks)]
        for u in range(n_downsampling):
            if antialias_up:
                layers += [(BlurUpsample(ch), f"upsampling {u + 1}: blur x2", ch),
                           (nn.Conv2d(ch, ch // 2, 3, padding=1, bias=bias), f"upsampling {u + 1}: 3x3 conv", ch // 2)]
            else:
                layers.append((nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                               f"upsampling {u + 1}: 3x3 transposed conv stride 2", ch // 2))
            layers += [(_norm(norm, ch // 2), f"upsampling {u + 1}: {norm} norm", ch // 2),
                       (nn.ReLU(), f"upsampling {u + 1}: ReLU", ch // 2)]
            ch //= 2
        layers += [(nn.ReflectionPad2d(3), "reflection pad 3", ch),
                   (nn.Conv2d(ch, out_channels, 7), "7x7 conv to the output", out_channels),
                   (nn.Tanh(), "Tanh (the output)", out_channels)]
        self.model = nn.Sequential(*(m for m, _, _ in layers))
        self._layers = {i: f"{what} ({c} ch)" for i, (_, what, c) in enumerate(layers)}
        self._channels = [c for _, _, c in layers]

    # --- the FeatureEncoder contract -------------------------------------------------------------

    def feature_layers(self) -> Mapping[int, str]:
        """Every id of ``model``: the output of ``model[i]``, described."""
        return dict(self._layers)

    def feature_channels(self, layers: Sequence[int]) -> list[int]:
        """Channels of the outputs of ``model[i]`` for ``i`` in ``layers``."""
        return [self._channels[i] for i in check_feature_layers(self, layers)]

    def features(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Outputs of ``model[i]`` for ``i`` in ``layers`` (strictly increasing); stops after the last."""
        wanted = check_feature_layers(self, layers)
        self._check_size(x)
        out, last = [], wanted[-1]
        for i, module in enumerate(self.model):
            x = module(x)
            if i in wanted:
                out.append(x)
            if i == last:
                break
        return out

    # --- images ------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, layers: Sequence[int] | None = None) -> torch.Tensor | list[torch.Tensor]:
        """The translated image, or the features at ``layers`` when given (see :class:`~.features.FeatureEncoder`)."""
        if layers is not None:
            return self.features(x, layers)
        self._check_size(x)
        return self.model(x)

    def _check_size(self, x: torch.Tensor) -> None:
        h, w = x.shape[-2:]
        m = self.size_multiple
        if h % m or w % m:
            raise ValueError(f"CUT ResNet generator input is {h}x{w}, but height and width must be multiples of "
                             f"{m} (2**n_downsampling); pad or resize the input")


def build_cut_resnet(options: CUTResnetOptions, *, in_channels: int, out_channels: int,
                     n_blocks: int | None = None) -> CUTResnetGenerator:
    """Build and initialise a CUT ResNet generator; a named variant fixes ``n_blocks`` (and 2 downsamplings)."""
    depth = getattr(options, "n_blocks", 9) if n_blocks is None else n_blocks
    downs = getattr(options, "n_downsampling", 2) if n_blocks is None else 2
    net = CUTResnetGenerator(in_channels, out_channels, ngf=options.ngf, n_blocks=depth, n_downsampling=downs,
                             norm=options.norm, dropout=options.dropout, padding=options.padding,
                             antialias=options.antialias, antialias_up=options.antialias_up)
    net.fixed_blocks = n_blocks  # a named variant's depth, for reading the authors' checkpoints
    return init_weights(net, options.init, options.init_gain)
