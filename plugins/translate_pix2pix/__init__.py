"""pix2pix: U-Net generators and PatchGAN discriminators (Isola et al., CVPR 2017).

Torch is imported only when a factory runs, so loading the plugin stays fast.
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable

from translate.api import hookimpl, lazy_factory

from .colorization_options import ColorFolderOptions, ColorizationOptions, ColorShapesOptions
from .method_options import Pix2PixOptions
from .network_options import (
    ConfigurablePatchGANOptions,
    ConfigurableUNetOptions,
    PatchGANOptions,
    PixelGANOptions,
    UNetOptions,
)

_UNET, _PATCHGAN, _METHOD = f"{__name__}.unet", f"{__name__}.patchgan", f"{__name__}.method"
_COLORIZER, _COLOR_METHOD, _COLOR_DATA = (f"{__name__}.colorization", f"{__name__}.colorization_method",
                                          f"{__name__}.colorization_data")


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
    register("unet_colorizer", lazy_factory(_COLORIZER, "build_unet_colorizer"), options=ConfigurableUNetOptions,
             smoke_options={"ngf": 8, "num_downs": 5},
             description="colorization: grey in, RGB out; a U-Net predicts Lab ab from L (kornia Lab inside)")


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
    register("colorization", lazy_factory(_COLOR_METHOD, "Colorization"), options=ColorizationOptions,
             description="pix2pix colorization (Isola et al. 2017): grey -> colour, cGAN on (L, ab) + lambda * L1 on ab")


@hookimpl
def register_datasets(register: Callable[..., None]) -> None:
    register("colorization", lazy_factory(_COLOR_DATA, "build_color_folder"), options=ColorFolderOptions,
             smoke_options={"root": os.path.join(tempfile.gettempdir(), "translate-smoke-colorization")},
             folder_option="root",
             description="any folder of colour images as (grey, RGB) pairs; the grey has the colour image's Lab L")
    register("synthetic_colorization", lazy_factory(_COLOR_DATA, "build_color_shapes"), options=ColorShapesOptions,
             smoke_options={"root": os.path.join(tempfile.gettempdir(), "translate-smoke-colorization-shapes"),
                            "count": 4, "val_count": 2, "test_count": 1, "image_size": 32},
             folder_option="root",
             description="colorization quickstart data, generated from a seed: shaded shapes coloured by kind")
