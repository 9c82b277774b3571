"""Every installed plugin's components with their options, marked with the distribution they come from.

``translate plugins --options`` prints them (text, or JSON with ``--json``) and ``translate docs recipes
--plugins`` adds a section for the third-party ones to the recipe reference (whose default page stays
built-in only, the same on every machine). The option rows are the reference's own
(:func:`~translate.apps.docs.schema_tables.field_rows`), so a plugin's descriptions, defaults and
limits read the same as a built-in component's.
"""

from __future__ import annotations

from typing import Any

from ...plugin.hookspecs import KINDS
from ...plugin.listing import describe
from ...plugin.loading import Plugins
from ...plugin.registry import Component, Registry
from ...utils.markdown import md_text
from .examples import KIND_TITLES
from .schema_tables import field_rows, fields_table, validation_rules

_OPTION_COLUMNS = ("name", "type", "default", "constraints", "description")


def _plain(cell: object) -> str:
    """A reference table cell as plain text (no code spans, bold or escapes)."""
    return str(cell).replace("`", "").replace("**", "").replace("\\*", "*").replace("&lt;", "<")


def option_rows(component: Component) -> list[dict[str, str]]:
    """The component's options (sorted by name) as plain-text rows: name, type, default, constraints, description."""
    return [dict(zip(_OPTION_COLUMNS, map(_plain, row))) for row in field_rows(component.options, sort=True)]


def plugins_with_options(plugins: Plugins) -> list[dict[str, Any]]:
    """:func:`translate.plugin.listing.describe`, each component with its description and option rows."""
    entries = describe(plugins)
    for entry in entries:
        detailed: dict[str, list[dict[str, Any]]] = {}
        for kind, names in entry["components"].items():
            detailed[kind] = []
            for name in names:
                comp = plugins.registry.get(kind, name)
                detailed[kind].append({"name": name, "description": comp.description, "options": option_rows(comp),
                                       "rules": validation_rules(comp.options)})
        entry["components"] = detailed
    return entries


def plugins_text(plugins: Plugins) -> str:
    """``translate plugins --options``: each plugin (distribution and version), its components, their options."""
    lines: list[str] = []
    for entry in plugins_with_options(plugins):
        tag = " (built-in)" if entry["builtin"] else ""
        lines.append(f"{entry['name']}: {entry['distribution']} {entry['version']}{tag}")
        for kind, comps in entry["components"].items():
            for comp in comps:
                lines.append(f"  {kind} {comp['name']}: {comp['description'] or '(no description)'}")
                for row in comp["options"]:
                    facts = ", ".join(x for x in (row["type"], f"default {row['default']}", row["constraints"]) if x)
                    lines.append(f"    {row['name']} ({facts}): {row['description'] or '(no description)'}")
                lines += [f"    rule: {rule}" for rule in comp["rules"]]
        lines += [f"  load error: {err}" for err in entry["errors"]]
    return "\n".join(lines) + "\n"


def third_party_markdown(registry: Registry) -> list[str]:
    """The recipe reference's section of installed third-party components (``translate docs recipes --plugins``)."""
    comps = [c for kind in KINDS if kind != "command" for c in registry.of_kind(kind).values() if not c.plugin.builtin]
    out = [
        "## Installed third-party components",
        "",
        "Components of the plugins installed here that are not part of translate (this section is added by",
        "`translate docs recipes --plugins`; it depends on the machine). Each names the distribution to install.",
        "",
    ]
    if not comps:
        return out + ["None installed.", ""]
    for kind in KINDS:
        of_kind = sorted((c for c in comps if c.kind == kind), key=lambda c: c.name)
        if not of_kind:
            continue
        title, where = KIND_TITLES.get(kind, (kind, f"`{kind}`"))
        out += [f"### {title} ({where})", ""]
        for comp in of_kind:
            p = comp.plugin
            out += [f"#### `{comp.name}`", "", md_text(comp.description or "(no description)"), ""]
            out += [f"Plugin `{p.name}` from the distribution `{p.distribution}` {md_text(p.version)}.", ""]
            out += fields_table(comp.options, "option", sort=True) + [""]
    return out


__all__ = ["option_rows", "plugins_text", "plugins_with_options", "third_party_markdown"]
