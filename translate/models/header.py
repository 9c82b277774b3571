"""Reading a model file's header and a model folder's ``config.json``, by hand and size-limited.

Nothing here builds a network: the safetensors header (length prefix and JSON) is read and
checked before any tensor, the ``translate`` metadata in it and ``config.json`` are validated
with the strict :mod:`~translate.models.schema`, and the two must agree. Every problem raises
:class:`~translate.errors.ModelFileError` naming the file and the offending field.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import ModelFileError
from ..plugin.options import error_lines
from .foreign import checkpoints_hint, pytorch_checkpoint
from .schema import FORMAT_VERSION, MODEL_FILENAME, ModelMeta

if TYPE_CHECKING:  # pragma: no cover
    import torch

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""A header (JSON) larger than this is refused before it is read."""
MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""A ``config.json`` larger than this is refused before it is read."""


_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFDIR: "a folder"}


def check_regular(path: Path) -> int:
    """The size of ``path``; raise ModelFileError unless it is a regular file (checked before any open).

    A named pipe, socket or device is refused without being opened (opening a FIFO blocks).
    """
    try:
        st = os.stat(path)  # follows a symlink: its target must be a regular file
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read: {err}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise ModelFileError(f"{path}: is {kind}, not a regular file; refusing to read it")
    return st.st_size


def open_regular(path: Path) -> int:
    """A read-only descriptor of the regular file ``path``, opened without blocking and checked again.

    ``O_NONBLOCK`` keeps a FIFO swapped in after :func:`check_regular` from blocking the open.
    """
    check_regular(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read: {err}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ModelFileError(f"{path}: is not a regular file; refusing to read it")
    return fd


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """A ``.safetensors`` file, or a folder (run or model folder) holding ``model.safetensors``.

    Raises:
        ModelFileError: nothing there, a folder without ``model.safetensors``, or a path that is
            not a regular file (a FIFO, socket or device is refused before it is opened).
    """
    p = Path(path)
    if p.is_dir():
        inner = p / MODEL_FILENAME
        if not inner.exists() and not inner.is_symlink():
            raise ModelFileError(f"{p}: folder has no {MODEL_FILENAME}{checkpoints_hint(p)}")
        check_regular(inner)
        return inner
    if not p.exists():
        raise ModelFileError(f"{p}: no such model file")
    check_regular(p)
    return p


def read_header(path: Path) -> dict[str, Any]:
    """Read and check a safetensors header by hand (size-limited JSON, no code); name a PyTorch checkpoint as one."""
    try:
        return _read_header(path)
    except ModelFileError:
        message = pytorch_checkpoint(path)
        if message is None:
            raise
        raise ModelFileError(message) from None


def _read_header(path: Path) -> dict[str, Any]:
    fd = open_regular(path)
    try:
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
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
    return parse_meta(p, read_header(p))


def parse_meta(path: Path, header: dict[str, Any]) -> ModelMeta:
    """The validated ``translate`` metadata of the safetensors ``header`` read from ``path``."""
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or "translate" not in meta and "translate.format_version" not in meta:
        raise ModelFileError(
            f"{path}: safetensors file has no translate metadata (__metadata__.translate); "
            "it was not written by translate"
        )
    _check_version(meta.get("translate.format_version"), f"{path}: metadata field 'translate.format_version'")
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


def _check_version(version: Any, where: str, *, missing: str | None = None) -> None:
    """Raise unless ``version`` (what ``where`` names) is :data:`FORMAT_VERSION`; ``missing``: the message for None."""
    if version is None:
        raise ModelFileError(missing or f"{where} is missing")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{where} is {version!r}; this translate reads version {FORMAT_VERSION!r} "
                             "(a newer translate may read it: pip install -U translate-i2i)")


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
    fd = open_regular(p)
    try:
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_CONFIG_BYTES:
                raise ModelFileError(f"{p}: {size} bytes (limit {MAX_CONFIG_BYTES}); refusing to read it")
            raw = fh.read(MAX_CONFIG_BYTES + 1)
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
    _check_version(data.pop("format_version", None), f"{p}: field 'format_version'",
                   missing=f"{p}: not a translate model config: field 'format_version' is missing")
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
            f"{config_path} and {model_path} disagree on {listing(diffs)}; the folder was edited or "
            "assembled from different models: get it again from its source, or export the run again"
        )


def read_tensors(path: Path) -> dict[str, "torch.Tensor"]:
    """All tensors of a safetensors file, on the CPU (no pickle)."""
    from safetensors import SafetensorError, safe_open

    check_regular(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return {key: fh.get_tensor(key) for key in fh.keys()}
    except SafetensorError as err:
        raise ModelFileError(f"{path}: corrupt or truncated safetensors file: {err}") from None


_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
           "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


def header_tensors(path: Path, header: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{key: (shape, dtype name)}`` of the tensors a safetensors header declares, read without loading them.

    The dtype name is torch's (``"float32"``); an unknown safetensors dtype keeps its own code.
    """
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if (not isinstance(shape, list) or not isinstance(dtype, str)
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            raise ModelFileError(f"{path}: not a safetensors file (tensor {key!r} has no valid shape and dtype)")
        out[key] = (tuple(shape), _DTYPES.get(dtype, dtype))
    return out


def listing(items: list[str], limit: int = 10) -> str:
    """``a, b, c`` for an error message, the first ``limit`` items and how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_HEADER_BYTES",
    "check_config",
    "check_regular",
    "header_tensors",
    "listing",
    "open_regular",
    "parse_meta",
    "read_config",
    "read_header",
    "read_metadata",
    "read_tensors",
    "resolve_model_path",
]
