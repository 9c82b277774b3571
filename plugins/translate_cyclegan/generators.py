"""Generator factories of the CycleGAN plugin; torch is imported only when a factory runs.

``GENERATORS`` lists ``(name, factory, options_model, smoke_options, description)``; the
plugin's ``register_generators`` hook registers each entry.
"""

from __future__ import annotations

from typing import Any, Callable

from translate.api import lazy_factory

from .network_options import ConfigurableResnetOptions, ResnetOptions

_RESNET = f"{__package__}.resnet"

GENERATORS: list[tuple[str, Callable[..., Any], type[ResnetOptions], dict[str, Any], str]] = [
    ("resnet_9blocks", lazy_factory(_RESNET, "build_resnet", n_blocks=9, n_downsampling=2), ResnetOptions, {"ngf": 8},
     "CycleGAN ResNet generator, 9 residual blocks (256x256 images; H, W multiples of 4), 11.4M params"),
    ("resnet_6blocks", lazy_factory(_RESNET, "build_resnet", n_blocks=6, n_downsampling=2), ResnetOptions, {"ngf": 8},
     "CycleGAN ResNet generator, 6 residual blocks (128x128 images; H, W multiples of 4), 7.8M params"),
    ("resnet", lazy_factory(_RESNET, "build_resnet"), ConfigurableResnetOptions, {"ngf": 8, "n_blocks": 2},
     "ResNet generator of configurable depth (n_blocks, n_downsampling)"),
]
"""(name, factory, options model, smoke options, description) of each generator."""
