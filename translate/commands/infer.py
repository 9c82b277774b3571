"""``translate infer MODEL INPUT... --out DIR``: the command-line glue around a :class:`Translator` run.

The parser lives in :mod:`translate.commands.main`; :func:`infer_cli` takes its namespace. Tests inject
plugins into the CLI path by setting ``translate.plugin.loading._CACHE`` (what
:func:`translate.plugin.loading.get_plugins` returns) with ``monkeypatch``; :func:`infer_cli` also
takes an explicit ``registry``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..inference.backend_choice import Workload, default_backend, resolve_backend
from ..inference.inputs import InputImage, describe_skipped, find_inputs, parse_size
from ..inference.outputs import check_outputs, output_items
from ..inference.run import translate_files
from ..inference.translator import Translator, resolve_device
from ..models import load_model
from ..models.source import resolve_source

if TYPE_CHECKING:  # pragma: no cover
    from ..plugin.registry import Registry


def _workload(items: list[InputImage], size: str | None, batch_size: int) -> Workload:
    """What ``--backend auto`` measures: the first input's size (or ``--size``), and the batch size
    (at most the number of inputs)."""
    height = width = None
    parsed = parse_size(size) if size else None  # (height, width); TranslateError naming a bad value
    if parsed is not None:
        height, width = parsed
    elif items:
        try:
            from PIL import Image

            with Image.open(items[0].source) as img:
                width, height = img.size
        except (OSError, AttributeError, ValueError):  # not readable here: the recommended size is measured
            height = width = None
    return Workload(height, width, max(1, min(int(batch_size or 1), len(items) or 1)))


def infer_cli(args: argparse.Namespace, registry: "Registry | None" = None) -> int:
    """``translate infer``: returns 0, or 1 when some inputs failed (each reported on stderr).

    Options added after the first release are read with defaults (``getattr``), so a namespace
    without them (an older parser) still works. ``hf://`` model ids are downloaded through the
    Hub cache (:func:`translate.models.source.resolve_source`).
    """
    found = find_inputs(args.inputs)  # before loading the model: nothing to translate fails at once
    items = found.items
    loaded = load_model(resolve_source(args.model), registry=registry)
    module, info = loaded.generator(getattr(args, "direction", None))
    requested = default_backend(getattr(args, "backend", None))
    mode = getattr(args, "mode", "model")
    choice = resolve_backend(requested, loaded, info.name, mode=info.meta.test_mode if mode == "model" else mode,
                             device=resolve_device(getattr(args, "device", "auto")),
                             precision=getattr(args, "precision", "fp32"), fast=bool(getattr(args, "fast", False)),
                             workload=_workload(items, getattr(args, "size", None), getattr(args, "batch_size", 4))
                             if requested == "auto" else Workload(),
                             echo=lambda line: print(line, file=sys.stderr))
    backend = choice.backend
    if requested == "auto" and choice.seconds:
        print(choice.describe(), file=sys.stderr)
    if backend == "onnx":
        from ..inference.onnx_backend import check_backend, onnx_generator

        check_backend("onnx", mode=info.meta.test_mode if mode == "model" else mode,
                      device=resolve_device(getattr(args, "device", "auto")),
                      precision=getattr(args, "precision", "fp32"), fast=bool(getattr(args, "fast", False)),
                      name=info.name)
        module = onnx_generator(loaded, info.name, echo=lambda line: print(line, file=sys.stderr))
    translator = Translator(
        module,
        info,
        device=getattr(args, "device", "auto"),
        precision=getattr(args, "precision", "fp32"),
        mode=getattr(args, "mode", "model"),
        seed=getattr(args, "seed", 0),
        batch_size=getattr(args, "batch_size", 4),
        size=getattr(args, "size", None),
        tile=getattr(args, "tile", None),
        tile_overlap=getattr(args, "tile_overlap", None),
        channels_last=bool(getattr(args, "channels_last", False)),
        fast=bool(getattr(args, "fast", False)),
        backend=backend,
    )
    out = Path(args.out)
    pairs, html = bool(getattr(args, "pairs", False)), bool(getattr(args, "html", False))
    items = output_items(items, info.meta, html=html)  # .tif names for outputs a PNG cannot hold
    check_outputs(items, out, pairs=pairs, html=html, overwrite=bool(getattr(args, "overwrite", False)))
    created = _missing_folders(out)
    out.mkdir(parents=True, exist_ok=True)
    report = translate_files(translator, items, out, progress=True, pairs=pairs, html=html)
    n = len(report.written)
    skipped = f"; skipped {describe_skipped(found.skipped)}" if found.skipped else ""
    if n == 0:
        for folder in created:  # nothing was written: leave no empty output folder behind
            _remove_if_empty(folder)
        failed = "the input" if len(items) == 1 else f"all {len(items)} inputs"
        print(f"error: nothing translated: {failed} failed (listed above){skipped}", file=sys.stderr)
        return 1
    print(
        f"{n} image{'' if n == 1 else 's'} -> {out} ({report.ms_per_image:.1f} ms/image; "
        f"generator {info.name} {info.meta.input_domain}->{info.meta.output_domain}, "
        f"{translator.mode} mode, {translator.device}, {translator.precision}"
        + "".join(f", {e}" for e in _extras(translator)) + ")" + skipped
    )
    if report.html is not None:
        print(f"comparison page: {report.html}")
    if report.failed:
        print(f"error: {len(report.failed)} of {len(items)} inputs failed (listed above)", file=sys.stderr)
        return 1
    return 0


def _missing_folders(out: Path) -> list[Path]:
    """``out`` and its parents that do not exist yet, deepest first (what ``mkdir(parents=True)`` creates)."""
    missing = []
    for folder in (out, *out.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` when it holds nothing (folders left empty inside it included)."""
    if not folder.is_dir():
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _extras(translator: Translator) -> list[str]:
    """The non-default settings worth naming in the summary line."""
    extras = []
    if translator.scale != 1:
        extras.append(f"{translator.scale}x upscaling")
    if translator.size is not None:
        extras.append(f"resized to {translator.size[1]}x{translator.size[0]}")
    if translator.tile is not None:
        extras.append(f"tiles {translator.tile} overlap {translator.tile_overlap}")
    if translator.channels_last:
        extras.append("channels_last")
    if translator.backend == "onnx":
        extras.append(f"ONNX Runtime ({translator.module.path.name})")
    if translator.fast:
        extras.append("fast path (BatchNorm folded, channels_last)" if translator.mode == "eval"
                      else "fast path (channels_last)")
    return extras


__all__ = ["infer_cli"]
