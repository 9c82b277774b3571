"""The pix2pix U-Net generator (Isola et al. 2017, appendix 6.1.1) and its encoder-decoder ablation.

Encoder (4x4 convs, stride 2): C64-C128-C256-C512-C512-C512-C512-C512 for ``num_downs=8``,
LeakyReLU(0.2), no norm on the first layer nor at the 1x1 bottleneck. Decoder (4x4
transposed convs, stride 2, ReLU): the mirror image, each layer's output concatenated
with the encoder feature of the same size (unless ``skip_connections`` is False), dropout
in the first three decoder layers after the bottleneck (CD512-CD1024-CD1024, paper and original
Torch code; ``dropout_layers="authors"``: decoder layers 2 to ``num_downs - 4``, as the authors'
PyTorch code), then a transposed conv to the output channels and Tanh.

With ``bias="authors"`` the tensors are exactly those of the authors' ``UnetGenerator`` (54,413,955
parameters for unet_256 at ngf 64, batch norm, 3->3); :mod:`.authors` maps the names.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from translate.api import init_weights, norm_layer

from . import authors
from .authors import has_bias
from .network_options import UNetOptions

_PAPER_DROPOUT_LAYERS = 3


def _block(*layers: nn.Module | None) -> nn.Sequential:
    return nn.Sequential(*(layer for layer in layers if layer is not None))


def dropout_decoder_layers(num_downs: int, placement: str) -> range:
    """0-based decoder layers (0: the innermost) that have dropout."""
    if placement == "paper":
        return range(_PAPER_DROPOUT_LAYERS)
    if placement == "authors":
        return range(1, num_downs - 4)
    raise ValueError(f"unknown dropout_layers {placement!r}; expected 'paper' or 'authors'")


class UNet(nn.Module):
    """U-Net generator mapping ``(N, in_channels, H, W)`` to ``(N, out_channels, H, W)`` in [-1, 1].

    Args:
        in_channels: input channels.
        out_channels: output channels.
        num_downs: stride-2 downsamplings; H and W must be multiples of ``2**num_downs``.
        ngf: filters of the first encoder layer (capped at ``8 * ngf`` deeper down).
        norm: "batch", "instance" or "none".
        dropout: dropout probability of the decoder layers that have dropout (0 disables).
        dropout_layers: "paper" (first three decoder layers) or "authors" (layers 2 to num_downs - 4).
        skip_connections: False gives the paper's encoder-decoder ablation.
        bias: "authors" or "v0.1", see :func:`has_bias`; the last transposed conv always has one.

    Shape:
        - Input: ``(N, in_channels, H, W)``, H and W multiples of ``size_multiple``.
        - Output: ``(N, out_channels, H, W)``.

    Example:
        >>> g = UNet(3, 3, num_downs=5, ngf=8)
        >>> g(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
        dropout_layers: str = "paper",
        skip_connections: bool = True,
        bias: str = "authors",
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be at least 5, got {num_downs}")
        self.size_multiple = 2**num_downs
        self.num_downs = num_downs
        self.skip_connections = skip_connections
        #: depth and skips fixed by the registered variant that built this network (None: options decide)
        self.fixed_depth: int | None = None
        ch = [ngf * min(2**i, 8) for i in range(num_downs)]  # encoder output channels
        bn = norm == "batch"
        dropped = dropout_decoder_layers(num_downs, dropout_layers)

        first_bias = has_bias(norm, bias, feeds_batchnorm=False)
        down: list[nn.Module] = [nn.Conv2d(in_channels, ch[0], 4, 2, 1, bias=first_bias)]
        for i in range(1, num_downs):
            innermost = i == num_downs - 1
            down.append(_block(
                nn.LeakyReLU(0.2),
                nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=has_bias(norm, bias, feeds_batchnorm=bn and not innermost)),
                None if innermost else norm_layer(norm, ch[i]),
            ))
        self.down = nn.ModuleList(down)

        up: list[nn.Module] = []
        for k in range(num_downs - 1):  # decoder layer k + 1, from the bottleneck outwards
            cin = ch[num_downs - 1 - k] * (2 if skip_connections and k > 0 else 1)
            cout = ch[num_downs - 2 - k]
            up.append(_block(
                nn.ReLU(),
                nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=has_bias(norm, bias, feeds_batchnorm=bn)),
                norm_layer(norm, cout),
                nn.Dropout(dropout) if dropout > 0 and k in dropped else None,
            ))
        cin = ch[0] * (2 if skip_connections else 1)
        up.append(_block(nn.ReLU(), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()))
        self.up = nn.ModuleList(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.size_multiple
        if h % m or w % m:
            raise ValueError(
                f"U-Net input is {h}x{w}, but height and width must be multiples of {m} "
                f"(2**num_downs); pad or resize the input"
            )
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        for k, layer in enumerate(self.up):
            if k > 0 and self.skip_connections:
                x = torch.cat([skips[-1 - k], x], dim=1)
            x = layer(x)
        return x

    # --- the authors' checkpoints (pytorch-CycleGAN-and-pix2pix UnetGenerator) ---------------------

    @staticmethod
    def from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
        """An authors' ``UnetGenerator`` state dict under this network's tensor names (raises ModelFileError)."""
        return authors.unet_from_authors(state)

    def to_authors_state_dict(self, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This network's state dict (or ``state``) under the authors' tensor names."""
        return authors.unet_to_authors(self.state_dict() if state is None else state, self.num_downs)

    def infer_options_from_authors_state_dict(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Options of the registered generator that built this network which rebuild the authors' ``state``.

        The authors' dropout placement and biases; ``dropout`` 0.5 (the authors' rate: dropout
        layers hold no tensors, so a model trained with ``--no_dropout`` needs ``dropout = 0``).
        Raises ModelFileError when ``state`` is not an authors' U-Net of this variant's depth.
        """
        if not self.skip_connections:
            raise authors.unfit("U-Net", "the authors' code has no encoder-decoder (U-Net without skips)")
        return authors.unet_options(authors.unet_from_authors(state), fixed_depth=self.fixed_depth)

    @staticmethod
    def channels_from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, int]:
        """``{"in_channels": ..., "out_channels": ...}`` of an authors' U-Net state dict."""
        return authors.unet_channels(authors.unet_from_authors(state))


def build_unet(
    options: UNetOptions, *, in_channels: int, out_channels: int, num_downs: int | None = None,
    skip_connections: bool | None = None,
) -> UNet:
    """Build and initialise a U-Net from validated options; a named variant fixes its depth and skips,
    the configurable ``unet`` takes them from its options."""
    fixed = num_downs
    if num_downs is None:
        num_downs = options.num_downs  # type: ignore[attr-defined]
    if skip_connections is None:
        skip_connections = options.skip_connections  # type: ignore[attr-defined]
    net = UNet(
        in_channels,
        out_channels,
        num_downs=num_downs,
        ngf=options.ngf,
        norm=options.norm,
        dropout=options.dropout,
        dropout_layers=options.dropout_layers,
        skip_connections=skip_connections,
        bias=options.bias,
    )
    net.fixed_depth = fixed
    return init_weights(net, options.init, options.init_gain)
