"""``translate plugins [--json]``: what each loaded plugin registers, and what failed to load."""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from .loading import Plugins
from .registry import PluginInfo


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def describe(plugins: Plugins) -> list[dict[str, Any]]:
    """One JSON-friendly entry per plugin (failed ones too): distribution, version, components, errors."""
    failed = {e.plugin: PluginInfo(e.plugin, e.distribution, _version(e.distribution), e.builtin)
              for e in plugins.errors if e.plugin not in plugins.infos}
    out = []
    for name, info in {**plugins.infos, **failed}.items():
        comps: dict[str, list[str]] = {}
        for comp in plugins.registry:
            if comp.plugin.name == name:
                comps.setdefault(comp.kind, []).append(comp.name)
        out.append({"name": name, "distribution": info.distribution, "version": info.version,
                    "builtin": info.builtin, "components": {k: sorted(v) for k, v in sorted(comps.items())},
                    "errors": [e.error for e in plugins.errors if e.plugin == name]})
    return sorted(out, key=lambda e: (not e["builtin"], e["name"]))


def print_plugins(plugins: Plugins, as_json: bool) -> None:
    """Print :func:`describe` as JSON, or as an indented text listing."""
    entries = describe(plugins)
    if as_json:
        print(json.dumps(entries, indent=2))
        return
    for e in entries:
        tag = " (built-in)" if e["builtin"] else ""
        print(f"{e['name']}: {e['distribution']} {e['version']}{tag}")
        for kind, names in e["components"].items():
            print(f"  {kind}: {', '.join(names)}")
        for err in e["errors"]:
            print(f"  load error: {err}")
