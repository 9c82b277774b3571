"""The built-in plugins alone, and ``translate check`` run against them, for the generated pages.

Third-party plugins installed in the environment are left out, so a generated page is
the same on every machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ...plugin.hookspecs import KINDS
from ...plugin.loading import Plugins, builtin_entry_points, load_plugins
from ...plugin.registry import Component, Registry
from ...recipe.check import check_recipe


def builtin_plugins() -> Plugins:
    """The built-in plugins alone (translate's own distribution), loaded strictly."""
    return load_plugins(strict=True, entry_points=builtin_entry_points())


def builtin_registry() -> Registry:
    """A registry holding only the built-in components."""
    return builtin_plugins().registry


def builtin_components(registry: Registry | None = None) -> list[Component]:
    """Every built-in component, by kind (in hook order) then name."""
    registry = registry if registry is not None else builtin_registry()
    out = []
    for kind in KINDS:
        for name in registry.names(kind):
            comp = registry.get(kind, name)
            if comp.plugin.builtin:
                out.append(comp)
    return out


def run_check(recipe_text: str, overrides: list[str] | None = None, name: str = "bad.toml",
              registry: Registry | None = None) -> tuple[int, str]:
    """What ``translate check NAME`` prints for ``recipe_text`` with only the built-in plugins loaded.

    Returns the exit status and the printed text (one line and its newline), with the
    temporary folder removed from paths so that the text is the same on every machine.
    ``registry``: default :func:`builtin_registry`.
    """
    registry = registry if registry is not None else builtin_registry()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(recipe_text)
        status, line = check_recipe(str(path), overrides or [], registry)
    return status, (line + "\n").replace(str(path), name)
