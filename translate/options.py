"""Base class for component options, and turning pydantic errors into dotted-path lines."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError


class Options(BaseModel):
    """Base for every component's options: unknown keys and wrong types are errors (no coercion).

    Use lists rather than tuples for sequence options: options round-trip through JSON
    (model files) and TOML (recipes).
    """

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    #: Rules that the model's validators enforce beyond per-field limits, in plain words, for the
    #: generated recipe reference (``translate docs recipes``); base classes' rules apply too.
    validation_rules: ClassVar[tuple[str, ...]] = ()


class NoOptions(Options):
    """Options model of a component that takes none."""


def error_lines(err: ValidationError, prefix: str = "") -> list[str]:
    """Format a pydantic ValidationError as ``dotted.path: message (got value)`` lines."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "__root__")
        path = ".".join(p for p in (prefix, loc) if p)
        msg = e.get("msg", "invalid value").removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = "unknown key"
        elif e.get("type") == "missing":
            msg = "required key is missing"
        got = ""
        if "input" in e and e.get("type") not in ("missing", "extra_forbidden"):
            got = f" (got {_short(e['input'])})"
        lines.append(f"{path or '<root>'}: {msg}{got}")
    return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
