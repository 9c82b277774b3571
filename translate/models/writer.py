"""Writing a model file: the generators' weights and the ``translate`` metadata describing them.

:func:`build_meta` collects, for each exported generator, what its build record says
(:class:`~translate.components.method.ComponentRecord`: component, options, plugin, channels)
and the export's direction and test-time mode; the data set's
:class:`~translate.data.contract.DataInfo` gives the recommended input size and the data folder's
name; the recipe gives a short summary of its own skeleton keys (method and data set names, seed,
length, batch size) and the data set's validated options table as a whole (what ``translate eval
--data FOLDER`` rebuilds the data set with). A data set's option keys are never read here.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..components.method import unwrap
from ..nn.traits import rebuild_options, scale_factor, size_multiple
from ..utils.atomic import atomic_path
from .schema import (
    FORMAT_VERSION,
    MAX_SIZE_MULTIPLE,
    TEXT_PATTERN,
    GeneratorMeta,
    ModelMeta,
    PluginMeta,
    Preprocessing,
    RecipeSummary,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..components.method import ComponentRecord, ExportSpec
    from ..data.contract import DataInfo

_MAX_SIZE = 65536


def save_model(
    path: str | os.PathLike[str],
    *,
    method: str,
    exports: list[tuple["ExportSpec", "torch.nn.Module", "ComponentRecord"]],
    recipe: dict[str, Any] | BaseModel | None = None,
    data: "DataInfo | None" = None,
    limitations: list[str] | tuple[str, ...] = (),
) -> Path:
    """Write the exported generators and their metadata to ``path`` atomically.

    Args:
        path: the ``.safetensors`` file to write (its folder must exist).
        method: the training method's registry name.
        exports: ``(ExportSpec, module, ComponentRecord)`` triples, the default generator first
            (:meth:`translate.components.build.BuiltMethod.exports` gives them; a DDP, Accelerate or
            ``torch.compile`` wrapper is unwrapped by :func:`translate.components.method.unwrap`). The
            record says how the module was built (:meth:`translate.BuildContext.record_of`); the
            options stored are its :func:`~translate.nn.traits.rebuild_options`.
        recipe: the resolved recipe (dict or :class:`translate.recipe.Recipe`); a short summary of
            its skeleton (method, data set name, seed, length, batch size) is stored.
        data: what the training data set says about itself (``data_info(dataset)``): its input
            size (``DataInfo.input_size``: the image size over its scale) is stored as the
            recommended input size, its folder in the recipe summary, its domain names
            (``DataInfo.domains``) in place of the letters ``A`` and ``B`` of the exports' domains, its
            bit depth (``DataInfo.bit_depth``) as each generator's, at which outputs are written.
        limitations: the model's known limits for model cards (the method's ``limitations`` and
            the data set's ``DataInfo.limitations``).

    Returns:
        The path written.
    """
    meta, tensors = build_meta(method=method, exports=exports, recipe=recipe, data=data, limitations=limitations)
    return write_model_file(path, tensors, meta)


def build_meta(
    *,
    method: str,
    exports: list[tuple["ExportSpec", "torch.nn.Module", "ComponentRecord"]],
    recipe: dict[str, Any] | BaseModel | None = None,
    data: "DataInfo | None" = None,
    limitations: list[str] | tuple[str, ...] = (),
) -> tuple[ModelMeta, dict[str, "torch.Tensor"]]:
    """The metadata and the ``<export>.<param>`` tensors (on the CPU) of ``exports`` (see :func:`save_model`)."""
    from ..version import __version__

    if not exports:
        raise ValueError("save_model needs at least one export")
    tensors: dict[str, Any] = {}
    generators: dict[str, GeneratorMeta] = {}
    for export in exports:
        if len(export) != 3 or export[2] is None:
            raise ValueError(
                f"export {export[0].name!r}: exports are (ExportSpec, module, ComponentRecord) triples; the record "
                "says how the module was built (BuildContext.record_of(module), or BuiltMethod.exports())"
            )
        spec, module, record = export
        module = unwrap(module)
        if spec.name in generators:
            raise ValueError(f"duplicate export name {spec.name!r}")
        generators[spec.name] = GeneratorMeta(
            component=record.name,
            options=rebuild_options(module, dict(record.options), f"export {spec.name!r}"),
            plugin=PluginMeta(name=record.plugin_name, distribution=record.distribution, version=record.version),
            in_channels=record.in_channels,
            out_channels=record.out_channels if record.out_channels is not None else record.in_channels,
            direction=spec.direction,
            input_domain=data.domain_name(spec.input_domain) if data is not None else spec.input_domain,
            output_domain=data.domain_name(spec.output_domain) if data is not None else spec.output_domain,
            test_mode=spec.test_mode,  # type: ignore[arg-type]
            size_multiple=size_multiple(module, f"export {spec.name!r}"),
            scale_factor=scale_factor(module, f"export {spec.name!r}"),
            bit_depth=data.bit_depth if data is not None else 8,
        )
        tensors.update(state_tensors(spec.name, module))
    meta = ModelMeta(
        translate_version=__version__,
        method=method,
        default=exports[0][0].name,
        generators=generators,
        preprocessing=_preprocessing(generators, data),
        recipe=_summarize(_recipe_dict(recipe), data),
        limitations=list(limitations),
    )
    return meta, tensors


def state_tensors(name: str, module: "torch.nn.Module") -> dict[str, "torch.Tensor"]:
    """``module``'s weights as ``<name>.<param>`` CPU tensors, as a model file stores them."""
    return {f"{name}.{key}": value.detach().to("cpu").contiguous().clone()
            for key, value in module.state_dict().items()}


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


