"""Model files and model folders: generator weights in safetensors plus what is needed to rebuild them.

A model file (``RUN/model.safetensors``) holds the weights of every exported generator
under ``<export name>.<state_dict key>`` and, in the safetensors header metadata (string
values only):

- ``"format"``: ``"pt"`` (what other safetensors tools expect);
- ``"translate.format_version"``: ``"1"`` (checked before anything else is read);
- ``"translate"``: JSON described by :class:`ModelMeta` (component names and options,
  plugin distribution and version, channels, normalisation, direction, test-time mode,
  preprocessing, a recipe summary and, in exported folders, a training summary).

A model folder (written by ``translate export`` or ``Pipeline.save_pretrained``, see
:mod:`translate.export`) adds ``config.json``: ``{"format_version": "1", ...}`` followed by the
same fields, validated by the same strict :class:`ModelMeta` schema, and ``README.md``. When a
folder holds a ``config.json`` it must agree with the metadata inside ``model.safetensors``.

Loading never unpickles and never imports code named in the file: the header is read
and size-checked by hand, validated with a strict pydantic schema (names must be plain
identifiers, not module paths), and each generator is rebuilt through the plugin registry
by its registered name, then filled with ``load_state_dict(strict=True)`` after names, shapes
and dtypes were compared. Every problem raises :class:`~translate.errors.ModelFileError`
naming the file and the offending field.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Annotated, TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .atomic import atomic_path
from .errors import ModelFileError
from .options import error_lines

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .method import ExportSpec
    from .registry import Registry

FORMAT_VERSION = "1"
"""The metadata schema version this translate writes and reads."""

MODEL_FILENAME = "model.safetensors"
CONFIG_FILENAME = "config.json"
MAX_HEADER_BYTES = 100 * 1024 * 1024
"""A header (JSON) larger than this is refused before it is read."""
MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""A ``config.json`` larger than this is refused before it is read."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
_OPTION = r"^[A-Za-z][A-Za-z0-9_]*$"  # a plain option name: no dots, no leading underscore
_METRIC = r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"
_TEXT = r"^[^\x00-\x1f\x7f]*$"  # printable: no control characters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


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

    @field_validator("options")
    @classmethod
    def _plain_keys(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Option names are plain identifiers; keys such as ``__class__`` or ``_target_`` are refused."""
        for key in options:
            if not re.match(_OPTION, key) or len(key) > 100:
                raise ValueError(f"option name {key!r} is not a plain identifier "
                                 "(names of classes, modules or call targets are refused)")
        _check_nested_keys(options, depth=0)
        return options

    @model_validator(mode="after")
    def _check(self) -> "GeneratorMeta":
        if not self.value_range[0] < self.value_range[1]:
            raise ValueError(f"value_range {list(self.value_range)} must be increasing")
        return self


