"""Model files: generator weights in safetensors plus the metadata needed to rebuild them.

A model file (``RUN/model.safetensors``) holds the weights of every exported generator
under ``<export name>.<state_dict key>`` and, in the safetensors header metadata (string
values only):

- ``"format"``: ``"pt"`` (what other safetensors tools expect);
- ``"translate.format_version"``: ``"1"`` (checked before anything else is read);
- ``"translate"``: JSON described by :class:`ModelMeta` (component names and options,
  plugin distribution and version, channels, normalisation, direction, test-time mode).

Loading never unpickles and never imports code named in the file: the header is read
and size-checked by hand, validated with a strict pydantic schema, and each generator is
rebuilt through the plugin registry by its registered name, then filled with
``load_state_dict(strict=True)``. Every problem raises :class:`~translate.errors.ModelFileError`
naming the file and the offending field.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ModelFileError
from .options import error_lines

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .method import ExportSpec
    from .registry import Registry

FORMAT_VERSION = "1"
"""The metadata schema version this translate writes and reads."""

MODEL_FILENAME = "model.safetensors"
MAX_HEADER_BYTES = 100 * 1024 * 1024
"""A header (JSON) larger than this is refused before it is read."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
_TEXT = r"^[^\x00-\x1f\x7f]*$"  # printable: no control characters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PluginMeta(_Strict):
    """Where the generator's component came from."""

    name: str = Field(max_length=200, pattern=_TEXT)
    distribution: str = Field(min_length=1, max_length=200, pattern=_TEXT)
    version: str = Field(max_length=100, pattern=_TEXT)


class Normalization(_Strict):
    """Pixels ``x`` in [0, 1] are fed to the network as ``(x - mean) / std``."""

    mean: float = 0.5
    std: float = Field(0.5, gt=0)


class GeneratorMeta(_Strict):
    """One exported generator: how to rebuild it and how to feed it."""

    component: str = Field(max_length=100, pattern=_NAME, description="registered generator name")
    options: dict[str, Any] = Field(default_factory=dict, description="the component's validated options")
    plugin: PluginMeta
    in_channels: int = Field(ge=1, le=64)
    out_channels: int = Field(ge=1, le=64)
    value_range: tuple[float, float] = (-1.0, 1.0)
    normalization: Normalization = Field(default_factory=Normalization)
    direction: str = Field("AtoB", max_length=100, pattern=_TEXT)
    input_domain: str = Field("A", max_length=100, pattern=_TEXT)
    output_domain: str = Field("B", max_length=100, pattern=_TEXT)
    test_mode: Literal["eval", "train"] = "eval"
    size_multiple: int = Field(1, ge=1, le=65536)

    @model_validator(mode="after")
    def _check(self) -> "GeneratorMeta":
        if not self.value_range[0] < self.value_range[1]:
            raise ValueError(f"value_range {list(self.value_range)} must be increasing")
        return self


class RecipeSummary(_Strict):
    """A short account of the training run (the full recipe lives in the run folder)."""

    method: str | None = None
    data: str | None = None
    seed: int | None = None
    epochs: int | None = None
    steps: int | None = None


class ModelMeta(_Strict):
    """The ``translate`` metadata entry of a model file (format version 1)."""

    translate_version: str = Field(max_length=100, pattern=_TEXT)
    method: str = Field(max_length=100, pattern=_TEXT)
    default: str = Field(pattern=_NAME)
    generators: dict[str, GeneratorMeta] = Field(min_length=1)
    recipe: RecipeSummary | None = None

    @model_validator(mode="after")
    def _check(self) -> "ModelMeta":
        for name in self.generators:
            if not re.match(_NAME, name) or len(name) > 100:
                raise ValueError(f"invalid generator name {name!r}")
        if self.default not in self.generators:
            raise ValueError(f"default {self.default!r} is not one of the generators {sorted(self.generators)}")
        return self


# --------------------------------------------------------------------------- saving


