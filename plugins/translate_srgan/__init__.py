"""SRGAN (Ledig et al., CVPR 2017) as a plugin: 4x super-resolution.

- generator ``srresnet`` (``scale_factor`` 2, 4 or 8: output sides that many times the input's),
  discriminator ``srgan_discriminator`` (image-level: one logit per image, ``(N, 1, 1, 1)``);
- method ``srgan``: MSE pre-training (SRResNet), then content + 1e-3 adversarial loss;
- data sets ``sr_folder`` (any folder of images; the input is the bicubic downsample of each
  high-resolution crop) and the generated quickstart set ``sr_shapes``;
- data sources ``DIV2K_train_HR`` and ``DIV2K_valid_HR``.

Written against ``translate.api`` only; the losses (``l2``, ``vanilla``, ``perceptual``) come from
the registry. Torch is imported only when a factory runs.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

from translate.api import hookimpl, lazy_factory

from .options import SRDiscriminatorOptions, SRFolderOptions, SRGANOptions, SRResNetOptions, SRShapesOptions

_NETWORKS, _DATA, _TEXTURES = f"{__name__}.networks", f"{__name__}.data", f"{__name__}.textures"
_SMOKE_SHAPES = {"root": os.path.join(tempfile.gettempdir(), "translate-smoke-sr-shapes"), "count": 4,
                 "val_count": 2, "test_count": 1, "image_size": 32, "crop_size": 16}


@hookimpl
def register_generators(register: Callable[..., None]) -> None:
    register("srresnet", lazy_factory(_NETWORKS, "build_srresnet"), options=SRResNetOptions,
             smoke_options={"n_blocks": 2, "channels": 8},
             description="SRResNet (Ledig et al. 2017): 16 residual blocks, PixelShuffle x2 upsampling blocks; "
             "output sides scale (4) times the input's")


@hookimpl
def register_discriminators(register: Callable[..., None]) -> None:
    register("srgan_discriminator", lazy_factory(_NETWORKS, "build_discriminator"), options=SRDiscriminatorOptions,
             smoke_options={"ndf": 8, "dense": 16},
             description="SRGAN discriminator: eight 3x3 convs 64-512, BN, LeakyReLU 0.2, dense 1024, dense 1; "
             "one logit per image, any input size")


@hookimpl
def register_methods(register: Callable[..., None]) -> None:
    register("srgan", lazy_factory(f"{__name__}.method", "SRGAN"), options=SRGANOptions,
             description="SRGAN (Ledig et al. 2017): MSE pre-training (SRResNet), then content + 1e-3 adversarial loss")


@hookimpl
def register_datasets(register: Callable[..., None]) -> None:
    register("sr_folder", lazy_factory(_DATA, "build_sr_folder"), options=SRFolderOptions,
             smoke_options={"root": "data/images"},
             folder_option="root",
             description="super-resolution pairs from any folder of images: high-resolution crops (target) and "
             "their bicubic downsamples (input)")
    register("sr_shapes", lazy_factory(_TEXTURES, "build_sr_shapes"), options=SRShapesOptions,
             smoke_options=dict(_SMOKE_SHAPES), folder_option="root",
             description="super-resolution quickstart data, generated from a seed: shapes with sharp stripe, "
             "checker and ring textures")


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("bicubic-baseline", lazy_factory(f"{__name__}.bicubic", "run"),
             arguments=lazy_factory(f"{__name__}.bicubic", "add_arguments"),
             description="PSNR/SSIM of bicubic upsampling on a super-resolution folder's split (the baseline)")


@hookimpl
def register_data_sources(register: Any) -> None:
    from .sources import register_sources

    register_sources(register)
