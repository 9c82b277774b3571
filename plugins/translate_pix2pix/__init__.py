"""pix2pix: U-Net generators and PatchGAN discriminators (Isola et al., CVPR 2017).

Torch is imported only when a factory runs, so loading the plugin stays fast.
"""

from __future__ import annotations

from typing import Any, Callable

from translate.api import hookimpl

from .method_options import Pix2PixOptions
from .network_options import (
    ConfigurablePatchGANOptions,
    ConfigurableUNetOptions,
    PatchGANOptions,
    PixelGANOptions,
    UNetOptions,
)


def _unet_factory(num_downs: int | None, skips: bool | None) -> Callable[..., Any]:
    """A generator factory; ``None`` takes num_downs / skip_connections from the options."""

    def factory(options: UNetOptions, *, in_channels: int, out_channels: int) -> Any:
        from .unet import build_unet

        return build_unet(
            options,
            in_channels=in_channels,
            out_channels=out_channels,
            num_downs=options.num_downs if num_downs is None else num_downs,
            skip_connections=options.skip_connections if skips is None else skips,
        )

    return factory


def _patchgan_factory(n_layers: int | None) -> Callable[..., Any]:
    """A discriminator factory; ``None`` takes n_layers from the options."""

    def factory(options: PatchGANOptions, *, in_channels: int) -> Any:
        from .patchgan import build_patchgan

        return build_patchgan(
            options, in_channels=in_channels, n_layers=options.n_layers if n_layers is None else n_layers
        )

    return factory


def _pixelgan(options: PixelGANOptions, *, in_channels: int) -> Any:
    from .patchgan import build_pixelgan

    return build_pixelgan(options, in_channels=in_channels)


@hookimpl
def register_generators(register: Callable[..., None]) -> None:
    register("unet", _unet_factory(None, None), options=ConfigurableUNetOptions,
             smoke_options={"ngf": 8, "num_downs": 5},
             description="pix2pix U-Net of configurable depth (num_downs) and skips")
    register("unet_256", _unet_factory(8, True), options=UNetOptions, smoke_options={"ngf": 8},
             description="pix2pix U-Net, 8 downsamplings (H, W multiples of 256), 54.4M params")
    register("unet_128", _unet_factory(7, True), options=UNetOptions, smoke_options={"ngf": 8},
             description="pix2pix U-Net, 7 downsamplings (H, W multiples of 128)")
    register("encoder_decoder_256", _unet_factory(8, False), options=UNetOptions, smoke_options={"ngf": 8},
             description="pix2pix encoder-decoder ablation: unet_256 without skip connections")
    register("encoder_decoder_128", _unet_factory(7, False), options=UNetOptions, smoke_options={"ngf": 8},
             description="pix2pix encoder-decoder ablation: unet_128 without skip connections")


@hookimpl
def register_discriminators(register: Callable[..., None]) -> None:
    register("patchgan", _patchgan_factory(None), options=ConfigurablePatchGANOptions,
             smoke_options={"ndf": 8}, description="PatchGAN of configurable depth (n_layers)")
    register("patchgan_70", _patchgan_factory(3), options=PatchGANOptions, smoke_options={"ndf": 8},
             description="70x70 PatchGAN (n_layers=3), the pix2pix/CycleGAN default")
    register("patchgan_16", _patchgan_factory(1), options=PatchGANOptions, smoke_options={"ndf": 8},
             description="16x16 PatchGAN (n_layers=1)")
    register("patchgan_286", _patchgan_factory(5), options=PatchGANOptions, smoke_options={"ndf": 8},
             description="286x286 PatchGAN (n_layers=5), the paper's ImageGAN at 256x256")
    register("pixelgan", _pixelgan, options=PixelGANOptions, smoke_options={"ndf": 8},
             description="1x1 PixelGAN: one logit per pixel")


@hookimpl
def register_methods(register: Callable[..., None]) -> None:
    register("pix2pix", _pix2pix, options=Pix2PixOptions,
             description="pix2pix (Isola et al. 2017): conditional GAN + lambda * L1 on paired data")


def _pix2pix(options: Pix2PixOptions, ctx: Any) -> Any:
    from .method import Pix2Pix

    return Pix2Pix(options, ctx)
