"""Checks for plugin authors: load a plugin in isolation and smoke-test what it registers.

Opt-in and framework-neutral: plain functions that raise ``AssertionError`` with a
readable message, so they work in pytest (or any other runner)::

    import translate_my_plugin
    from translate.testing import check_generator, check_options_strict, load_registry_with

    def test_my_generator():
        registry = load_registry_with(translate_my_plugin)
        check_options_strict(registry.get("generator", "my_unet"))
        check_generator(registry, "my_unet")

Every check builds the component from its ``smoke_options`` (the tiny configuration
given to ``register``) unless ``options=`` is passed. torch is imported inside the
functions, so importing this module is cheap.

Losses and methods (:mod:`translate.testing.losses`, :mod:`translate.testing.methods`)::

    check_loss(registry, "my_perceptual")     # finite scalar, gradient reaches the prediction, frozen weights
    registry = load_registry_with(translate_my_method, installed=True)   # the built-in networks too
    check_method(registry, "my_method", tables={"generator": {"name": "unet", "options": {"num_downs": 5}}})

``check_loss`` places the loss as the engine does (on the device, frozen and in eval mode unless
``trainable = True``) and runs it on random images in [-1, 1]. ``check_method`` builds the
method through a ``BuildContext`` on tiny networks (``smoke_options`` for every component without
a table), prepares it as the engine does, runs train steps, checks that sampling has no side
effects, exports a model file and reloads it with ``translate.load``.

Data sets and metrics (:mod:`translate.testing.datasets`, :mod:`translate.testing.metrics`)::

    check_dataset(registry, "my_pairs", folder=tmp_path, paired=True)   # items, keys, DataInfo for eval
    check_metric(registry, "my_metric")       # values= declared, finite, reset, JSON protocol

Options (:mod:`translate.testing.options`): ``check_options_strict``, and ``option_errors`` (the
lines ``translate check`` prints for a bad options table).
"""

from __future__ import annotations

import inspect
import sys
from importlib import metadata
from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from ..plugin.loading import ENTRY_POINT_GROUP, Plugins, load_plugins
from ..plugin.registry import Component, OptionsInvalid, Registry
from .datasets import check_dataset
from .losses import check_loss, component_of
from .methods import check_method
from .metrics import check_metric
from .options import check_options_strict, option_errors

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "load_plugins_with", "load_registry_with", "get_component", "check_options_strict", "option_errors",
    "check_generator", "check_discriminator", "check_component", "check_loss", "check_method", "check_dataset",
    "check_metric", "Component", "Registry",
]

def _named(plugins: tuple[object, ...]) -> list[tuple[str, object]]:
    """``(name, plugin)`` pairs: a given pair is kept, else the module or class name (made unique)."""
    out: list[tuple[str, object]] = []
    seen: set[str] = set()
    for plugin in plugins:
        if isinstance(plugin, tuple) and len(plugin) == 2 and isinstance(plugin[0], str):
            name, plugin = plugin
        else:
            base = str(getattr(plugin, "__name__", None) or type(plugin).__name__).rsplit(".", 1)[-1]
            name, n = base, 1
            while name in seen:
                n += 1
                name = f"{base}-{n}"
        seen.add(name)
        out.append((name, plugin))
    return out


def load_plugins_with(*plugins: object, installed: bool = False) -> Plugins:
    """Load the given plugins: modules, classes or instances holding hook implementations.

    Each is named after its module or class, or pass ``(name, plugin)`` pairs. With
    ``installed=False`` (the default) nothing else is loaded, so a plugin is tested
    alone; ``installed=True`` also loads every installed plugin (built-ins included), e.g.
    to check that names do not clash; a given plugin that is also installed is loaded once, the
    given object under its entry point's name (so that tests of an installed plugin work). Loading is
    strict: a misspelt hook, an invalid registration or a duplicate name raises
    :class:`translate.PluginError`.
    """
    if not installed:
        return load_plugins(strict=True, extra=_named(plugins), entry_points=[])
    entry_points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    named = []
    for given, (name, plugin) in zip(plugins, _named(plugins)):
        same = [ep for ep in entry_points if _is_entry_point_of(ep, plugin)]
        entry_points = [ep for ep in entry_points if ep not in same]
        explicit = isinstance(given, tuple)
        named.append((name if explicit or not same else same[0].name, plugin))
    return load_plugins(strict=True, extra=named, entry_points=entry_points)


