"""The plugin contract: the hooks a translate plugin may implement.

Every hook receives a ``register`` callback; call it once per component::

    @translate.hookimpl
    def register_generators(register):
        register("unet_256", build_unet, options=UNetOptions, description="...")

``register(name, factory, *, options=None, description="", smoke_options=None)``: ``name`` is
unique within its kind (a duplicate is an error naming both plugins); ``factory`` builds the
component (signatures below); ``options`` is a :class:`translate.Options` model that validates
the recipe's ``options`` table, whose instance the factory gets first; ``description`` is the
line ``translate plugins`` shows; ``smoke_options`` configure a tiny instance for the
registry-wide tests and :mod:`translate.testing`. Keep heavy imports (torch) inside factories.
"""

from __future__ import annotations

from typing import Callable

import pluggy

PROJECT = "translate"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


@hookspec
def register_generators(register: Register) -> None:
    """Generators: ``factory(options, *, in_channels, out_channels) -> torch.nn.Module``.

    The module maps ``(N, in_channels, H, W)`` in [-1, 1] to ``(N, out_channels, H, W)``. It may
    define an integer ``size_multiple``: H and W must be multiples of it.
    """


@hookspec
def register_discriminators(register: Register) -> None:
    """Discriminators: ``factory(options, *, in_channels) -> torch.nn.Module`` giving ``(N, 1, h, w)`` logits."""


@hookspec
def register_losses(register: Register) -> None:
    """Losses: ``factory(options) -> torch.nn.Module``.

    Adversarial losses subclass :class:`translate.AdversarialLoss`; reconstruction losses are
    called as ``loss(prediction, target) -> scalar``.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Data sets: ``factory(options, *, split) -> torch.utils.data.Dataset`` (see :mod:`translate.data`)."""


@hookspec
def register_methods(register: Register) -> None:
    """Training methods: ``factory(options, ctx: translate.BuildContext) -> translate.Method``."""


@hookspec
def register_data_sources(register: Register) -> None:
    """Public data sets for ``translate data download NAME``: a zero-argument factory returning a
    :class:`translate.api.DataSource` (see :func:`translate.api.register_archives`)."""


KINDS: dict[str, str] = {
    "generator": "register_generators",
    "discriminator": "register_discriminators",
    "loss": "register_losses",
    "dataset": "register_datasets",
    "method": "register_methods",
    "data_source": "register_data_sources",
}
"""Component kind -> the hook that registers it."""
