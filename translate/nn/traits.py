"""What the core reads from a network a plugin built, declared once and checked in one place.

A generator or discriminator factory returns a ``torch.nn.Module``; beyond calling it, the core
reads only these optional attributes, each through the function here (never with a bare
``getattr``), so one rule and one error apply everywhere:

- ``size_multiple`` (:func:`size_multiple`): the generator's input height and width must be
  multiples of it (a U-Net with 8 downsamplings: 256); default 1. Everything that runs a generator
  pads to it or refuses sizes that are not multiples.
- ``scale_factor`` (:func:`scale_factor`): the output height and width are ``scale_factor`` times
  the input's (super-resolution: 2, 4, ...); default 1, an image-to-image translator that keeps the
  size. ``size_multiple`` is always about the *input*.
- ``rebuild_options(options)`` (:func:`rebuild_options`): a network whose build fetches weights
  from elsewhere (a pretrained encoder) returns the options that rebuild it from a model file,
  whose tensors replace every weight (``weights = "pretrained"`` becomes ``"stored"``); a network
  without it is rebuilt with the options it was built with.
- The authors'-checkpoint interface (:class:`AuthorsCheckpoint`): a network that can read the
  pytorch-CycleGAN-and-pix2pix authors' state dicts offers these methods, and ``translate convert``
  asks every registered network for them (:mod:`translate.models.convert.recognise`).

:func:`check_network` validates the first two when a component is built
(:meth:`translate.plugin.registry.Registry.create`), naming the plugin. Losses declare
``trainable`` (:func:`translate.components.losses.is_trainable`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..errors import PluginError

MAX_SCALE_FACTOR = 16
"""The largest scale factor a generator may declare (an output side 16 times its input's)."""

SIZE_MULTIPLE = "size_multiple"
SCALE_FACTOR = "scale_factor"
REBUILD_OPTIONS = "rebuild_options"


def _declared_int(module: Any, name: str, where: str, low: int, high: int | None, meaning: str) -> int:
    value = getattr(module, name, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        limit = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise PluginError(f"{where}: {name} must be an int {limit} ({meaning}), got {value!r}")
    return value


def size_multiple(module: Any, where: str = "generator") -> int:
    """``module.size_multiple`` (1 when absent), checked: an int of at least 1.

    Raises:
        PluginError: the attribute is not such an int (a bool, a float, zero, ...); the message names ``where``.
    """
    return _declared_int(module, SIZE_MULTIPLE, where, 1, None, "input height and width must be multiples of it")


def scale_factor(module: Any, where: str = "generator") -> int:
    """``module.scale_factor`` (1 when absent), checked: an int from 1 to :data:`MAX_SCALE_FACTOR`.

    Raises:
        PluginError: the attribute is not such an int (a bool, a float, zero, ...); the message names ``where``.
    """
    return _declared_int(module, SCALE_FACTOR, where, 1, MAX_SCALE_FACTOR,
                         "output height and width = scale_factor x input's")


def rebuild_options(module: Any, options: dict[str, Any], where: str = "generator") -> dict[str, Any]:
    """The options that rebuild ``module`` from a model file (its ``rebuild_options`` method, else ``options``).

    Raises:
        PluginError: ``rebuild_options`` does not return a dict.
    """
    method = getattr(module, REBUILD_OPTIONS, None)
    if method is None:
        return dict(options)
    rebuilt = method(dict(options))
    if not isinstance(rebuilt, dict):
        raise PluginError(f"{where}: {type(module).__name__}.rebuild_options() returned {type(rebuilt).__name__}, "
                          "expected a dict of options")
    return rebuilt


def scaled(size: tuple[int, int], factor: int) -> tuple[int, int]:
    """``(height, width)`` times ``factor``: the output size of a generator of that scale factor."""
    return size[0] * factor, size[1] * factor


def check_network(module: Any, where: str) -> None:
    """Check what a network declares (``size_multiple``, ``scale_factor``) once, when it is built."""
    size_multiple(module, where)
    scale_factor(module, where)


@runtime_checkable
class AuthorsCheckpoint(Protocol):
    """A network that reads the authors' (pytorch-CycleGAN-and-pix2pix) state dicts.

    ``infer_options_from_authors_state_dict(state)`` returns the options of the registered component
    that rebuild the network of ``state`` and raises (preferably :class:`translate.ModelFileError`)
    when ``state`` is not of its kind; ``from_authors_state_dict(state)`` returns ``state`` under the
    network's own tensor names. Optionally ``channels_from_authors_state_dict(state)`` returns
    ``{"in_channels": ..., "out_channels": ...}`` (default 3 and 3), and
    ``to_authors_state_dict(state)`` maps back (for parity checks).
    """

    def infer_options_from_authors_state_dict(self, state: dict[str, Any]) -> dict[str, Any]: ...

    def from_authors_state_dict(self, state: dict[str, Any]) -> dict[str, Any]: ...


__all__ = ["MAX_SCALE_FACTOR", "AuthorsCheckpoint", "check_network", "rebuild_options", "scale_factor", "scaled",
           "size_multiple"]
