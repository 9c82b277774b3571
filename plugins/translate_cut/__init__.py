"""CUT and FastCUT (Park, Efros, Zhang, Zhu; ECCV 2020) as a plugin: contrastive unpaired translation.

Registers, against translate's public hooks only:

- method ``cut`` (``mode = "cut"`` or ``"fastcut"``, the authors' presets);
- loss ``patchnce`` (InfoNCE over patches; the method's ``[losses.nce]`` role);
- generators ``cut_resnet_9blocks``, ``cut_resnet_6blocks``, ``cut_resnet`` (the authors' ResNet with
  anti-aliased down- and upsampling, exposing features through ``translate.FeatureEncoder``);
- discriminator ``cut_patchgan`` (PatchGAN with anti-aliased downsampling).

Data: the unpaired sets of the CycleGAN plugin (``unpaired``, ``synthetic_unpaired``). Torch is
imported only when a factory runs. See docs/cut.md.
"""

from __future__ import annotations

from typing import Callable

from translate.api import hookimpl, lazy_factory

from .options import (
    ConfigurableCUTResnetOptions,
    CUTOptions,
    CUTPatchGANOptions,
    CUTResnetOptions,
    PatchNCEOptions,
)

_RESNET, _PATCHGAN = f"{__name__}.resnet", f"{__name__}.patchgan"
_SMOKE_G = {"ngf": 4}


def _patchnce(options: PatchNCEOptions) -> object:
    from .patchnce import PatchNCELoss

    return PatchNCELoss(options.temperature, options.num_patches, options.negatives)


@hookimpl
def register_generators(register: Callable[..., None]) -> None:
    for blocks in (9, 6):
        register(f"cut_resnet_{blocks}blocks", lazy_factory(_RESNET, "build_cut_resnet", n_blocks=blocks),
                 options=CUTResnetOptions, smoke_options=_SMOKE_G,
                 description=f"CUT ResNet generator, {blocks} residual blocks, anti-aliased down/upsampling "
                             "(H, W multiples of 4); exposes features for PatchNCE")
    register("cut_resnet", lazy_factory(_RESNET, "build_cut_resnet"), options=ConfigurableCUTResnetOptions,
             smoke_options={**_SMOKE_G, "n_blocks": 2},
             description="CUT ResNet generator of configurable depth (n_blocks, n_downsampling)")


@hookimpl
def register_discriminators(register: Callable[..., None]) -> None:
    register("cut_patchgan", lazy_factory(_PATCHGAN, "build_cut_patchgan"), options=CUTPatchGANOptions,
             smoke_options={"ndf": 4, "n_layers": 2},
             description="PatchGAN with anti-aliased downsampling (the CUT authors' default D)")


@hookimpl
def register_losses(register: Callable[..., None]) -> None:
    register("patchnce", _patchnce, options=PatchNCEOptions, smoke_options={"num_patches": 16},
             description="PatchNCE: InfoNCE between patches at the same positions of two feature maps (CUT)")


@hookimpl
def register_methods(register: Callable[..., None]) -> None:
    register("cut", lazy_factory(f"{__name__}.method", "CUT"), options=CUTOptions,
             smoke_options={"nce_layers": [0, 4, 8, 12], "mlp_channels": 8},
             description="CUT / FastCUT (Park et al. 2020): one generator, PatchNCE + LSGAN, unpaired data")
