"""pix2pix: U-Net generators and PatchGAN discriminators (Isola et al., CVPR 2017).

Torch is imported only when a factory runs, so loading the plugin stays fast.
"""

from __future__ import annotations

from typing import Callable

from translate.api import hookimpl, lazy_factory

from .method_options import Pix2PixOptions
from .network_options import (
    ConfigurablePatchGANOptions,
    ConfigurableUNetOptions,
    PatchGANOptions,
    PixelGANOptions,
    UNetOptions,
)


_UNET, _PATCHGAN, _METHOD = f"{__name__}.unet", f"{__name__}.patchgan", f"{__name__}.method"


# name: (num_downs, skip_connections, description); "unet" takes both from its options
_UNETS = {
    "unet_256": (8, True, "pix2pix U-Net, 8 downsamplings (H, W multiples of 256), 54.4M params"),
    "unet_128": (7, True, "pix2pix U-Net, 7 downsamplings (H, W multiples of 128)"),
    "encoder_decoder_256": (8, False, "pix2pix encoder-decoder ablation: unet_256 without skip connections"),
    "encoder_decoder_128": (7, False, "pix2pix encoder-decoder ablation: unet_128 without skip connections"),
}
# name: (n_layers, description); "patchgan" takes n_layers from its options
_PATCHGANS = {
    "patchgan_70": (3, "70x70 PatchGAN (n_layers=3), the pix2pix/CycleGAN default"),
    "patchgan_16": (1, "16x16 PatchGAN (n_layers=1)"),
    "patchgan_286": (5, "286x286 PatchGAN (n_layers=5), the paper's ImageGAN at 256x256"),
}


@hookimpl
def register_generators(register: Callable[..., None]) -> None:
    register("unet", lazy_factory(_UNET, "build_unet"), options=ConfigurableUNetOptions,
             smoke_options={"ngf": 8, "num_downs": 5},
             description="pix2pix U-Net of configurable depth (num_downs) and skips")
    for name, (num_downs, skips, description) in _UNETS.items():
        register(name, lazy_factory(_UNET, "build_unet", num_downs=num_downs, skip_connections=skips),
                 options=UNetOptions, smoke_options={"ngf": 8}, description=description)


@hookimpl
def register_discriminators(register: Callable[..., None]) -> None:
    register("patchgan", lazy_factory(_PATCHGAN, "build_patchgan"), options=ConfigurablePatchGANOptions,
             smoke_options={"ndf": 8}, description="PatchGAN of configurable depth (n_layers)")
    for name, (n_layers, description) in _PATCHGANS.items():
        register(name, lazy_factory(_PATCHGAN, "build_patchgan", n_layers=n_layers), options=PatchGANOptions,
                 smoke_options={"ndf": 8}, description=description)
    register("pixelgan", lazy_factory(_PATCHGAN, "build_pixelgan"), options=PixelGANOptions,
             smoke_options={"ndf": 8}, description="1x1 PixelGAN: one logit per pixel")


@hookimpl
def register_methods(register: Callable[..., None]) -> None:
    register("pix2pix", lazy_factory(_METHOD, "Pix2Pix"), options=Pix2PixOptions,
             description="pix2pix (Isola et al. 2017): conditional GAN + lambda * L1 on paired data")