def _is_entry_point_of(ep: metadata.EntryPoint, plugin: object) -> bool:
    """Whether the installed entry point ``ep`` names ``plugin`` (the same module, or the object it loads)."""
    module = getattr(plugin, "__name__", None) if inspect.ismodule(plugin) else None
    if module is not None and ep.module == module and not ep.attr:
        return True
    if ep.module in sys.modules:  # only plugins already imported: comparing does not import any other
        try:
            return ep.load() is plugin
        except Exception:  # noqa: BLE001 - a broken entry point is reported when it is loaded
            return False
    return False


def load_registry_with(*plugins: object, installed: bool = False) -> Registry:
    """The registry filled by :func:`load_plugins_with`."""
    return load_plugins_with(*plugins, installed=installed).registry


def get_component(source: Registry | Component, kind: str, name: str | None = None) -> Component:
    """``source`` itself when it is a component (of ``kind``), else ``source.get(kind, name)``."""
    return component_of(source, kind, name)


def check_generator(source: Registry | Component, name: str | None = None, *, options: dict[str, Any] | None = None,
                    in_channels: int = 3, out_channels: int = 3, batch_size: int = 2,
                    size: int | tuple[int, int] | None = None, seed: int = 0) -> "torch.nn.Module":
    """Build a generator and run it forward and backward on random images.

    Checks that the factory returns a ``torch.nn.Module``; that ``size_multiple`` (if
    any) is a positive int; that ``scale_factor`` (if any) is an int from 1 to
    :data:`translate.nn.traits.MAX_SCALE_FACTOR`; that ``(N, in_channels, H, W)`` maps to
    ``(N, out_channels, scale_factor * H, scale_factor * W)`` with finite values in train and eval
    mode; and that every trainable parameter receives a finite gradient. ``size`` (the input's)
    defaults to the smallest multiple of ``size_multiple`` that is at least 32. Returns the built module.
    """
    from ..nn.traits import scale_factor

    comp = get_component(source, "generator", name)
    module = _build(comp, options, in_channels=in_channels, out_channels=out_channels)
    try:
        scale = scale_factor(module, f"generator {comp.name!r}")
    except PluginError as err:
        raise AssertionError(str(err)) from None
    expected = (batch_size, out_channels)

    def check(y: "torch.Tensor", what: str, x: "torch.Tensor") -> None:
        want = (*expected, x.shape[2] * scale, x.shape[3] * scale)
        if tuple(y.shape) != want:
            hint = f" (scale_factor {scale}: output H, W = {scale} x input's)" if tuple(y.shape[:2]) == expected else ""
            raise AssertionError(f"{what} shape {tuple(y.shape)} for input {tuple(x.shape)}, expected {want}{hint}")

    _smoke(module, f"generator {comp.name!r}", (batch_size, in_channels), size, 32, seed, check)
    return module


def check_discriminator(source: Registry | Component, name: str | None = None, *,
                        options: dict[str, Any] | None = None, in_channels: int = 6, batch_size: int = 2,
                        size: int | tuple[int, int] | None = None, seed: int = 0) -> "torch.nn.Module":
    """Build a discriminator and run it forward and backward on random images.

    Checks that ``(N, in_channels, H, W)`` maps to finite logits of shape
    ``(N, 1, h, w)`` in train and eval mode and that every trainable parameter receives
    a finite gradient. ``in_channels`` defaults to 6 (a conditional pix2pix D sees input
    and output stacked); ``size`` defaults to at least 64. Returns the built module.
    """
    comp = get_component(source, "discriminator", name)
    module = _build(comp, options, in_channels=in_channels)

    def check(y: "torch.Tensor", what: str, x: "torch.Tensor") -> None:
        if y.dim() != 4 or y.shape[0] != batch_size or y.shape[1] != 1:
            raise AssertionError(f"{what} shape {tuple(y.shape)}, expected ({batch_size}, 1, h, w)")

    _smoke(module, f"discriminator {comp.name!r}", (batch_size, in_channels), size, 64, seed, check)
    return module