def save_model(
    path: str | os.PathLike[str],
    *,
    method: str,
    exports: list[tuple["ExportSpec", "torch.nn.Module"]],
    recipe: dict[str, Any] | BaseModel | None = None,
) -> Path:
    """Write the exported generators and their metadata to ``path`` atomically.

    Args:
        path: the ``.safetensors`` file to write (its folder must exist).
        method: the training method's registry name.
        exports: ``(ExportSpec, unwrapped module)`` pairs, the default generator first.
            Each module must carry ``translate_record`` (set by :class:`translate.BuildContext`).
        recipe: the resolved recipe (dict or :class:`translate.recipe.Recipe`); a short
            summary of it is stored.

    Returns:
        The path written.
    """
    from safetensors.torch import save_file

    from . import __version__

    if not exports:
        raise ValueError("save_model needs at least one export")
    tensors: dict[str, Any] = {}
    generators: dict[str, GeneratorMeta] = {}
    for spec, module in exports:
        module = getattr(module, "_orig_mod", module)  # torch.compile wrapper
        record = getattr(module, "translate_record", None)
        if record is None:
            raise ValueError(
                f"export {spec.name!r}: module {type(module).__name__} has no translate_record; "
                "build generators through BuildContext.generator() (and pass the unwrapped module)"
            )
        if spec.name in generators:
            raise ValueError(f"duplicate export name {spec.name!r}")
        generators[spec.name] = GeneratorMeta(
            component=record.name,
            options=dict(record.options),
            plugin=PluginMeta(name=record.plugin_name, distribution=record.distribution, version=record.version),
            in_channels=record.in_channels,
            out_channels=record.out_channels if record.out_channels is not None else record.in_channels,
            direction=spec.direction,
            input_domain=spec.input_domain,
            output_domain=spec.output_domain,
            test_mode=spec.test_mode,  # type: ignore[arg-type]
            size_multiple=int(getattr(module, "size_multiple", 1) or 1),
        )
        for key, value in module.state_dict().items():
            tensors[f"{spec.name}.{key}"] = value.detach().to("cpu").contiguous().clone()
    meta = ModelMeta(
        translate_version=__version__,
        method=method,
        default=exports[0][0].name,
        generators=generators,
        recipe=_summarize(recipe),
    )
    header = {
        "format": "pt",
        "translate.format_version": FORMAT_VERSION,
        "translate": meta.model_dump_json(exclude_none=True),
    }
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=header)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _summarize(recipe: dict[str, Any] | BaseModel | None) -> RecipeSummary | None:
    if recipe is None:
        return None
    data = recipe.model_dump(mode="json") if isinstance(recipe, BaseModel) else recipe

    def name_of(section: str) -> str | None:
        value = data.get(section)
        return value.get("name") if isinstance(value, dict) else None

    train = data.get("train") if isinstance(data.get("train"), dict) else {}
    seed = data.get("seed")
    return RecipeSummary(
        method=name_of("method"),
        data=name_of("data"),
        seed=seed if isinstance(seed, int) else None,
        epochs=train.get("epochs"),
        steps=train.get("steps"),
    )


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class GeneratorInfo:
    """A generator of a loaded model: its export name and its metadata."""

    name: str
    meta: GeneratorMeta


@dataclass
class LoadedModel:
    """A model file read back: validated metadata and the rebuilt generators (on the CPU)."""

    path: Path
    meta: ModelMeta
    modules: dict[str, "torch.nn.Module"] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Export names, the default first."""
        return [self.meta.default] + [n for n in self.meta.generators if n != self.meta.default]

    def generator(self, direction_or_name: str | None = None) -> tuple["torch.nn.Module", GeneratorInfo]:
        """Pick a generator by export name or by direction (``AtoB`` / ``BtoA``); None: the default."""
        name = self._resolve(direction_or_name)
        return self.modules[name], GeneratorInfo(name, self.meta.generators[name])

    def _resolve(self, selector: str | None) -> str:
        if selector is None:
            return self.meta.default
        if selector in self.meta.generators:
            return selector
        matches = [n for n, g in self.meta.generators.items() if g.direction == selector]
        if len(matches) == 1:
            return matches[0]
        available = ", ".join(f"{n} (direction {g.direction})" for n, g in self.meta.generators.items())
        if matches:
            raise ModelFileError(
                f"{self.path}: direction {selector!r} matches several generators ({', '.join(matches)}); "
                f"pick one by name. Available: {available}"
            )
        raise ModelFileError(f"{self.path}: no generator named or directed {selector!r}. Available: {available}")


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """A ``.safetensors`` file, or a folder holding ``model.safetensors``."""
    p = Path(path)
    if p.is_dir():
        inner = p / MODEL_FILENAME
        if not inner.is_file():
            raise ModelFileError(f"{p}: folder has no {MODEL_FILENAME}")
        return inner
    if not p.exists():
        raise ModelFileError(f"{p}: no such model file")
    return p


def read_header(path: Path) -> dict[str, Any]:
    """Read and check a safetensors header by hand (size-limited JSON, no code)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise ModelFileError(f"{path}: not a safetensors file (only {size} bytes)")
            n = int.from_bytes(prefix, "little")
            if n > MAX_HEADER_BYTES:
                raise ModelFileError(
                    f"{path}: not a usable safetensors file: header claims {n} bytes "
                    f"(limit {MAX_HEADER_BYTES}); refusing to read it"
                )
            if 8 + n > size:
                raise ModelFileError(f"{path}: truncated or not a safetensors file (header needs {n} bytes, "
                                     f"file has {size - 8} after the length)")
            raw = fh.read(n)
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read: {err}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: not a safetensors file (header is not a JSON object)")
    return header


def read_metadata(path: str | os.PathLike[str]) -> ModelMeta:
    """Validate the translate metadata of a model file without building anything."""
    p = resolve_model_path(path)
    return _parse_meta(p, read_header(p))


