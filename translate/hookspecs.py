"""The plugin contract: the hooks a translate plugin may implement.

Every hook receives a ``register`` callback. Call it once per component::

    @translate.hookimpl
    def register_generators(register):
        register("unet_256", build_unet, options=UNetOptions, description="...")

``register(name, factory, *, options=None, description="", smoke_options=None)``:

- ``name``: unique within the component kind; a duplicate is an error naming both plugins.
- ``factory``: a callable that builds the component (signatures per kind below).
- ``options``: a pydantic model (subclass :class:`translate.Options`) declaring the
  options a recipe may set. The recipe's ``options`` table is validated against it
  strictly, and the validated instance is passed as the factory's first argument.
- ``description``: one line shown by ``translate plugins``.
- ``smoke_options``: options for a tiny instance (e.g. ``{"ngf": 8}``) that the
  registry-wide tests and :mod:`translate.testing` use to build and run every component fast.

Heavy imports (torch, kornia) belong inside factories so that ``translate --help``
and ``translate plugins`` stay fast.
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
    """Register generator networks.

    Factory: ``factory(options, *, in_channels: int, out_channels: int) -> torch.nn.Module``.
    The module maps ``(N, in_channels, H, W)`` in [-1, 1] to ``(N, out_channels, H, W)``.
    It may define an integer attribute ``size_multiple``: H and W must be multiples of it.
    """


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminator networks.

    Factory: ``factory(options, *, in_channels: int) -> torch.nn.Module``, returning
    logits of shape ``(N, 1, h, w)`` (one per patch; ``h = w = 1`` for an image-level D).
    """


@hookspec
def register_losses(register: Register) -> None:
    """Register loss functions.

    Factory: ``factory(options) -> torch.nn.Module``. Adversarial losses subclass
    :class:`translate.AdversarialLoss`; reconstruction losses are modules called as
    ``loss(prediction, target) -> scalar``.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register data sets.

    Factory: ``factory(options, *, split: str) -> torch.utils.data.Dataset``; see
    :class:`translate.data.TranslationDataset` for what items look like.
    """


@hookspec
def register_methods(register: Register) -> None:
    """Register training methods (pix2pix, CycleGAN, ...).

    Factory: ``factory(options, ctx: translate.BuildContext) -> translate.Method``.
    """


@hookspec
def register_data_sources(register: Register) -> None:
    """Register downloadable public data sets for ``translate data download NAME``.

    Factory: a zero-argument callable returning a :class:`translate.download.DataSource`.
    """


KINDS: dict[str, str] = {
    "generator": "register_generators",
    "discriminator": "register_discriminators",
    "loss": "register_losses",
    "dataset": "register_datasets",
    "method": "register_methods",
    "data_source": "register_data_sources",
}
"""Component kind -> the hook that registers it."""


def hook_names() -> list[str]:
    """All hook names of the contract."""
    return list(KINDS.values())


