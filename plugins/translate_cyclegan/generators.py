"""Generator factories of the CycleGAN plugin; torch is imported only when a factory runs.

``GENERATORS`` lists ``(name, factory, options_model, smoke_options, description)``; the
plugin's ``register_generators`` hook registers each entry.
"""

from __future__ import annotations

from typing import Any, Callable

from .network_options import ConfigurableResnetOptions, ResnetOptions


def resnet_factory(n_blocks: int | None, n_downsampling: int | None) -> Callable[..., Any]:
    """A generator factory; ``None`` takes n_blocks / n_downsampling from the options."""

    def factory(options: ResnetOptions, *, in_channels: int, out_channels: int) -> Any:
        from .resnet import build_resnet

        return build_resnet(
            options,
            in_channels=in_channels,
            out_channels=out_channels,
            n_blocks=options.n_blocks if n_blocks is None else n_blocks,
            n_downsampling=options.n_downsampling if n_downsampling is None else n_downsampling,
        )

    return factory


GENERATORS: list[tuple[str, Callable[..., Any], type[ResnetOptions], dict[str, Any], str]] = [
    ("resnet_9blocks", resnet_factory(9, 2), ResnetOptions, {"ngf": 8},
     "CycleGAN ResNet generator, 9 residual blocks (256x256 images; H, W multiples of 4), 11.4M params"),
    ("resnet_6blocks", resnet_factory(6, 2), ResnetOptions, {"ngf": 8},
     "CycleGAN ResNet generator, 6 residual blocks (128x128 images; H, W multiples of 4), 7.8M params"),
    ("resnet", resnet_factory(None, None), ConfigurableResnetOptions, {"ngf": 8, "n_blocks": 2},
     "ResNet generator of configurable depth (n_blocks, n_downsampling)"),
]
"""(name, factory, options model, smoke options, description) of each generator."""
