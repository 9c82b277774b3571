"""The plugin contract: the hooks a translate plugin may implement.

Each hook receives ``register(name, factory, *, options=None, description="", smoke_options=None,
folder_option=None, values=None, arguments=None)``; call it once per component. ``name`` is unique
within its kind; ``factory`` builds the component (the signature is in each hook's docstring) and gets
the validated ``options`` (a :class:`translate.Options` model) first; ``description`` is what
``translate plugins`` shows; ``smoke_options`` configure a tiny instance for tests; a data set names
the option that holds its folder (``folder_option="root"``) so that ``translate eval --data FOLDER``
can use it; a metric declares the value names its ``compute()`` returns (``values=("psnr",)``); a
command gives ``arguments`` (see :func:`register_commands`). docs/plugins.md, section 2, documents
each keyword (``tests/test_docs.py`` checks it against :meth:`translate.plugin.registry.Registry.add`).
Keep torch imports inside factories (:func:`translate.lazy_factory` does that for you). Example::

    @translate.hookimpl
    def register_generators(register):
        register("unet_256", build_unet, options=UNetOptions, description="...")
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
    """``factory(options, *, in_channels, out_channels) -> nn.Module`` mapping ``(N, in, H, W)`` in [-1, 1]
    to ``(N, out, s*H, s*W)``; an integer attribute ``size_multiple`` says what H and W must be multiples of,
    an integer attribute ``scale_factor`` is ``s`` (default 1; see :mod:`translate.nn.traits`)."""


@hookspec
def register_discriminators(register: Register) -> None:
    """``factory(options, *, in_channels) -> nn.Module`` giving ``(N, 1, h, w)`` logits."""


@hookspec
def register_losses(register: Register) -> None:
    """``factory(options) -> nn.Module``: a :class:`translate.AdversarialLoss`, or ``loss(prediction, target)``."""


@hookspec
def register_datasets(register: Register) -> None:
    """``factory(options, *, split) -> torch.utils.data.Dataset`` as :mod:`translate.data.contract` describes."""


@hookspec
def register_methods(register: Register) -> None:
    """``factory(options, ctx: translate.BuildContext) -> translate.Method``."""


@hookspec
def register_data_sources(register: Register) -> None:
    """``factory() -> translate.DataSource`` for ``translate data download NAME``."""


@hookspec
def register_metrics(register: Register) -> None:
    """``factory(options, ctx: translate.MetricContext) -> translate.Metric``
    (see :mod:`translate.components.metric`)."""


@hookspec
def register_segmenters(register: Register) -> None:
    """``factory(options) -> nn.Module`` mapping ``(N, 3, H, W)`` RGB in [-1, 1] to ``(N, K, H, W)`` class
    logits, with attributes ``num_classes`` (K) and ``class_names``; used by segmentation-score metrics."""


@hookspec
def register_commands(register: Register) -> None:
    """``translate`` subcommands: ``register(name, run, *, arguments=add_arguments, description=...)``.

    ``arguments(parser: argparse.ArgumentParser) -> None`` adds the command's arguments (called only
    when the command is chosen); ``run(args: argparse.Namespace) -> int`` runs it and returns the exit
    status; ``args.registry`` is the registry the command line loaded (pass it on rather than loading
    plugins again). Raise :class:`translate.TranslateError` for what the user got wrong: it is printed as
    ``error: ...`` with exit status 2. ``description`` is the command's line in ``translate --help``.
    Name both with :func:`translate.lazy_factory` so that ``translate --help`` stays fast. The
    built-in commands are registered the same way (:mod:`translate.commands.builtin`).
    """


FACTORY_WITHOUT_OPTIONS = frozenset({"data_source"})
"""Kinds whose factory takes no options (``factory()``)."""

NETWORK_KINDS = frozenset({"generator", "discriminator"})
"""Kinds whose factory returns a network: what it declares is checked when it is built
(:func:`translate.nn.traits.check_network`)."""

KINDS: dict[str, str] = {
    "generator": "register_generators",
    "discriminator": "register_discriminators",
    "loss": "register_losses",
    "dataset": "register_datasets",
    "method": "register_methods",
    "data_source": "register_data_sources",
    "metric": "register_metrics",
    "segmenter": "register_segmenters",
    "command": "register_commands",
}
"""Component kind -> the hook that registers it."""
