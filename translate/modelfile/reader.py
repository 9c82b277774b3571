"""Loading a model: its generators rebuilt through the plugin registry and filled with its weights.

Loading never unpickles and never imports code named in the file: the header and the folder's
``config.json`` are validated first (:mod:`~translate.modelfile.header`), then each generator is
built by its registered name and filled with ``load_state_dict(strict=True)`` after names, shapes
and dtypes were compared. Every problem raises :class:`~translate.errors.ModelFileError` naming the
file and what does not fit.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelFileError, OptionsInvalid
from .header import check_config, listing, parse_meta, read_config, read_header, read_tensors, resolve_model_path
from .schema import CONFIG_FILENAME, GeneratorMeta, ModelMeta
from .writer import state_tensors

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..registry import Registry


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
    meta = parse_meta(p, read_header(p))
    config_path = None
    if Path(path).is_dir() and (p.parent / CONFIG_FILENAME).exists():
        config_path = p.parent / CONFIG_FILENAME
        check_config(config_path, p, read_config(config_path), meta)
    if registry is None:
        from ..plugins import get_registry

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
        raise ModelFileError(f"{p}: tensors belonging to no generator: {listing(stray)}")
    return loaded


def _build(path: Path, registry: "Registry", name: str, g: GeneratorMeta) -> "torch.nn.Module":
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
    problems = [f"{label}: {listing(items)}" for label, items in (
        ("missing keys", missing), ("unexpected keys", unexpected),
        ("shape mismatches", shapes), ("dtype mismatches", dtypes),
    ) if items]
    if problems:
        body = "\n  ".join(problems)
        raise ModelFileError(f"{path}: weights of generator {name!r} do not match the rebuilt network:\n  {body}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:  # any other incompatibility
        raise ModelFileError(f"{path}: weights of generator {name!r} cannot be loaded: {err}") from None


__all__ = ["GeneratorInfo", "LoadedModel", "load_model"]
