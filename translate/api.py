"""The public API for plugins: everything a translate plugin may import, in one place.

Built-in plugins import only from here (``from translate.api import ...``, or the same names
from ``translate``), and a test checks it on the import graph; a third-party plugin that does
the same relies on nothing that may change without notice.

- **Hooks**: :data:`hookimpl`, :data:`Register` (the hooks are in :mod:`translate.plugin.hookspecs`), and
  :func:`lazy_factory` (a factory whose builder is imported on first use).
- **Options**: :class:`Options` (strict pydantic base with ``validation_rules``), :class:`NoOptions`.
- **Errors**: :class:`TranslateError`, :class:`RecipeError`, :class:`PluginError`,
  :class:`DataError`, :class:`ModelFileError`.
- **Methods**: :class:`Method`, :class:`ExportSpec`, :class:`StepContext`, :class:`BuildContext`,
  :func:`set_requires_grad`, :func:`unwrap`; :class:`AdversarialLoss` and :data:`Discriminator`
  for GAN objectives.
- **Data sets**: the item contract (:func:`resolve_key`, :func:`split_key`, :data:`SampleKey`,
  :class:`DataInfo`, :func:`file_formats`); options bases (:class:`AugmentOptions`,
  :class:`FixedSizeOptions`, :class:`GeneratedOptions`, :data:`Channels`, :data:`PreprocessMode`); paired augmentation
  (:class:`PairedAugment`); images (:func:`read_image`, :func:`list_images`, :func:`split_pair`,
  :func:`convert_channels`, :func:`to_tensor`, :func:`to_uint8`, :data:`IMAGE_EXTENSIONS`);
  generated sets (:func:`ensure_generated`, :data:`SHAPE_KINDS`, :class:`Shape`,
  :func:`shape_mask`, :func:`place_shapes`, :func:`paint_shape`).
- **Data sources**: :class:`DataSource`, :func:`register_archives`.
- **Networks**: :func:`init_weights`, :func:`norm_layer`, :func:`conv_bias`, :func:`is_channels_last`.
- **What the core reads from your objects** (declared, checked when built): a network's
  ``size_multiple`` and ``scale_factor`` (:func:`size_multiple`, :func:`scale_factor`), the options
  that rebuild it from a model file (:func:`rebuild_options`), the
  authors'-checkpoint interface (:class:`AuthorsCheckpoint`), a loss's ``trainable``
  (:func:`is_trainable`); see :mod:`translate.nn.traits`.
- **Generator features** (for methods that need a generator's intermediate activations, such as
  CUT's PatchNCE): :class:`FeatureEncoder`, :func:`feature_encoder`, :func:`check_feature_layers`
  (:mod:`translate.nn.features`).
- **Metrics**: :class:`Metric`, :class:`EvalBatch`, :class:`MetricContext`, and :class:`ReferenceStatistics`
  for metrics compared with saved statistics of real images (:mod:`translate.components.metric`).
- **Pretrained weights**: :func:`resolve_weights` (a local file, the usual folders or the Hub cache;
  never a silent download), :func:`load_weights`, :func:`file_sha256`, :class:`WeightsMissing`
  (:mod:`translate.models.weights`); :func:`hub_unreachable` (one quick connection instead of
  huggingface_hub's minute of retries; :mod:`translate.models.reachability`).

Names that need torch, NumPy or Pillow load on first use, so importing this module (and
``translate --help``) stays fast.
"""

from __future__ import annotations

from typing import Any

from .components.build import BuildContext
from .components.method import ExportSpec, Method, StepContext, set_requires_grad, unwrap
from .components.metric import EvalBatch, Metric, MetricContext, ReferenceStatistics
from .data.contract import DataInfo, SampleKey, file_formats, resolve_key, split_key
from .data.options import AugmentOptions, Channels, FixedSizeOptions, GeneratedOptions
from .data.preprocess import PreprocessMode
from .data.source import DataSource, register_archives
from .errors import DataError, ModelFileError, PluginError, RecipeError, TranslateError
from .nn.features import FeatureEncoder, check_feature_layers, feature_encoder
from .nn.traits import AuthorsCheckpoint, rebuild_options, scale_factor, size_multiple
from .plugin.factories import lazy_factory
from .plugin.hookspecs import Register, hookimpl
from .plugin.options import NoOptions, Options

_LAZY: dict[str, tuple[str, ...]] = {
    "losses": ("AdversarialLoss", "Discriminator", "is_trainable"),
    "nn": ("init_weights", "norm_layer", "conv_bias", "is_channels_last"),
    "augment": ("PairedAugment",),
    "imageio": ("IMAGE_EXTENSIONS", "convert_channels", "list_images", "read_image", "split_pair", "to_tensor",
                "to_uint8"),
    "generated": ("ensure_generated",),
    "shapes": ("SHAPE_KINDS", "Shape", "paint_shape", "place_shapes", "shape_mask"),
    "weights": ("WeightsMissing", "resolve_weights", "load_weights", "file_sha256"),
    "reachability": ("hub_unreachable",),
}

__all__ = [
    "hookimpl", "Register", "Options", "NoOptions", "lazy_factory",
    "TranslateError", "RecipeError", "PluginError", "DataError", "ModelFileError",
    "Method", "ExportSpec", "StepContext", "BuildContext", "set_requires_grad", "unwrap",
    "DataInfo", "SampleKey", "file_formats", "resolve_key", "split_key",
    "AugmentOptions", "FixedSizeOptions", "GeneratedOptions", "Channels", "PreprocessMode",
    "DataSource", "register_archives",
    "Metric", "EvalBatch", "MetricContext", "ReferenceStatistics",
    "AuthorsCheckpoint", "size_multiple", "scale_factor", "rebuild_options",
    "FeatureEncoder", "feature_encoder", "check_feature_layers",
    *(name for names in _LAZY.values() for name in names),
]


def __getattr__(name: str) -> Any:
    """Load the names that need torch, NumPy or Pillow on first use."""
    if name in _LAZY["losses"]:
        from .components import losses as module
    elif name in _LAZY["nn"]:
        from .nn import layers as module
    elif name in _LAZY["augment"]:
        from .data import augment as module
    elif name in _LAZY["imageio"]:
        from .data import imageio as module
    elif name in _LAZY["generated"]:
        from .data import generated as module
    elif name in _LAZY["shapes"]:
        from .data import shapes as module
    elif name in _LAZY["weights"]:
        from .models import weights as module
    elif name in _LAZY["reachability"]:
        from .models import reachability as module
    else:
        raise AttributeError(f"module 'translate.api' has no attribute {name!r}")
    return getattr(module, name)
