"""The generator scale factor (contract 1 of issue 12): generators that change resolution.

A generator module may carry an int attribute ``scale_factor``: its output height and width are
``scale_factor`` times its input's (a super-resolution network: 2, 4, ...). Without one it is 1,
an image-to-image translator that keeps the size. ``size_multiple`` is always about the
generator's *input*. Everything that runs a generator (the engine's size checks, sample grids,
evaluation, inference and tiling, model files, ONNX export) reads the value through
:func:`scale_factor`, so one rule applies everywhere.
"""

from __future__ import annotations

from typing import Any

from ..errors import PluginError

MAX_SCALE_FACTOR = 16
"""The largest scale factor a generator may declare (an output side 16 times its input's)."""


def scale_factor(module: Any, where: str = "generator") -> int:
    """``module.scale_factor`` (1 when absent), checked: an int from 1 to :data:`MAX_SCALE_FACTOR`.

    Raises:
        PluginError: the attribute is not such an int (a bool, a float, zero, ...); the message names ``where``.
    """
    value = getattr(module, "scale_factor", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SCALE_FACTOR:
        raise PluginError(f"{where}: scale_factor must be an int from 1 to {MAX_SCALE_FACTOR} "
                          f"(output height and width = scale_factor x input's), got {value!r}")
    return value


def scaled(size: tuple[int, int], factor: int) -> tuple[int, int]:
    """``(height, width)`` times ``factor``: the output size of a generator of that scale factor."""
    return size[0] * factor, size[1] * factor


__all__ = ["MAX_SCALE_FACTOR", "scale_factor", "scaled"]
