"""Reference tables of pydantic models: one row per field (key, TOML type, default, limits, description).

Used for the recipe skeleton (:mod:`translate.recipe`) and for every component's options
model. A model's ``validation_rules`` (a class variable, on :class:`translate.Options` and
the recipe sections) are the rules its validators enforce beyond per-field limits.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import tomli_w
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ...utils.markdown import md_table, md_text

_TYPE_NAMES = {int: "integer", float: "float", bool: "boolean", str: "string", Any: "any"}


def toml_text(value: Any) -> str:
    """One value as TOML on one line (arrays and inline tables too); None is ``not set``, a non-TOML value its repr."""
    if value is None:
        return "not set"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + "}"
    try:
        return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")
    except TypeError:
        return repr(value)


def toml_type(value: Any) -> str:
    """The TOML type name of a parsed value (``"integer"``, ``"array"``, ...)."""
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
                       (list, "array"), (dict, "table")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def type_info(annotation: Any) -> tuple[str, list[Any] | None]:
    """(TOML type name, Literal choices or None) of a field annotation; ``X | None`` is ``X``."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        infos = [type_info(a) for a in args]
        if len(infos) == 1:
            return infos[0]
        return " or ".join(t for t, _ in infos), None
    if origin is Literal:
        choices = list(get_args(annotation))
        kinds = sorted({_TYPE_NAMES.get(type(c), type(c).__name__) for c in choices})
        return " or ".join(kinds), choices
    if origin is dict:
        _, value = get_args(annotation) or (str, Any)
        if isinstance(value, type) and issubclass(value, BaseModel):
            return "table of tables", None
        return "table", None
    if origin in (list, tuple):
        return "array", None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table", None
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation))), None


def _constraints(field: FieldInfo, choices: list[Any] | None) -> str:
    parts = []
    if choices is not None:
        parts.append("one of " + ", ".join(f"`{toml_text(c)}`" for c in choices))
    for meta in field.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("multiple_of", "multiple of")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{symbol} {toml_text(value)}")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(all defaults)"
    if value is None:
        return "not set"
    return f"`{toml_text(value)}`"


def field_rows(model: type[BaseModel], sort: bool = False) -> list[list[object]]:
    """(key, type, default, constraints, description) for each field of ``model``."""
    names = sorted(model.model_fields) if sort else list(model.model_fields)
    rows: list[list[object]] = []
    for name in names:
        field = model.model_fields[name]
        type_name, choices = type_info(field.annotation)
        rows.append([f"`{name}`", type_name, _default(field), _constraints(field, choices), md_text(field.description or "")])
    return rows


def validation_rules(model: type) -> list[str]:
    """The ``validation_rules`` declared by ``model`` and its base classes (base classes first, each once)."""
    rules: list[str] = []
    for cls in reversed(model.__mro__):
        for rule in vars(cls).get("validation_rules", ()):
            if rule not in rules:
                rules.append(rule)
    return rules


def fields_table(model: type[BaseModel], key_header: str, *, sort: bool = False) -> list[str]:
    """The field table of ``model`` (or ``No options.``), followed by its rules when it has any."""
    rows = field_rows(model, sort=sort)
    lines = md_table([key_header, "type", "default", "constraints", "description"], rows) if rows else ["No options."]
    rules = validation_rules(model)
    if rules:
        lines += ["", "Rules: " + " ".join(rules)]
    return lines
