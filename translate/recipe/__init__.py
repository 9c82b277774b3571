"""Recipes: TOML files that describe a run, validated strictly before anything is built.

- :mod:`~translate.recipe.schema`: the strict skeleton (sections, keys, limits);
- :mod:`~translate.recipe.files`: reading files (``extends``), ``--set`` overrides, the resolved TOML;
- :mod:`~translate.recipe.validation`: the registry stage (component names, their options, loss
  roles, metrics) and :func:`load_recipe`, which does all of it;
- :mod:`~translate.recipe.check`: ``translate check``.

May import :mod:`translate.plugin` and :mod:`translate.errors`.
"""

from __future__ import annotations

from .files import apply_overrides, parse_override, read_recipe_file, read_toml, resolved_dict, to_toml
from .schema import (
    COMPONENT_SECTIONS,
    MAX_BATCH_SIZE,
    MAX_SEED,
    MAX_WORKERS,
    ComponentSpec,
    DataSpec,
    EvalSpec,
    OutputSpec,
    PublishedResult,
    Recipe,
    TrainSpec,
)
from .validation import declared_loss_roles, known_keys, load_recipe, loss_role_problems, validate

__all__ = [
    "COMPONENT_SECTIONS", "MAX_BATCH_SIZE", "MAX_SEED", "MAX_WORKERS", "ComponentSpec", "DataSpec", "EvalSpec",
    "OutputSpec", "PublishedResult", "Recipe", "TrainSpec", "apply_overrides", "declared_loss_roles", "known_keys", "load_recipe",
    "loss_role_problems", "parse_override", "read_recipe_file", "read_toml", "resolved_dict", "to_toml", "validate",
]
