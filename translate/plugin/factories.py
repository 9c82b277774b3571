"""Factories that import their builder on first use, so that loading a plugin stays cheap.

A plugin module is imported by ``translate --help`` and ``translate plugins``; its networks,
methods and data sets usually need torch. :func:`lazy_factory` names the builder by module and
attribute and imports it only when the component is built::

    register("unet_256", lazy_factory(f"{__name__}.unet", "build_unet", num_downs=8), options=UNetOptions)
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_factory(module: str, attr: str, /, **fixed: Any) -> Callable[..., Any]:
    """A factory calling ``module.attr(*args, **kwargs, **fixed)``, with ``module`` imported on the first call.

    ``fixed`` holds keyword arguments that every build of this component gets (for example the
    depth of a named variant); the registry's own arguments (options, channels, split, ctx) pass
    through unchanged.
    """

    def factory(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attr)(*args, **kwargs, **fixed)

    settings = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
    factory.__name__ = factory.__qualname__ = attr
    factory.__doc__ = f"Builds with {module}.{attr}({settings}), imported on first use."
    return factory
