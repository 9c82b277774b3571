"""CycleGAN (Zhu et al., ICCV 2017) as a plugin: the `cyclegan` method, ResNet generators,
unpaired data sets and the public CycleGAN data sources.

Written against translate's public hooks only, like a third-party package: the
discriminators and losses it uses (PatchGAN, least squares, L1) come from the registry.
Torch is imported only when a factory runs.
"""

from __future__ import annotations

from typing import Callable

from translate.api import hookimpl, lazy_factory

from .method_options import CycleGANOptions


@hookimpl
def register_methods(register: Callable[..., None]) -> None:
    register("cyclegan", lazy_factory(f"{__name__}.method", "CycleGAN"), options=CycleGANOptions,
             description="CycleGAN (Zhu et al. 2017): two generators, two discriminators, cycle and identity losses")


@hookimpl
def register_generators(register: Callable[..., None]) -> None:
    from .generators import GENERATORS

    for name, factory, options, smoke, description in GENERATORS:
        register(name, factory, options=options, smoke_options=smoke, description=description)


@hookimpl
def register_datasets(register: Callable[..., None]) -> None:
    from .datasets import DATASETS

    for name, factory, options, smoke, description in DATASETS:
        register(name, factory, options=options, smoke_options=smoke, description=description, folder_option="root")


@hookimpl
def register_data_sources(register: Callable[..., None]) -> None:
    from .sources import register_sources

    register_sources(register)
