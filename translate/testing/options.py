"""``check_options_strict`` and ``option_errors``: a component's options model as recipes and model files use it
(part of :mod:`translate.testing`)."""

from __future__ import annotations

import json
from typing import Any

from ..plugin.registry import Component, OptionsInvalid

_UNKNOWN_KEY = "__translate_testing_unknown_key__"


def check_options_strict(component: Component) -> None:
    """Check a component's options model: strict, its smoke options valid, JSON round trip exact.

    - an unknown key is rejected (the model forbids extra keys);
    - ``smoke_options`` validate, and so do the defaults when no option is required;
    - validated options survive ``model_dump(mode="json")`` -> JSON -> validation unchanged
      (recipes and model files store options that way; prefer lists to tuples).
    """
    where = f"{component.kind} {component.name!r}"
    if component.options.model_config.get("extra") != "forbid":
        raise AssertionError(f"{where}: the options model must forbid unknown keys (subclass translate.Options)")
    try:
        component.parse_options({_UNKNOWN_KEY: 1}, "options")
    except OptionsInvalid as err:
        if not any(_UNKNOWN_KEY in line for line in err.lines):
            raise AssertionError(f"{where}: an unknown key was rejected without naming it: {err.lines}") from None
    else:
        raise AssertionError(f"{where}: an unknown options key was accepted")

    samples = {"smoke_options": component.smoke_options}
    if all(not f.is_required() for f in component.options.model_fields.values()):
        samples["defaults"] = {}
    for label, values in samples.items():
        try:
            parsed = component.parse_options(values, "options")
        except OptionsInvalid as err:
            raise AssertionError(f"{where}: {label} {values!r} do not validate: {err.lines}") from None
        dumped = json.loads(json.dumps(parsed.model_dump(mode="json")))
        try:
            again = component.parse_options(dumped, "options")
        except OptionsInvalid as err:
            raise AssertionError(
                f"{where}: {label} do not survive a JSON round trip ({dumped!r}): {err.lines}"
            ) from None
        if again != parsed:
            raise AssertionError(f"{where}: {label} change in a JSON round trip: {parsed!r} -> {again!r}")


def option_errors(component: Component, values: dict[str, Any], path: str = "options") -> list[str]:
    """The error lines ``values`` get from the component's options model (``path.key: message``), [] when valid.

    What ``translate check`` prints under the recipe's table: ``option_errors(comp, {"ngf": 64},
    "generator.options")`` gives ``["generator.options.ngf: unknown key"]``.
    """
    try:
        component.parse_options(values, path)
    except OptionsInvalid as err:
        return list(err.lines)
    return []


__all__ = ["check_options_strict", "option_errors"]