def _check_nested_keys(value: Any, depth: int) -> None:
    if depth > 16:
        raise ValueError("options are nested too deeply")
    if isinstance(value, dict):
        for key, inner in value.items():
            if depth and (not isinstance(key, str) or key.startswith("_")):
                raise ValueError(f"nested option key {key!r} is refused (keys starting with '_' name code targets)")
            _check_nested_keys(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _check_nested_keys(inner, depth + 1)


class RecipeSummary(_Strict):
    """A short account of the training recipe (the full recipe lives in the run folder)."""

    method: str | None = Field(None, max_length=100, pattern=_TEXT)
    data: str | None = Field(None, max_length=100, pattern=_TEXT, description="the data set's registry name")
    data_folder: str | None = Field(None, max_length=200, pattern=_TEXT,
                                    description="last part of the data folder (e.g. facades)")
    seed: int | None = None
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = Field(None, ge=1)


class Preprocessing(_Strict):
    """What the model expects of its inputs."""

    size_multiple: int = Field(1, ge=1, le=65536, description="height and width are padded to a multiple of this")
    recommended_size: int | None = Field(None, ge=1, le=65536, description="the training crop size, when known")


class TrainingSummary(_Strict):
    """What a finished run reported (filled when a run is exported)."""

    steps: int | None = Field(None, ge=0, description="optimizer steps trained")
    epoch: int | None = Field(None, ge=0, description="epoch counter at the end of training")
    losses: dict[str, float] = Field(default_factory=dict, description="last logged losses")
    evaluation: dict[str, float] = Field(default_factory=dict, description="evaluation metrics, if evaluated")

    @field_validator("losses", "evaluation")
    @classmethod
    def _names(cls, values: dict[str, float]) -> dict[str, float]:
        if len(values) > 64:
            raise ValueError(f"at most 64 entries, got {len(values)}")
        for key in values:
            if not re.match(_METRIC, key) or len(key) > 100:
                raise ValueError(f"invalid metric name {key!r}")
        return values


class ModelMeta(_Strict):
    """The ``translate`` metadata entry of a model file and the body of ``config.json`` (format version 1)."""

    translate_version: str = Field(max_length=100, pattern=_TEXT)
    method: str = Field(max_length=100, pattern=_TEXT)
    default: str = Field(pattern=_NAME)
    generators: dict[str, GeneratorMeta] = Field(min_length=1)
    preprocessing: Preprocessing | None = None
    recipe: RecipeSummary | None = None
    training: TrainingSummary | None = None
    limitations: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=20, description="the method's known limits, for the model card"
    )

    @model_validator(mode="after")
    def _check(self) -> "ModelMeta":
        for name in self.generators:
            if not re.match(_NAME, name) or len(name) > 100:
                raise ValueError(f"invalid generator name {name!r}")
        if self.default not in self.generators:
            raise ValueError(f"default {self.default!r} is not one of the generators {sorted(self.generators)}")
        if self.preprocessing is not None:
            for name, g in self.generators.items():
                if self.preprocessing.size_multiple % g.size_multiple:
                    raise ValueError(
                        f"preprocessing.size_multiple {self.preprocessing.size_multiple} is not a multiple of "
                        f"generator {name!r}'s size_multiple {g.size_multiple}"
                    )
        return self


# --------------------------------------------------------------------------- saving


def save_model(
    path: str | os.PathLike[str],
    *,
    method: str,
    exports: list[tuple["ExportSpec", "torch.nn.Module"]],
    recipe: dict[str, Any] | BaseModel | None = None,
    limitations: list[str] | tuple[str, ...] = (),
) -> Path:
    """Write the exported generators and their metadata to ``path`` atomically.

    Args:
        path: the ``.safetensors`` file to write (its folder must exist).
        method: the training method's registry name.
        exports: ``(ExportSpec, unwrapped module)`` pairs, the default generator first.
            Each module must carry ``translate_record`` (set by :class:`translate.BuildContext`).
        recipe: the resolved recipe (dict or :class:`translate.recipe.Recipe`); a short
            summary of it is stored, and the training crop size as the recommended input size.
        limitations: the method's known limits (``Method.limitations``), shown in model cards.

    Returns:
        The path written.
    """
    meta, tensors = build_meta(method=method, exports=exports, recipe=recipe, limitations=limitations)
    return write_model_file(path, tensors, meta)


def build_meta(
    *,
    method: str,
    exports: list[tuple["ExportSpec", "torch.nn.Module"]],
    recipe: dict[str, Any] | BaseModel | None = None,
    limitations: list[str] | tuple[str, ...] = (),
) -> tuple[ModelMeta, dict[str, "torch.Tensor"]]:
    """The metadata and the ``<export>.<param>`` tensors (on the CPU) of ``exports`` (see :func:`save_model`)."""
    from .version import __version__

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
    data = _recipe_dict(recipe)
    meta = ModelMeta(
        translate_version=__version__,
        method=method,
        default=exports[0][0].name,
        generators=generators,
        preprocessing=preprocessing_for(generators, data),
        recipe=_summarize(data),
        limitations=list(limitations),
    )
    return meta, tensors


def header_metadata(meta: ModelMeta) -> dict[str, str]:
    """The safetensors ``__metadata__`` (string values) of a model file."""
    return {
        "format": "pt",
        "translate.format_version": FORMAT_VERSION,
        "translate": meta.model_dump_json(exclude_none=True),
    }