def _parse_meta(path: Path, header: dict[str, Any]) -> ModelMeta:
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or "translate" not in meta and "translate.format_version" not in meta:
        raise ModelFileError(
            f"{path}: safetensors file has no translate metadata (__metadata__.translate); "
            "it was not written by translate"
        )
    version = meta.get("translate.format_version")
    if version is None:
        raise ModelFileError(f"{path}: metadata field 'translate.format_version' is missing")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: metadata field 'translate.format_version' is {version!r}; this translate reads "
            f"version {FORMAT_VERSION!r} (a newer translate may read it: pip install -U translate-i2i)"
        )
    text = meta.get("translate")
    if not isinstance(text, str):
        raise ModelFileError(f"{path}: metadata field 'translate' is missing")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{path}: metadata field 'translate' is not valid JSON ({err.msg} at {err.pos})") from None
    except RecursionError:
        raise ModelFileError(f"{path}: metadata field 'translate' is not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: metadata field 'translate' is not a JSON object")
    try:
        return ModelMeta.model_validate_json(text)
    except ValidationError as err:
        lines = "\n".join(f"  {line}" for line in error_lines(err, prefix="translate"))
        raise ModelFileError(f"{path}: invalid metadata:\n{lines}") from None


def load_model(path: str | os.PathLike[str], registry: "Registry | None" = None) -> LoadedModel:
    """Read a model file (or a folder holding ``model.safetensors``) and rebuild its generators.

    Args:
        path: the model file or folder.
        registry: the component registry (default: the process-wide one from installed plugins).

    Raises:
        ModelFileError: the file is malformed, tampered with, needs a plugin that is not
            installed, or its weights do not fit the rebuilt networks.
    """
    from safetensors import SafetensorError, safe_open

    p = resolve_model_path(path)
    meta = _parse_meta(p, read_header(p))
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except SafetensorError as err:
        raise ModelFileError(f"{p}: corrupt or truncated safetensors file: {err}") from None
    loaded = LoadedModel(p, meta)
    claimed: set[str] = set()
    for name, gmeta in meta.generators.items():
        module = _build(p, registry, name, gmeta)
        prefix = name + "."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        claimed.update(prefix + k for k in state)
        _load_weights(p, name, module, state)
        loaded.modules[name] = module
    stray = sorted(set(tensors) - claimed)
    if stray:
        raise ModelFileError(f"{p}: tensors belonging to no generator: {_listing(stray)}")
    return loaded


def _build(path: Path, registry: "Registry", name: str, g: GeneratorMeta) -> "torch.nn.Module":
    from .registry import OptionsInvalid

    where = f"{path}: generator {name!r}"
    comp = registry.components["generator"].get(g.component)
    if comp is None:
        raise ModelFileError(f"{where}: {_missing_component(g)}")
    try:
        options = comp.parse_options(g.options, f"translate.generators.{name}.options")
    except OptionsInvalid as err:
        hint = (f"the model was saved with {g.plugin.distribution} {g.plugin.version}, "
                f"installed is {comp.plugin.distribution} {comp.plugin.version}")
        raise ModelFileError(f"{where}: options do not validate ({hint}):\n  " + "\n  ".join(err.lines)) from None
    try:
        module = comp.factory(options, in_channels=g.in_channels, out_channels=g.out_channels)
    except Exception as exc:  # noqa: BLE001 - a plugin's factory failing on recorded options
        raise ModelFileError(f"{where}: building {g.component!r} failed: {type(exc).__name__}: {exc}") from None
    return module


def _missing_component(g: GeneratorMeta) -> str:
    dist = g.plugin.distribution
    need = f"model needs generator {g.component!r} from distribution {dist!r} (version {g.plugin.version})"
    if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$", dist):
        return f"{need}, which is not an installable package; register {g.component!r} with a plugin"
    try:
        installed = importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return f"{need}: pip install {dist}"
    hint = (f"{dist} {installed} is installed but registers no generator {g.component!r}; "
            f"it may be too old (or not loaded: check TRANSLATE_LOAD_PLUGINS and `translate plugins`)")
    return f"{need}; {hint}: pip install -U '{dist}>={g.plugin.version}'" if _is_release(g.plugin.version) \
        else f"{need}; {hint}: pip install -U {dist}"


def _is_release(version: str) -> bool:
    return bool(re.match(r"^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$", version))


def _load_weights(path: Path, name: str, module: "torch.nn.Module", state: dict[str, Any]) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k}: file {tuple(state[k].shape)} vs network {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches: {_listing(shapes)}")
    if problems:
        body = "\n  ".join(problems)
        raise ModelFileError(f"{path}: weights of generator {name!r} do not match the rebuilt network:\n  {body}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:  # dtype or other incompatibility
        raise ModelFileError(f"{path}: weights of generator {name!r} cannot be loaded: {err}") from None


def _listing(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


__all__ = [
    "FORMAT_VERSION",
    "GeneratorInfo",
    "GeneratorMeta",
    "LoadedModel",
    "ModelMeta",
    "load_model",
    "read_metadata",
    "save_model",
]
