"""translate: plugin-based image-to-image translation (pix2pix, CycleGAN) on Accelerate.

Public API for users and plugin authors. Heavy modules (torch) are imported lazily.
"""

from __future__ import annotations

from typing import Any

from .errors import DataError, ModelFileError, PluginError, RecipeError, TranslateError, TrainingDiverged
from .hookspecs import hookimpl
from .method import ExportSpec, Method, StepContext, set_requires_grad, unwrap
from .options import NoOptions, Options
from .version import __version__


__all__ = [
    "__version__",
    "hookimpl",
    "Options",
    "NoOptions",
    "Method",
    "ExportSpec",
    "StepContext",
    "set_requires_grad",
    "unwrap",
    "BuildContext",
    "AdversarialLoss",
    "TranslateError",
    "RecipeError",
    "PluginError",
    "DataError",
    "ModelFileError",
    "TrainingDiverged",
    "get_registry",
    "load",
]


def __getattr__(name: str) -> Any:
    if name == "BuildContext":
        from .build import BuildContext

        return BuildContext
    if name == "AdversarialLoss":
        from .losses import AdversarialLoss

        return AdversarialLoss
    if name == "get_registry":
        from .plugins import get_registry

        return get_registry
    if name == "load":
        from .pipeline import load

        return load
    raise AttributeError(f"module 'translate' has no attribute {name!r}")
