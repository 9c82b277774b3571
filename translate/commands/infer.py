"""``translate infer MODEL INPUT... --out DIR``: the command-line glue around a :class:`Translator` run.

The parser lives in :mod:`translate.commands.main`; :func:`infer_cli` takes its namespace. Tests inject
plugins into the CLI path by setting ``translate.plugin.loading._CACHE`` (what
:func:`translate.plugin.loading.get_plugins` returns) with ``monkeypatch``; :func:`infer_cli` also
takes an explicit ``registry``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..inference.inputs import collect_inputs
from ..inference.outputs import check_outputs
from ..inference.run import translate_files
from ..inference.translator import Translator
from ..models import load_model
from ..models.source import resolve_source

if TYPE_CHECKING:  # pragma: no cover
    from ..plugin.registry import Registry


def infer_cli(args: argparse.Namespace, registry: "Registry | None" = None) -> int:
    """``translate infer``: returns 0, or 1 when some inputs failed (each reported on stderr).

    Options added after the first release are read with defaults (``getattr``), so a namespace
    without them (an older parser) still works. ``hf://`` model ids are downloaded through the
    Hub cache (:func:`translate.models.source.resolve_source`).
    """
    loaded = load_model(resolve_source(args.model), registry=registry)
    module, info = loaded.generator(getattr(args, "direction", None))
    items = collect_inputs(args.inputs)
    backend = getattr(args, "backend", None) or "torch"
    if backend == "onnx":
        from ..inference.onnx_backend import check_backend, onnx_generator
        from ..inference.translator import resolve_device

        mode = getattr(args, "mode", "model")
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
    check_outputs(items, out, pairs=pairs, html=html, overwrite=bool(getattr(args, "overwrite", False)))
    out.mkdir(parents=True, exist_ok=True)
    report = translate_files(translator, items, out, progress=True, pairs=pairs, html=html)
    n = len(report.written)
    print(
        f"{n} image{'' if n == 1 else 's'} -> {out} ({report.ms_per_image:.1f} ms/image; "
        f"generator {info.name} {info.meta.input_domain}->{info.meta.output_domain}, "
        f"{translator.mode} mode, {translator.device}, {translator.precision}"
        + "".join(f", {e}" for e in _extras(translator)) + ")"
    )
    if report.html is not None:
        print(f"comparison page: {report.html}")
    if report.failed:
        print(f"error: {len(report.failed)} of {len(items)} inputs failed (listed above)", file=sys.stderr)
        return 1
    return 0


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
