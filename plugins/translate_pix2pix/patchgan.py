"""PatchGAN discriminators (pix2pix): an N-layer patch classifier and the 1x1 PixelGAN.

``n_layers`` stride-2 4x4 convs (C64-C128-C256 for n_layers=3, filters capped at
``8 * ndf``, no norm on the first), one stride-1 4x4 conv (C512), then a stride-1 4x4 conv
to one logit per patch. LeakyReLU(0.2) throughout. n_layers = 1, 3, 5 give receptive
fields of 16, 70 and 286 pixels; on 256x256 input the 70x70 PatchGAN yields 30x30 logits.
With ``bias="authors"`` the tensors are exactly those of the authors' ``NLayerDiscriminator``
and ``PixelDiscriminator`` (2,768,705 and 9,024 parameters with 6 input channels, ndf 64, batch norm).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from translate.api import init_weights, norm_layer

from . import authors
from .authors import has_bias
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
        bias: "authors" or "v0.1" (see :func:`translate_pix2pix.authors.has_bias`); the first and
            the last conv always have one.

    Example:
        >>> d = PatchGAN(6, n_layers=3, ndf=8)
        >>> d(torch.zeros(1, 6, 256, 256)).shape
        torch.Size([1, 1, 30, 30])
    """

    def __init__(self, in_channels: int, *, n_layers: int = 3, ndf: int = 64, norm: str = "batch",
                 bias: str = "authors") -> None:
        super().__init__()
        self.receptive_field = receptive_field(n_layers)
        self.n_layers, self.norm = n_layers, norm
        #: n_layers fixed by the registered variant that built this network (None: options decide)
        self.fixed_depth: int | None = None
        with_bias = has_bias(norm, bias, feeds_batchnorm=norm == "batch")
        ch = [ndf * min(2**i, 8) for i in range(n_layers + 1)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ch[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1
            layers += _block(
                nn.Conv2d(ch[i - 1], ch[i], 4, stride, 1, bias=with_bias), norm_layer(norm, ch[i]), nn.LeakyReLU(0.2)
            )
        layers.append(nn.Conv2d(ch[-1], 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @staticmethod
    def from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
        """An authors' ``NLayerDiscriminator`` state dict under this network's tensor names."""
        return authors.patchgan_from_authors(state)

    def to_authors_state_dict(self, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This network's state dict (or ``state``) under the authors' tensor names."""
        return authors.patchgan_to_authors(self.state_dict() if state is None else state, self.n_layers, self.norm)

    def infer_options_from_authors_state_dict(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Options of the registered discriminator that built this network which rebuild the authors' ``state``."""
        n_layers, norm = authors.patchgan_layout(state)
        options: dict[str, Any] = {"ndf": int(state["model.0.weight"].shape[0]), "norm": norm, "bias": "authors"}
        if self.fixed_depth is None:
            options["n_layers"] = n_layers
        elif n_layers != self.fixed_depth:
            raise authors.unfit("PatchGAN", f"it has n_layers {n_layers}, this discriminator has {self.fixed_depth}")
        return options

    @staticmethod
    def channels_from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, int]:
        """``{"in_channels": ...}`` of an authors' PatchGAN state dict."""
        return {"in_channels": int(state["model.0.weight"].shape[1])}


class PixelGAN(nn.Module):
    """1x1 PixelGAN: one logit per pixel, ``(N, 1, H, W)``.

    conv1x1(ndf) - LeakyReLU - conv1x1(2 ndf) - norm - LeakyReLU - conv1x1(1). With
    ``bias="authors"`` the last two convs have a bias only with instance norm, as the authors'.
    """

    def __init__(self, in_channels: int, *, ndf: int = 64, norm: str = "batch", bias: str = "authors") -> None:
        super().__init__()
        self.receptive_field = 1
        self.norm = norm
        self.model = nn.Sequential(*_block(
            nn.Conv2d(in_channels, ndf, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 1, bias=has_bias(norm, bias, feeds_batchnorm=norm == "batch")),
            norm_layer(norm, ndf * 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, 1, 1, bias=has_bias(norm, bias, feeds_batchnorm=False)),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @staticmethod
    def from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
        """An authors' ``PixelDiscriminator`` state dict (``net.<i>``) under this network's tensor names."""
        return authors.pixelgan_from_authors(state)

    def to_authors_state_dict(self, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This network's state dict (or ``state``) under the authors' tensor names."""
        return authors.pixelgan_to_authors(self.state_dict() if state is None else state, self.norm)

    def infer_options_from_authors_state_dict(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Options of ``pixelgan`` which rebuild the authors' ``state``."""
        ours = authors.pixelgan_from_authors(state)
        norm = "batch" if "model.3.weight" in ours else "instance" if "model.2.bias" in ours else "none"
        return {"ndf": int(state["net.0.weight"].shape[0]), "norm": norm, "bias": "authors"}

    @staticmethod
    def channels_from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, int]:
        """``{"in_channels": ...}`` of an authors' PixelGAN state dict."""
        return {"in_channels": int(state["net.0.weight"].shape[1])}


def build_patchgan(options: PatchGANOptions, *, in_channels: int, n_layers: int | None = None) -> PatchGAN:
    """Build and initialise a PatchGAN from validated options; a named variant fixes its depth, the
    configurable ``patchgan`` takes ``n_layers`` from its options."""
    fixed = n_layers
    if n_layers is None:
        n_layers = options.n_layers  # type: ignore[attr-defined]
    net = PatchGAN(in_channels, n_layers=n_layers, ndf=options.ndf, norm=options.norm, bias=options.bias)
    net.fixed_depth = fixed
    return init_weights(net, options.init, options.init_gain)


def build_pixelgan(options: PixelGANOptions, *, in_channels: int) -> PixelGAN:
    """Build and initialise a PixelGAN from validated options."""
    net = PixelGAN(in_channels, ndf=options.ndf, norm=options.norm, bias=options.bias)
    return init_weights(net, options.init, options.init_gain)
