"""Validating a recipe in two stages: the strict skeleton, then each component table against the
registry (the name is registered, its ``options`` pass the plugin's own model, ``[losses.<role>]``
names a role the method declares, ``[eval]`` names registered metrics). All problems are reported
together as ``dotted.key: message`` lines naming the recipe file.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import PluginError, RecipeError
from ..plugin.options import add_key_hints, error_lines
from ..plugin.registry import Component, OptionsInvalid, Registry, UnknownComponent
from .files import apply_overrides, read_recipe_file, resolved_dict
from .schema import COMPONENT_SECTIONS, SKELETON, ComponentSpec, EvalSpec, Recipe


def validate(data: dict[str, Any], registry: Registry, source: str = "<recipe>") -> Recipe:
    """Validate a recipe dict: skeleton, component names, then each component's options."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(source, add_key_hints(error_lines(err), known_keys(data, registry))) from None
    problems: list[str] = []
    for section, kind in COMPONENT_SECTIONS.items():
        spec = getattr(recipe, section)
        if spec is not None:
            problems += _check_component(registry, kind, spec, section)
    problems += loss_role_problems(registry, recipe)
    for role, spec in recipe.losses.items():
        problems += _check_component(registry, "loss", spec, f"losses.{role}")
    if recipe.eval is not None:
        problems += _check_eval(registry, recipe.eval)
    if problems:
        raise RecipeError(source, add_key_hints(problems, known_keys(data, registry)))
    return recipe


def known_keys(data: Any, registry: Registry) -> dict[str, list[str]]:
    """The keys each table of a recipe accepts, by dotted table path (``""`` is the top level).

    Component ``options`` tables are included when the component's name is registered, so a key
    given in the wrong table can be pointed to the table that has it.
    """
    tables = {path: list(model.model_fields) for path, model in SKELETON.items()}
    data = data if isinstance(data, dict) else {}
    losses = data.get("losses")
    components = [(section, kind, data.get(section)) for section, kind in COMPONENT_SECTIONS.items()]
    if isinstance(losses, dict):
        for role, table in losses.items():
            tables[f"losses.{role}"] = list(ComponentSpec.model_fields)
            components.append((f"losses.{role}", "loss", table))
    for path, kind, table in components:
        name = table.get("name") if isinstance(table, dict) else None
        if isinstance(name, str) and name in registry.names(kind):
            tables[f"{path}.options"] = list(registry.get(kind, name).options.model_fields)
    return tables


def declared_loss_roles(method: Component) -> tuple[str, ...] | None:
    """The loss roles a method accepts (``loss_roles`` on its options model), or None when it declares none."""
    roles = getattr(method.options, "loss_roles", None)
    if roles is None:
        return None
    if not isinstance(roles, (tuple, list)) or not all(isinstance(r, str) and r for r in roles):
        raise PluginError(f"method {method.name!r} (plugin {method.plugin.name!r}): loss_roles must be a tuple of "
                          f"role names, e.g. ('adversarial', 'reconstruction'), got {roles!r}")
    return tuple(roles)


def loss_role_problems(registry: Registry, recipe: Recipe) -> list[str]:
    """Stage 2 of ``[losses.<role>]``: each role must be one the method declares (when it declares them)."""
    if recipe.method.name not in registry.names("method"):
        return []
    roles = declared_loss_roles(registry.get("method", recipe.method.name))
    if roles is None:
        return []
    accepted = ", ".join(roles) if roles else "none"
    return [f"losses.{role}: method {recipe.method.name!r} uses no loss role {role!r}; it accepts {accepted}"
            + _close_hint(role, roles)
            for role in recipe.losses if role not in roles]


def _close_hint(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_component(registry: Registry, kind: str, spec: ComponentSpec, path: str) -> list[str]:
    try:
        comp = registry.get(kind, spec.name)
    except UnknownComponent as err:
        return [f"{path}.name: {err}"]
    try:
        spec.options = comp.parse_options(spec.options, f"{path}.options").model_dump(mode="json")
    except OptionsInvalid as err:
        return err.lines
    return []


def _check_eval(registry: Registry, spec: EvalSpec) -> list[str]:
    """Stage 2 of ``[eval]``: metric names, each metric's options, and ``best``."""
    problems: list[str] = []
    for name in spec.metrics:
        try:
            registry.get("metric", name)
        except UnknownComponent as err:
            problems.append(f"eval.metrics: {err}")
    for name, table in spec.options.items():
        if name not in spec.metrics:
            problems.append(f"eval.options.{name}: options for metric {name!r}, which eval.metrics does not list "
                            f"({', '.join(spec.metrics)})")
        elif name in registry.names("metric"):
            try:
                parsed = registry.get("metric", name).parse_options(table, f"eval.options.{name}")
                spec.options[name] = parsed.model_dump(mode="json")
            except OptionsInvalid as err:
                problems += err.lines
    if spec.best is not None:  # declared value names are checked exactly; others once a metric has run
        value = spec.best.split("/", 1)[-1]
        comps = [registry.get("metric", n) for n in spec.metrics if n in registry.names("metric")]
        undeclared = [c.name for c in comps if c.values is None]
        if not any(c.gives(value) for c in comps) and not any(
                value.startswith(name) or value.split("_")[0] == name.split("_")[0] for name in undeclared):
            names = [v for c in comps for v in (c.values or (c.name,))]
            problems.append(f"eval.best: {spec.best!r} is not a value of the listed metrics ({', '.join(names)}); "
                            "name one of them, e.g. 'psnr', or 'AtoB/psnr' when several generators are evaluated")
    return problems


def load_recipe(
    path: str | Path, overrides: list[str] | None = None, registry: Registry | None = None
) -> tuple[Recipe, dict[str, Any]]:
    """Read, override and validate a recipe file. Returns the recipe and the resolved dict."""
    if registry is None:
        from ..plugin.loading import get_registry

        registry = get_registry()
    path = Path(path)
    data = apply_overrides(read_recipe_file(path), overrides or [])
    source = str(path) + (" (with --set overrides)" if overrides else "")
    recipe = validate(data, registry, source)
    return recipe, resolved_dict(recipe)
