"""Published numbers beside the model's own: the comparison, and whether the two measure the same thing.

A recipe's ``[[eval.published]]`` tables (:class:`translate.recipe.schema.PublishedResult`) name a value
(``fid``, ``AtoB/fid``), the number a paper published for it, its source and, in ``protocol``, what
it was measured with: keys of the metric's options or recorded protocol (``mode``), and of the
evaluation (``split``, ``num_images``, and on unpaired data ``generated_images`` and ``real_images``:
120 horses translated, 140 zebras). :func:`compare_published` puts each next to the evaluation's
value with the difference and says whether they are comparable: yes when every protocol key matches
what this evaluation recorded, no (with each difference spelled out) when one does not or was not
recorded here, unknown when the published entry states no protocol. Nothing here knows what a key
means; it compares what the metric recorded with what the paper states.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import TranslateError

_MISSING = object()


def recorded_protocol(key: str, protocol: dict[str, Any]) -> dict[str, Any]:
    """What the evaluation recorded for the value ``key``: its metric's options and protocol (flat, top level),
    the split and the number of images of its generator."""
    metric = (protocol.get("values_from") or {}).get(key)
    entry = (protocol.get("metrics") or {}).get(metric, {}) if metric else {}
    recorded: dict[str, Any] = {k: v for k, v in entry.items() if k != "options"}
    recorded.update(entry.get("options") or {})
    gens = protocol.get("generators") or {}
    prefix = key.split("/", 1)[0] if "/" in key else None
    mine = [g for name, g in gens.items()
            if isinstance(g, dict) and (prefix is None or prefix in (name, g.get("direction")))]
    for count in ("num_images", "generated_images", "real_images"):  # of this value's generator (the fewest)
        found = [g[count] for g in mine if isinstance(g.get(count), int)]
        if found:
            recorded[count] = min(found)
    if protocol.get("split") is not None:
        recorded["split"] = protocol["split"]
    return recorded


def compare_published(published: list[dict[str, Any]], values: dict[str, float],
                      protocol: dict[str, Any]) -> list[dict[str, Any]]:
    """Each published entry beside the evaluation's value: ``published``, ``value``, ``difference`` (value minus
    published), ``comparable`` (True, False or None when the entry states no protocol) and ``differs``."""
    out = []
    for entry in published:
        key = str(entry["metric"])
        ours = values.get(key)
        recorded = recorded_protocol(key, protocol)
        differs = [] if ours is not None else [f"{key} was not evaluated here"]
        for name, want in (entry.get("protocol") or {}).items():
            have = recorded.get(name, _MISSING)
            if have is _MISSING:
                differs.append(f"{name}: not recorded here (published: {want})")
            elif have != want:
                differs.append(f"{name}: {have} here, {want} published")
        stated = bool(entry.get("protocol"))
        difference = ours - float(entry["value"]) if ours is not None and math.isfinite(ours) else None
        out.append({
            "metric": key, "source": entry["source"], "published": float(entry["value"]),
            "value": ours if ours is None or math.isfinite(ours) else str(ours),
            "difference": difference, "comparable": (not differs) if stated or differs else None,
            "differs": differs, **({"note": entry["note"]} if entry.get("note") else {}),
        })
    return out


def check_published_images(published: list[dict[str, Any]], available: int, where: str) -> None:
    """Refuse a split smaller than a published number's test set (``images``): its value could not compare.

    Raises:
        TranslateError: names the published source, its image count and the split's.
    """
    for entry in published:
        needed = entry.get("images")
        if needed is not None and available < needed:
            raise TranslateError(
                f"{where}: {entry['source']} measured {entry['metric']} on {needed} test images, but the split to "
                f"evaluate holds {available}; use the whole test set the paper used (the number would not compare), "
                "or remove `images` from that [[eval.published]] entry")


def format_published(comparisons: list[dict[str, Any]]) -> str:
    """The comparisons as plain-text lines under the values table (empty when there are none)."""
    if not comparisons:
        return ""
    lines = ["published results:"]
    for c in comparisons:
        ours = "not evaluated" if c["value"] is None else (
            c["value"] if isinstance(c["value"], str) else f"{c['value']:.4g}")
        diff = f" ({c['difference']:+.4g})" if c["difference"] is not None else ""
        verdict = {True: "comparable", None: "protocol not stated: compare with care"}.get(
            c["comparable"], "NOT comparable: " + "; ".join(c["differs"]))
        lines.append(f"  {c['metric']}: {c['published']:.4g} in {c['source']}; this model {ours}{diff}; {verdict}")
    return "\n".join(lines)


__all__ = ["check_published_images", "compare_published", "format_published", "recorded_protocol"]
