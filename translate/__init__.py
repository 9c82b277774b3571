"""translate: plugin-based image-to-image translation (pix2pix, CycleGAN) on Accelerate.

For users: :func:`load` (a trained model as an image-to-image callable), :func:`get_registry`
(the installed components) and ``__version__``. For plugin authors: every name of
:mod:`translate.api`, re-exported here (``translate.hookimpl``, ``translate.Options``, ...).
Heavy modules (torch) are imported on first use.
"""

from __future__ import annotations

from typing import Any

from . import api
from .errors import TrainingDiverged
from .version import __version__

# The plugin API's names that are already loaded; the others come through __getattr__ below.
globals().update({name: value for name, value in vars(api).items() if name in api.__all__})

__all__ = ["__version__", "load", "get_registry", "TrainingDiverged", *api.__all__]


def __getattr__(name: str) -> Any:
    """``load`` and ``get_registry`` and the lazily loaded names of :mod:`translate.api`."""
    if name == "load":
        from .inference.pipeline import load

        return load
    if name == "get_registry":
        from .plugin.loading import get_registry

        return get_registry
    return getattr(api, name)
