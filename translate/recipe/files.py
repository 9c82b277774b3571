"""Recipe files: reading TOML (following ``extends``), ``--set dotted.key=value`` overrides, and the
resolved recipe written back as TOML (tomli-w)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from ..errors import RecipeError

if TYPE_CHECKING:  # pragma: no cover
    from .schema import Recipe

def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``dotted.key=value``; the value is read as a TOML value, else as a plain string."""
    if "=" not in text:
        raise RecipeError("--set", [f"{text!r}: expected dotted.key=value"])
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise RecipeError("--set", [f"{text!r}: invalid key {key!r}"])
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``--set dotted.key=value`` overrides applied."""
    out = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise RecipeError("--set", [f"{'.'.join(parts)}: {where} is a value, not a table"])
            node = child
        node[parts[-1]] = value
    return out


def read_recipe_file(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a recipe file, following ``extends = "other.toml"`` (a path relative to the file).

    The file's tables are merged over the base recipe's, key by key. A component table
    (one with ``name``) that names a different component than the base replaces the
    base's ``options`` instead of merging into them.
    """
    path = Path(path)
    data = read_toml(path)
    base_ref = data.pop("extends", None)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str):
        raise RecipeError(str(path), [f"extends: expected a file path string (got {base_ref!r})"])
    base_path = (path.parent / base_ref).resolve()
    if base_path in _seen:
        raise RecipeError(str(path), [f"extends: {base_ref!r} extends itself (cycle)"])
    if not base_path.is_file():
        raise RecipeError(str(path), [f"extends: base recipe {base_path} not found"])
    return _merge(read_recipe_file(base_path, _seen + (path.resolve(),)), data)


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            if "name" in value and value["name"] != old.get("name"):
                old = {k: v for k, v in old.items() if k != "options"}
            out[key] = _merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; syntax errors name the file and line."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RecipeError(str(path), [_not_found(Path(path))]) from None
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(str(path), [f"not valid TOML: {err}"]) from None


def _not_found(path: Path, shown: int = 30) -> str:
    """"file not found", with the recipes of the folder it should be in (or ./recipes) and the closest name."""
    import difflib

    folder = path.parent if path.parent.is_dir() else Path("recipes")
    names = sorted(p.name for p in folder.glob("*.toml")) if folder.is_dir() else []
    if not names:
        return "file not found"
    stems = {Path(n).stem: n for n in names}
    close = [stems[c] for c in difflib.get_close_matches(path.stem, list(stems), n=1)]  # stems: ".toml" is shared
    more = f" (and {len(names) - shown} more)" if len(names) > shown else ""
    parts = ["file not found", *([f"did you mean {folder / close[0]}?"] if close else []),
             f"the recipes in {folder}/: {', '.join(names[:shown])}{more}"]
    return "; ".join(parts)


def resolved_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe with every default filled in (what is written to the run folder).

    Unset (None) values are left out at every depth, component options included, as
    TOML has no null: the dict then equals what ``to_toml`` writes and reads back.
    """
    return _drop_none(recipe.model_dump(mode="json", exclude_none=True))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def to_toml(data: dict[str, Any]) -> str:
    """Serialise a resolved recipe dict as TOML with ``tomli_w`` (None values are left out: TOML has no null)."""
    return tomli_w.dumps(_drop_none(data))
