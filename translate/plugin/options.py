"""Base class for component options, and turning pydantic errors into dotted-path lines."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
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

    #: Values of options that were added after model files were first written: a model file whose
    #: recorded options lack such a key was built with this value (which may differ from the
    #: field's default, the value for new recipes). Used only when rebuilding from a model file.
    recorded_defaults: ClassVar[dict[str, Any]] = {}

    #: Methods only: the loss roles the method asks ``BuildContext.loss`` for (``[losses.<role>]``
    #: tables for any other role fail ``translate check``); None accepts any role.
    loss_roles: ClassVar[tuple[str, ...] | None] = None


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
            msg = UNKNOWN_KEY
        elif e.get("type") == "missing":
            msg = "required key is missing"
        got = ""
        if "input" in e and e.get("type") not in ("missing", "extra_forbidden"):
            got = f" (got {_short(e['input'])})"
        lines.append(f"{path or '<root>'}: {msg}{got}")
    return lines


UNKNOWN_KEY = "unknown key"


def add_key_hints(lines: list[str], tables: Mapping[str, Collection[str]]) -> list[str]:
    """Append a "did you mean" to each ``dotted.key: unknown key`` line, from the known keys of each table.

    ``tables`` maps a table's dotted path (``""`` for the top level) to the keys it accepts. Tried in
    turn: a near-certain typo of a key of the same table; the same key in another table, named by
    its full dotted path (``train.lr: unknown key; did you mean method.options.lr?``); a looser
    match in the same table; a close key of another table.
    """
    return [_with_hint(line, tables) for line in lines]


def _with_hint(line: str, tables: Mapping[str, Collection[str]]) -> str:
    path, sep, msg = line.partition(": ")
    if not sep or msg != UNKNOWN_KEY:
        return line
    table, _, key = path.rpartition(".")

    def full(where: str, name: str) -> str:
        return f"{where}.{name}" if where else name

    others = {full(t, k): k for t, keys in tables.items() if t != table for k in keys}
    own = tables.get(table, ())
    hints = [full(table, k) for k in _closest(key, own, cutoff=0.85)]  # a typo
    hints = hints or sorted(p for p, k in others.items() if k == key)[:3]  # the right key in the wrong table
    hints = hints or [full(table, k) for k in _closest(key, own, cutoff=0.6)]
    if not hints:
        close = set(_closest(key, set(others.values()), cutoff=0.75))
        hints = sorted(p for p, k in others.items() if k in close)[:3]
    return f"{line}; did you mean {' or '.join(hints)}?" if hints else line


def _closest(key: str, candidates: Collection[str], cutoff: float) -> list[str]:
    """The candidates most like ``key`` (similarity at least ``cutoff`` and near the best one), best first."""
    scored = sorted(((difflib.SequenceMatcher(None, key, c).ratio(), c) for c in candidates), reverse=True)
    best = scored[0][0] if scored else 0.0
    return [c for r, c in scored if r >= max(cutoff, best - 0.1)][:3]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
