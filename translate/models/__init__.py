"""Model files and model folders: generator weights in safetensors plus what is needed to rebuild them.

A model file (``RUN/model.safetensors``) holds the weights of every exported generator
under ``<export name>.<state_dict key>`` and, in the safetensors header metadata (string
values only):

- ``"format"``: ``"pt"`` (what other safetensors tools expect);
- ``"translate.format_version"``: ``"1"`` (checked before anything else is read);
- ``"translate"``: JSON described by :class:`ModelMeta` (component names and options,
  plugin distribution and version, channels, normalisation, direction, test-time mode,
  preprocessing, a recipe summary and, in exported folders, a training summary).

A model folder (written by ``translate export`` or ``Pipeline.save_pretrained``, see
:mod:`translate.models.export`) adds ``config.json``: ``{"format_version": "1", ...}`` followed by the
same fields, validated by the same strict :class:`ModelMeta` schema, and ``README.md``. When a
folder holds a ``config.json`` it must agree with the metadata inside ``model.safetensors``.

The parts:

- :mod:`~translate.models.schema`: the file names and the strict metadata schema;
- :mod:`~translate.models.writer`: :func:`build_meta`, :func:`save_model`, :func:`config_json`;
- :mod:`~translate.models.header`: the header and ``config.json``, read by hand and validated;
- :mod:`~translate.models.reader`: :func:`load_model`, rebuilding each generator through the
  plugin registry by its registered name (never by a module path) and checking its weights.

Every problem raises :class:`~translate.errors.ModelFileError` naming the file and the offending field.
"""

from __future__ import annotations

from .header import (
    check_config,
    read_config,
    read_header,
    read_metadata,
    read_tensors,
    resolve_model_path,
)
from .reader import GeneratorInfo, LoadedModel, load_model
from .schema import (
    CONFIG_FILENAME,
    FORMAT_VERSION,
    MODEL_FILENAME,
    README_FILENAME,
    GeneratorMeta,
    ModelMeta,
    Normalization,
    PluginMeta,
    Preprocessing,
    RecipeSummary,
    TrainingSummary,
)
from .writer import build_meta, config_json, header_metadata, save_model, state_tensors, write_model_file

__all__ = [
    # schema
    "CONFIG_FILENAME", "FORMAT_VERSION", "MODEL_FILENAME", "README_FILENAME", "GeneratorMeta", "ModelMeta",
    "Normalization", "PluginMeta", "Preprocessing", "RecipeSummary", "TrainingSummary",
    # header
    "check_config", "read_config", "read_header", "read_metadata", "read_tensors", "resolve_model_path",
    # reader
    "GeneratorInfo", "LoadedModel", "load_model",
    # writer
    "build_meta", "config_json", "header_metadata", "save_model", "state_tensors", "write_model_file",
]