def write_model_file(path: str | os.PathLike[str], tensors: dict[str, "torch.Tensor"], meta: ModelMeta) -> Path:
    """Write ``tensors`` with ``meta`` as a model file, atomically (temp file, fsync, rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header_metadata(meta))
    return path


def config_json(meta: ModelMeta) -> str:
    """The text of ``config.json``: the format version, then the metadata, pretty-printed."""
    body = json.loads(meta.model_dump_json(exclude_none=True))
    return json.dumps({"format_version": FORMAT_VERSION, **body}, indent=2) + "\n"


def _recipe_dict(recipe: dict[str, Any] | BaseModel | None) -> dict[str, Any] | None:
    if recipe is None:
        return None
    return recipe.model_dump(mode="json") if isinstance(recipe, BaseModel) else recipe


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def preprocessing_for(generators: dict[str, GeneratorMeta], recipe: dict[str, Any] | None) -> Preprocessing:
    """Size multiple (the least common multiple over the generators) and the training crop size."""
    multiple = 1
    for g in generators.values():
        multiple = math.lcm(multiple, g.size_multiple)
    size = None
    data = recipe.get("data") if isinstance(recipe, dict) else None
    options = data.get("options") if isinstance(data, dict) else None
    if isinstance(options, dict) and options.get("preprocess") != "none":
        size = _int(options.get("crop_size")) or _int(options.get("image_size"))
    return Preprocessing(size_multiple=min(multiple, 65536), recommended_size=size if size and size <= 65536 else None)


def _summarize(data: dict[str, Any] | None) -> RecipeSummary | None:
    if data is None:
        return None

    def section(name: str) -> dict[str, Any]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    def name_of(name: str) -> str | None:
        value = section(name).get("name")
        return value if isinstance(value, str) and re.match(_TEXT, value) and len(value) <= 100 else None

    train = section("train")
    options = section("data").get("options")
    root = options.get("root") if isinstance(options, dict) else None
    folder = Path(str(root)).name if isinstance(root, str) and root else None
    batch = _int(section("data").get("batch_size"))
    return RecipeSummary(
        method=name_of("method"),
        data=name_of("data"),
        data_folder=folder if folder and re.match(_TEXT, folder) and len(folder) <= 200 else None,
        seed=_int(data.get("seed")),
        epochs=_int(train.get("epochs")),
        steps=_int(train.get("steps")),
        batch_size=batch if batch and batch >= 1 else None,
    )


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class GeneratorInfo:
    """A generator of a loaded model: its export name and its metadata."""

    name: str
    meta: GeneratorMeta


@dataclass
class LoadedModel:
    """A model file read back: validated metadata and the rebuilt generators (on the CPU).

    ``path`` is the ``model.safetensors`` read; ``config_path`` the ``config.json`` checked
    against it (None when the model was loaded from a bare file or a folder without one).
    """

    path: Path
    meta: ModelMeta
    modules: dict[str, "torch.nn.Module"] = field(default_factory=dict)
    config_path: Path | None = None

    @property
    def names(self) -> list[str]:
        """Export names, the default first."""
        return [self.meta.default] + [n for n in self.meta.generators if n != self.meta.default]

    def generator(self, direction_or_name: str | None = None) -> tuple["torch.nn.Module", GeneratorInfo]:
        """Pick a generator by export name or by direction (``AtoB`` / ``BtoA``); None: the default."""
        name = self._resolve(direction_or_name)
        return self.modules[name], GeneratorInfo(name, self.meta.generators[name])

    def tensors(self) -> dict[str, "torch.Tensor"]:
        """The current weights as ``<export>.<param>`` CPU tensors (what a model file stores)."""
        out: dict[str, Any] = {}
        for name in self.names:
            for key, value in self.modules[name].state_dict().items():
                out[f"{name}.{key}"] = value.detach().to("cpu").contiguous().clone()
        return out

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
    """A ``.safetensors`` file, or a folder (run or model folder) holding ``model.safetensors``."""
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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def read_config(path: str | os.PathLike[str]) -> ModelMeta:
    """Read and validate a model folder's ``config.json`` (size-limited, strict schema, no code).

    Raises:
        ModelFileError: not JSON, not a translate config, an unknown format version, or a
            field that breaks the schema (each named as ``dotted.path: problem``).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ModelFileError(f"{p}: {size} bytes (limit {MAX_CONFIG_BYTES}); refusing to read it")
        raw = p.read_bytes()
    except OSError as err:
        raise ModelFileError(f"{p}: cannot read: {err}") from None
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ModelFileError(f"{p}: not a JSON file (not UTF-8 text)") from None
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{p}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    except ValueError as err:
        raise ModelFileError(f"{p}: not valid JSON ({err})") from None
    except RecursionError:
        raise ModelFileError(f"{p}: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{p}: not a translate model config (a JSON object is expected)")
    version = data.pop("format_version", None)
    if version is None:
        raise ModelFileError(f"{p}: not a translate model config: field 'format_version' is missing")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{p}: field 'format_version' is {version!r}; this translate reads version {FORMAT_VERSION!r} "
            "(a newer translate may read it: pip install -U translate-i2i)"
        )
    try:
        return ModelMeta.model_validate_json(json.dumps(data))
    except ValidationError as err:
        lines = "\n".join(f"  {line}" for line in error_lines(err))
        raise ModelFileError(f"{p}: invalid config:\n{lines}") from None


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            where = f"{prefix}.{key}" if prefix else str(key)
            out += _differences(a.get(key), b.get(key), where) if key in a and key in b else [where]
        return out
    return [] if a == b else [prefix or "<root>"]