def _text(value: Any, limit: int) -> str | None:
    """``value`` when it is printable text of at most ``limit`` characters, else None."""
    return value if isinstance(value, str) and value and re.match(TEXT_PATTERN, value) and len(value) <= limit \
        else None


def _preprocessing(generators: dict[str, GeneratorMeta], data: "DataInfo | None") -> Preprocessing:
    """Size multiple (the least common multiple over the generators) and the data set's image size."""
    multiple = 1
    for g in generators.values():
        multiple = math.lcm(multiple, g.size_multiple)
    size = _int(data.input_size) if data is not None else None  # the side the generators read
    return Preprocessing(size_multiple=min(multiple, MAX_SIZE_MULTIPLE),
                         recommended_size=size if size and 1 <= size <= _MAX_SIZE else None)


def _shareable(value: Any) -> Any:
    """``value`` with every local path cut to its last component (a shared model file must not carry the
    trainer's folders; ``translate eval --data FOLDER`` supplies the data folder). URLs are kept."""
    if isinstance(value, dict):
        return {k: _shareable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shareable(v) for v in value]
    if isinstance(value, str) and "://" not in value and ("/" in value or "\\" in value or value.startswith("~")):
        return PurePath(value.replace("\\", "/")).name or value
    return value


def _summarize(recipe: dict[str, Any] | None, data: "DataInfo | None") -> RecipeSummary | None:
    """The recipe's skeleton keys and its data set's options, and the data folder's name from ``data``."""
    folder = _text(data.folder, 200) if data is not None else None
    if recipe is None and folder is None:
        return None
    recipe = recipe or {}

    def section(name: str) -> dict[str, Any]:
        value = recipe.get(name)
        return value if isinstance(value, dict) else {}

    train = section("train")
    batch = _int(section("data").get("batch_size"))
    options = section("data").get("options")
    return RecipeSummary(
        method=_text(section("method").get("name"), 100),
        data=_text(section("data").get("name"), 100),
        data_folder=folder,
        data_options=_shareable(dict(options)) if isinstance(options, dict) else None,
        seed=_int(recipe.get("seed")),
        epochs=_int(train.get("epochs")),
        steps=_int(train.get("steps")),
        batch_size=batch if batch and batch >= 1 else None,
    )


__all__ = ["build_meta", "config_json", "header_metadata", "save_model", "state_tensors", "write_model_file"]
