"""``translate data list`` and ``translate data download NAME [--root DIR]``, and their helpers."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.download.install import download
from ..data.source import DataSource
from ..errors import PluginError
from ..utils.disk import format_size

if TYPE_CHECKING:
    from ..plugin.registry import Component, Registry

SHIPPED_RECIPES = Path(__file__).resolve().parents[2] / "recipes"
"""The recipes folder of a source checkout (searched besides ``./recipes``)."""


def data_cli(args: argparse.Namespace, registry: Registry) -> int:
    """Run ``translate data list`` or ``translate data download`` with the command line's registry; returns the
    exit status."""
    if args.data_command == "list":
        return _list(registry)
    if args.data_command == "download":
        return _download(registry, args.name, Path(args.root))
    raise AssertionError(args.data_command)


def source_of(component: Component) -> DataSource:
    """Call a registered data-source factory and check that it returned a DataSource."""
    where = f"plugin {component.plugin.name!r} ({component.plugin.distribution})"
    try:
        source = component.build()
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not a traceback
        raise PluginError(f"{where}: data source {component.name!r} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(source, DataSource):
        raise PluginError(f"{where}: data source {component.name!r} returned {type(source).__name__}, not a DataSource")
    if source.name != component.name:
        raise PluginError(f"{where}: data source registered as {component.name!r} is named {source.name!r}")
    return source


def _list(registry: Registry) -> int:
    names = registry.names("data_source")
    if not names:
        print("no downloadable data sets installed")
        return 0
    width = max(len(n) for n in names)
    for name in names:
        comp = registry.get("data_source", name)
        try:
            source = source_of(comp)
        except PluginError as err:
            print(f"{name:<{width}}  {'':>10}  (broken: {err})")
            continue
        print(f"{name:<{width}}  {format_size(source.size):>10}  {comp.description or source.description}")
    return 0


def _download(registry: Registry, name: str, root: Path) -> int:
    source = source_of(registry.get("data_source", name))
    print(f"downloading {source.name} ({format_size(source.size)}) from {source.url}", file=sys.stderr)
    target = download(source, root, progress=True)
    splits = sorted(p.name for p in target.iterdir() if p.is_dir())
    print(f"{source.name}: extracted to {target}" + (f" (folders: {', '.join(splits)})" if splits else ""))
    recipes = find_recipes(source)
    if recipes:
        print("recipes that may use it:\n" + "\n".join(f"  {r}" for r in recipes))
    else:
        print(f"no recipe mentions {source.name!r}; point your recipe's data options at {target}")
    if source.citation:
        print(f"note: {source.citation}")
    return 0


def find_recipes(source: DataSource, folders: list[Path] | None = None) -> list[str]:
    """Recipes declared by the source, plus ``recipes/**/*.toml`` files that mention its name."""
    if folders is None:
        folders = [Path("recipes"), SHIPPED_RECIPES]
    found = list(source.recipes)
    word = re.compile(rf"(?<![\w-]){re.escape(source.name)}(?![\w-])")
    seen: set[Path] = set()
    for folder in folders:
        if not folder.is_dir() or folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        for path in sorted(folder.rglob("*.toml")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if word.search(text) and str(path) not in found:
                found.append(str(path))
    return found
