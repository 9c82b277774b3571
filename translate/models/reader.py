"""Loading a model: its generators rebuilt through the plugin registry and filled with its weights.

Loading never unpickles and never imports code named in the file: the header and the folder's
``config.json`` are validated first (:mod:`~translate.models.header`), then each generator is
built by its registered name and filled with ``load_state_dict(strict=True)`` after names, shapes
and dtypes were compared. Sizes are checked before any memory is allocated: each generator is first
built on torch's ``meta`` device (shapes only, no storage) and its state_dict's names, shapes and
dtypes, and its ``size_multiple``, are compared with the tensors the file's header declares; only
a generator that fits is built for real. So recorded options that ask for an absurd network
(``ngf = 10**9``) fail fast with a clear error instead of allocating it. (A factory that cannot run
on the meta device, with an error that says so, is built directly, as before.) Every problem raises
:class:`~translate.errors.ModelFileError` naming the file and what does not fit.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelFileError, OptionsInvalid, PluginError
from ..nn.traits import scale_factor, size_multiple
from .header import (
    check_config,
    header_tensors,
    listing,
    parse_meta,
    read_config,
    read_header,
    read_tensors,
    resolve_model_path,
)
from .schema import CONFIG_FILENAME, GeneratorMeta, ModelMeta
from .writer import state_tensors

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..plugin.registry import Registry


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
            out.update(state_tensors(name, self.modules[name]))
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
    header = read_header(p)
    meta = parse_meta(p, header)
    config_path = None
    if Path(path).is_dir() and (p.parent / CONFIG_FILENAME).exists():
        config_path = p.parent / CONFIG_FILENAME
        check_config(config_path, p, read_config(config_path), meta)
    if registry is None:
        from ..plugin.loading import get_registry

        registry = get_registry()
    declared = header_tensors(p, header)
    claimed: set[str] = set()
    for name, gmeta in meta.generators.items():  # every size checked before anything is allocated
        prefix = name + "."
        shapes = {k[len(prefix):]: v for k, v in declared.items() if k.startswith(prefix)}
        claimed.update(prefix + k for k in shapes)
        _check_on_meta(p, registry, name, gmeta, shapes)
    stray = sorted(set(declared) - claimed)
    if stray:
        raise ModelFileError(f"{p}: tensors belonging to no generator: {listing(stray)}")
    tensors = read_tensors(p)
    loaded = LoadedModel(p, meta, config_path=config_path)
    for name, gmeta in meta.generators.items():
        module = _build(p, registry, name, gmeta)
        _check_declared(p, name, gmeta, module)
        prefix = name + "."
        _load_weights(p, name, module, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        loaded.modules[name] = module
    return loaded


def _check_on_meta(path: Path, registry: "Registry", name: str, g: GeneratorMeta,
                   shapes: dict[str, tuple[tuple[int, ...], str]]) -> None:
    """Build generator ``name`` on the meta device and compare it with the file's ``shapes``; allocates nothing."""
    import torch

    try:
        with torch.device("meta"):
            module = _build(path, registry, name, g, meta_device=True)
    except _NoMetaSupport:
        return  # the factory cannot run on the meta device: the real build checks the weights
    network = {k: (tuple(v.shape), _dtype_name(v.dtype)) for k, v in module.state_dict().items()}
    _compare(path, name, shapes, network, hint=f"the options recorded for {g.component!r} do not fit the weights "
                                                 "in the file (checked on the meta device, nothing was allocated)")
    _check_declared(path, name, g, module)