def check_config(config_path: Path, model_path: Path, config: ModelMeta, meta: ModelMeta) -> None:
    """Raise when ``config.json`` and the metadata inside ``model.safetensors`` disagree."""
    a, b = config.model_dump(mode="json", exclude_none=True), meta.model_dump(mode="json", exclude_none=True)
    diffs = _differences(a, b)
    if diffs:
        raise ModelFileError(
            f"{config_path} and {model_path} disagree on {_listing(diffs)}; the folder was edited or "
            "assembled from different models: get it again from its source, or export the run again"
        )


def read_tensors(path: Path) -> dict[str, "torch.Tensor"]:
    """All tensors of a safetensors file, on the CPU (no pickle)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return {key: fh.get_tensor(key) for key in fh.keys()}
    except SafetensorError as err:
        raise ModelFileError(f"{path}: corrupt or truncated safetensors file: {err}") from None


def load_model(path: str | os.PathLike[str], registry: "Registry | None" = None) -> LoadedModel:
    """Read a model and rebuild its generators.

    Args:
        path: a model folder (``model.safetensors`` with ``config.json`` and ``README.md``), a folder
            holding only ``model.safetensors``, a run folder, or a ``.safetensors`` file.
        registry: the component registry (default: the process-wide one from installed plugins).

    Raises:
        ModelFileError: the file is malformed, tampered with, disagrees with the folder's
            ``config.json``, needs a plugin that is not installed, or its weights do not fit the
            rebuilt networks (names, shapes or dtypes).
    """
    p = resolve_model_path(path)
    meta = _parse_meta(p, read_header(p))
    config_path = None
    if Path(path).is_dir() and (p.parent / CONFIG_FILENAME).exists():
        config_path = p.parent / CONFIG_FILENAME
        check_config(config_path, p, read_config(config_path), meta)
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    tensors = read_tensors(p)
    loaded = LoadedModel(p, meta, config_path=config_path)
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


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _load_weights(path: Path, name: str, module: "torch.nn.Module", state: dict[str, Any]) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    common = sorted(set(state) & set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs network {tuple(expected[k].shape)}"
        for k in common
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    dtypes = [
        f"{k}: file {_dtype_name(state[k].dtype)} vs network {_dtype_name(expected[k].dtype)}"
        for k in common
        if state[k].dtype != expected[k].dtype
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches: {_listing(shapes)}")
    if dtypes:
        problems.append(f"dtype mismatches: {_listing(dtypes)}")
    if problems:
        body = "\n  ".join(problems)
        raise ModelFileError(f"{path}: weights of generator {name!r} do not match the rebuilt network:\n  {body}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:  # any other incompatibility
        raise ModelFileError(f"{path}: weights of generator {name!r} cannot be loaded: {err}") from None


def _listing(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


__all__ = [
    "CONFIG_FILENAME",
    "FORMAT_VERSION",
    "MODEL_FILENAME",
    "GeneratorInfo",
    "GeneratorMeta",
    "LoadedModel",
    "ModelMeta",
    "Preprocessing",
    "RecipeSummary",
    "TrainingSummary",
    "build_meta",
    "config_json",
    "load_model",
    "read_config",
    "read_metadata",
    "save_model",
    "write_model_file",
]