def _smoke(module: "torch.nn.Module", where: str, batch: tuple[int, int], size: int | tuple[int, int] | None,
           minimum: int, seed: int, check: Any) -> None:
    """Forward (train mode), ``check`` the output, backward, then forward again in eval mode and check."""
    import torch

    height, width = _input_size(module, where, size, minimum=minimum)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x = torch.rand(*batch, height, width) * 2 - 1
        module.train()
        y = _forward(module, x, where)
        check(y, f"{where}: output", x)
        _backward(module, y, where)
        module.eval()
        with torch.no_grad():
            check(_forward(module, x, f"{where} (eval mode)"), f"{where}: eval-mode output", x)


def check_component(component: Component, **kwargs: Any) -> Any:
    """Options check plus the kind's own check (generators, discriminators, losses, data sets, metrics), with
    ``kwargs`` passed to it; for registry-wide tests. Methods need a registry with networks (:func:`check_method`)."""
    check_options_strict(component)
    checks = {"generator": check_generator, "discriminator": check_discriminator, "loss": check_loss,
              "dataset": check_dataset, "metric": check_metric}
    check = checks.get(component.kind)
    return check(component, **kwargs) if check is not None else None


def _build(comp: Component, options: dict[str, Any] | None, **kwargs: Any) -> "torch.nn.Module":
    import torch

    values = comp.smoke_options if options is None else options
    try:
        module = comp.build(values, **kwargs)
    except (OptionsInvalid, PluginError) as err:
        raise AssertionError(f"{comp.kind} {comp.name!r}: options {values!r} rejected: {err}") from None
    if not isinstance(module, torch.nn.Module):
        raise AssertionError(f"{comp.kind} {comp.name!r}: factory returned {type(module).__name__}, not a torch.nn.Module")
    return module


def _input_size(
    module: "torch.nn.Module", where: str, size: int | tuple[int, int] | None, minimum: int
) -> tuple[int, int]:
    from ..nn.traits import size_multiple

    try:
        multiple = size_multiple(module, where)
    except PluginError as err:
        raise AssertionError(str(err)) from None
    if size is None:
        side = multiple * -(-minimum // multiple)
        return side, side
    height, width = (size, size) if isinstance(size, int) else size
    if height % multiple or width % multiple:
        raise AssertionError(f"{where}: test size {height}x{width} is not a multiple of size_multiple={multiple}")
    return height, width


def _forward(module: "torch.nn.Module", x: "torch.Tensor", where: str) -> "torch.Tensor":
    import torch

    y = module(x)
    if not isinstance(y, torch.Tensor):
        raise AssertionError(f"{where}: forward returned {type(y).__name__}, not a tensor")
    if not torch.isfinite(y).all():
        raise AssertionError(f"{where}: output has NaN or infinite values")
    return y


def _backward(module: "torch.nn.Module", y: "torch.Tensor", where: str) -> None:
    import torch

    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if not params:
        raise AssertionError(f"{where}: has no trainable parameters")
    module.zero_grad(set_to_none=True)
    y.float().square().mean().backward()
    missing = [n for n, p in params if p.grad is None]
    if missing:
        raise AssertionError(f"{where}: parameters get no gradient (unused?): {', '.join(missing[:5])}")
    bad = [n for n, p in params if not torch.isfinite(p.grad).all()]
    if bad:
        raise AssertionError(f"{where}: non-finite gradients in {', '.join(bad[:5])}")
    module.zero_grad(set_to_none=True)
