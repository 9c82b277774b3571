"""translate-example-plugin: registers the ``tiny_resnet`` generator with translate.

translate finds this module through the entry point declared in ``pyproject.toml``::

    [project.entry-points.translate]
    example = "translate_example_plugin"

and calls every hook implementation in it (functions marked ``@translate.hookimpl``
whose name is a hook of :mod:`translate.plugin.hookspecs`). Importing this module must stay
cheap: torch is only imported when a network is actually built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

import translate

if TYPE_CHECKING:  # pragma: no cover
    from .network import TinyResNetGenerator

__version__ = "0.1.0"


class TinyResNetOptions(translate.Options):
    """Options of ``tiny_resnet``; a recipe's ``[generator.options]`` table is checked against them.

    Subclassing :class:`translate.Options` makes the model strict: an unknown key or a
    value of the wrong type is an error that names ``generator.options.<key>``.
    """

    width: int = Field(32, ge=4, le=256, description="Channels after the stem; doubled at each downsampling.")
    blocks: int = Field(4, ge=0, le=32, description="Residual blocks at the bottleneck.")
    downsampling: int = Field(
        2, ge=0, le=5, description="Stride-2 stages; H and W must be multiples of 2**downsampling."
    )
    norm: Literal["instance", "batch", "none"] = Field("instance", description="Normalisation layer.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout probability inside each residual block.")


def build_tiny_resnet(
    options: TinyResNetOptions, *, in_channels: int, out_channels: int
) -> "TinyResNetGenerator":
    """Generator factory: translate passes the validated options and the channel counts."""
    from .network import TinyResNetGenerator  # torch is imported here, not at plugin load

    return TinyResNetGenerator(
        in_channels,
        out_channels,
        width=options.width,
        blocks=options.blocks,
        downsampling=options.downsampling,
        norm=options.norm,
        dropout=options.dropout,
    )


@translate.hookimpl
def register_generators(register) -> None:  # noqa: ANN001 - the callback translate provides
    """Register this plugin's generators."""
    register(
        "tiny_resnet",
        build_tiny_resnet,
        options=TinyResNetOptions,
        description="Small ResNet-style generator (stem, stride-2 downsampling, residual blocks, decoder).",
        smoke_options={"width": 8, "blocks": 1, "downsampling": 1},
    )