def _check_declared(path: Path, name: str, g: GeneratorMeta, module: "torch.nn.Module") -> None:
    """The rebuilt network's ``size_multiple`` and ``scale_factor`` are the ones the file records."""
    declared = size_multiple(module, f"{path}: generator {name!r}")
    if declared != g.size_multiple:
        raise ModelFileError(
            f"{path}: generator {name!r} records size_multiple {g.size_multiple}, but the network rebuilt from "
            f"its options ({g.component!r}) declares {declared}; the metadata was edited or is damaged"
        )
    try:
        scale = scale_factor(module, f"{path}: generator {name!r}")
    except PluginError as err:
        raise ModelFileError(str(err)) from None
    if scale != g.scale_factor:
        raise ModelFileError(
            f"{path}: generator {name!r} records scale_factor {g.scale_factor}, but the network rebuilt from "
            f"its options ({g.component!r}) declares {scale}; the metadata was edited or is damaged"
        )


class _NoMetaSupport(Exception):
    """A generator factory failed on the meta device for a reason that names the meta device."""


def _build(path: Path, registry: "Registry", name: str, g: GeneratorMeta, *,
           meta_device: bool = False) -> "torch.nn.Module":
    where = f"{path}: generator {name!r}"
    comp = registry.get("generator", g.component) if g.component in registry.names("generator") else None
    if comp is None:
        raise ModelFileError(f"{where}: {_missing_component(g)}")
    # Options added after a file was written: the file was built with their recorded_defaults.
    recorded = {**getattr(comp.options, "recorded_defaults", {}), **g.options}  # declared on translate.Options
    try:
        options = comp.parse_options(recorded, f"translate.generators.{name}.options")
    except OptionsInvalid as err:
        hint = (f"the model was saved with {g.plugin.distribution} {g.plugin.version}, "
                f"installed is {comp.plugin.distribution} {comp.plugin.version}")
        raise ModelFileError(f"{where}: options do not validate ({hint}):\n  " + "\n  ".join(err.lines)) from None
    try:
        module = comp.build(options, in_channels=g.in_channels, out_channels=g.out_channels)
    except Exception as exc:  # noqa: BLE001 - a plugin's factory failing on recorded options
        if meta_device and "meta" in str(exc).lower() and "overflow" not in str(exc).lower():
            raise _NoMetaSupport from None
        how = " (checked on the meta device, without allocating memory)" if meta_device else ""
        raise ModelFileError(f"{where}: building {g.component!r} with its recorded options "
                             f"{_short(g.options)} failed{how}: {type(exc).__name__}: {_short(exc)}") from None
    return module


def _short(value: Any, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


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


def _compare(path: Path, name: str, file: dict[str, tuple[tuple[int, ...], str]],
             network: dict[str, tuple[tuple[int, ...], str]], hint: str = "") -> None:
    """Raise when the file's ``{key: (shape, dtype)}`` and the network's differ (names, shapes, dtypes)."""
    missing = sorted(set(network) - set(file))
    unexpected = sorted(set(file) - set(network))
    common = sorted(set(file) & set(network))
    shapes = [f"{k}: file {file[k][0]} vs network {network[k][0]}" for k in common if file[k][0] != network[k][0]]
    dtypes = [f"{k}: file {file[k][1]} vs network {network[k][1]}" for k in common if file[k][1] != network[k][1]]
    problems = [f"{label}: {listing(items)}" for label, items in (
        ("missing keys", missing), ("unexpected keys", unexpected),
        ("shape mismatches", shapes), ("dtype mismatches", dtypes),
    ) if items]
    if problems:
        body = "\n  ".join(problems + ([hint] if hint else []))
        raise ModelFileError(f"{path}: weights of generator {name!r} do not match the rebuilt network:\n  {body}")


def _load_weights(path: Path, name: str, module: "torch.nn.Module", state: dict[str, Any]) -> None:
    def described(tensors: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
        return {k: (tuple(v.shape), _dtype_name(v.dtype)) for k, v in tensors.items()}

    _compare(path, name, described(state), described(module.state_dict()))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:  # any other incompatibility
        raise ModelFileError(f"{path}: weights of generator {name!r} cannot be loaded: {err}") from None


__all__ = ["GeneratorInfo", "LoadedModel", "load_model"]
