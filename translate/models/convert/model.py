"""Turning authors' generator checkpoints into a translate model folder (:func:`convert`).

Each file is read safely (:mod:`.checkpoint`), recognised by the registered generators
(:mod:`.recognise`), built for real with the inferred options, filled with
``load_state_dict(strict=True)`` and described by the build record a trained generator has; the
metadata comes from :func:`translate.models.build_meta` and the folder (``model.safetensors``,
``config.json``, ``README.md``) is written by :func:`translate.models.export.save_folder`, so a converted
model infers, exports to ONNX and pushes like a trained one.

Roles and labels follow the authors' file names: ``*_net_G.pth`` is one generator (pix2pix, or a
CycleGAN test-mode model such as the published ``horse2zebra.pth``); ``*_net_G_A.pth`` maps A to B
and ``*_net_G_B.pth`` B to A; two files are one CycleGAN model with both directions. The method
label (the authors' ``--model``) is ``cyclegan`` for those, otherwise ``pix2pix`` when the network
has BatchNorm layers (the authors' pix2pix default) and ``cyclegan`` when not (instance norm, the
CycleGAN default); ``method=`` overrides it. The test-time mode defaults to the authors' ``test.py``
without ``--eval`` (networks in train mode) when that matters, i.e. when the network has BatchNorm
or dropout, and to ``eval`` otherwise (the same outputs).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...components.method import ComponentRecord, ExportSpec
from ...errors import ModelFileError, TranslateError
from .checkpoint import Checkpoint, read_checkpoint
from .recognise import Recognised, recognise

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ...plugin.registry import Registry
    from .. import ModelMeta

AUTHORS_CODE = "pytorch-CycleGAN-and-pix2pix (junyanz)"
"""Whose checkpoint format is read."""
METHODS = ("pix2pix", "cyclegan")
"""Method labels recorded for converted models: the authors' training procedures."""
_ROLE = re.compile(r"net_G_?([AB])$")
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]*$")


@dataclass
class ConvertedGenerator:
    """One converted generator: its export spec, the file it came from, how it was recognised, the
    network and its build record (the component and options that rebuild it)."""

    spec: ExportSpec
    checkpoint: Checkpoint
    recognised: Recognised
    module: "torch.nn.Module"
    record: ComponentRecord


@dataclass
class Conversion:
    """What :func:`convert` wrote."""

    out: Path
    meta: "ModelMeta"
    generators: list[ConvertedGenerator] = field(default_factory=list)


def file_role(path: Path) -> str | None:
    """``"A"`` for ``*_net_G_A.pth``, ``"B"`` for ``*_net_G_B.pth``, None otherwise."""
    m = _ROLE.search(path.stem)
    return m.group(1) if m else None


def default_out(files: list[Path]) -> Path:
    """``<folder of the first file>/<its name without .pth and the _A role>-translate``."""
    first = files[0]
    stem = re.sub(r"_?A$", "", first.stem) if len(files) == 2 and file_role(first) == "A" else first.stem
    return first.parent / f"{stem}-translate"


def _text(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not value or len(value) > limit or not _TEXT.match(value):
        raise TranslateError(f"{what} must be one line of at most {limit} printable characters, got {value[:60]!r}")
    return value


def _order(files: list[Path]) -> list[tuple[Path, str | None]]:
    """The files with their roles, G_A first for a pair."""
    if len(files) == 1:
        return [(files[0], file_role(files[0]))]
    if len(files) != 2:
        raise TranslateError(f"convert takes one generator file or a CycleGAN pair (G_A and G_B), got {len(files)}")
    roles = [file_role(f) for f in files]
    if roles[0] == roles[1] and roles[0] is not None:
        raise TranslateError(f"both files are G_{roles[0]} ({files[0]}, {files[1]}); a CycleGAN pair is "
                             "*_net_G_A.pth (A -> B) and *_net_G_B.pth (B -> A)")
    if roles == ["B", "A"] or roles == ["B", None] or roles == [None, "A"]:
        files = [files[1], files[0]]
    return [(files[0], "A"), (files[1], "B")]


def _has(module: "torch.nn.Module", kinds: tuple[type, ...], dropout: bool = False) -> bool:
    return any(isinstance(m, kinds) and (not dropout or getattr(m, "p", 0) > 0) for m in module.modules())


def _build(rec: Recognised, where: Path) -> tuple["torch.nn.Module", ComponentRecord]:
    comp = rec.component
    module = comp.build(rec.options, in_channels=rec.in_channels, out_channels=rec.out_channels)
    try:
        module.load_state_dict(rec.state, strict=True)
    except RuntimeError as err:
        raise ModelFileError(f"{where}: the weights do not load into {comp.name!r}: {err}") from None
    record = ComponentRecord(
        kind="generator", name=comp.name, options=rec.options.model_dump(mode="json"),
        plugin_name=comp.plugin.name, distribution=comp.plugin.distribution, version=comp.plugin.version,
        in_channels=rec.in_channels, out_channels=rec.out_channels,
    )
    return module.eval(), record


def convert(
    files: list[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    *,
    direction: str | None = None,
    input_domain: str | None = None,
    output_domain: str | None = None,
    generator: str | None = None,
    overrides: dict[str, Any] | None = None,
    method: str | None = None,
    test_mode: str | None = None,
    source: str | None = None,
    license: str | None = None,
    registry: "Registry | None" = None,
) -> Conversion:
    """Convert the authors' generator checkpoint(s) into the model folder ``out``.

    Args:
        files: one ``*_net_G.pth`` / ``*_net_G_A.pth`` / ``*_net_G_B.pth``, or a CycleGAN pair.
        out: the folder to create (must not exist or be empty); default :func:`default_out`.
        direction: a single generator's direction label (default ``AtoB``; ``BtoA`` for a G_B file);
            for a pair, the direction run by default (``AtoB``: G_A).
        input_domain, output_domain: what the (first) generator reads and writes (default ``A``/``B``
            following ``direction``); a pair's G_B maps them the other way.
        generator: the registered generator to read the files with (default: recognised).
        overrides: generator options replacing the inferred ones (e.g. ``{"dropout": 0}``).
        method: the method label, ``pix2pix`` or ``cyclegan`` (default: from the files, see above).
        test_mode: ``train`` or ``eval`` (default: see the module docstring).
        source: where the weights came from (a URL), recorded in the model card.
        license: the weights' licence, recorded in the model card.
        registry: the component registry (default: installed plugins).

    Raises:
        ModelFileError: a file is not a readable tensor checkpoint or no generator reads it.
        TranslateError: bad arguments, or ``out`` exists and is not empty.
    """
    from ..export import _check_target, save_folder

    paths = [Path(f) for f in files]
    ordered = _order(paths)
    target = Path(out) if out is not None else default_out([p for p, _ in ordered])
    _check_target(target)  # before reading hundreds of megabytes
    if method is not None and method not in METHODS:
        raise TranslateError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if test_mode is not None and test_mode not in ("train", "eval"):
        raise TranslateError(f"--test-mode must be 'train' or 'eval', got {test_mode!r}")
    if direction is not None and direction not in ("AtoB", "BtoA"):
        raise TranslateError(f"--direction must be AtoB or BtoA, got {direction!r}")
    src, dst = _text(input_domain, "--input-domain", 100), _text(output_domain, "--output-domain", 100)
    source, license = _text(source, "--source", 900), _text(license, "--license", 200)
    if registry is None:
        from ...plugin.loading import get_registry

        registry = get_registry()
    pair = len(ordered) == 2
    built: list[tuple[Checkpoint, Recognised, Any]] = []
    records: list[ComponentRecord] = []
    for path, _ in ordered:
        ckpt = read_checkpoint(path)
        rec = recognise(ckpt.tensors, registry, where=str(path), generator=generator, overrides=overrides)
        module, record = _build(rec, path)
        built.append((ckpt, rec, module))
        records.append(record)
    from torch import nn

    batchnorm = any(_has(m, (nn.modules.batchnorm._BatchNorm,)) for _, _, m in built)
    if method is None:
        method = "cyclegan" if pair or ordered[0][1] is not None or not batchnorm else "pix2pix"
    if pair and method != "cyclegan":
        raise TranslateError(f"two files make a CycleGAN model (G_A and G_B); --method {method} takes one file")
    specs = _specs(ordered, method, direction, src, dst, test_mode, built)
    generators = [ConvertedGenerator(spec, ckpt, rec, module, record)
                  for spec, (ckpt, rec, module), record in zip(specs, built, records)]
    default = direction or specs[0].direction
    generators.sort(key=lambda g: g.spec.direction != default)  # the default generator first
    meta, tensors = _meta(method, generators, source, license)
    folder = save_folder(target, meta, tensors)
    return Conversion(folder, meta, generators)


def _specs(ordered: list[tuple[Path, str | None]], method: str, direction: str | None, src: str | None,
           dst: str | None, test_mode: str | None, built: list[tuple[Checkpoint, Recognised, Any]]) -> list[ExportSpec]:
    from torch import nn

    def mode(module: Any) -> str:
        if test_mode is not None:
            return test_mode
        stochastic = _has(module, (nn.modules.batchnorm._BatchNorm,)) or _has(module, (nn.Dropout,), dropout=True)
        return "train" if stochastic else "eval"

    if len(ordered) == 2:
        a, b = src or "A", dst or "B"
        ab = ExportSpec("AtoB", "G_A", "AtoB", a, b, mode(built[0][2]))
        ba = ExportSpec("BtoA", "G_B", "BtoA", b, a, mode(built[1][2]))
        return [ab, ba]  # in file order (G_A, G_B); the default is put first by the caller
    role = ordered[0][1]
    d = direction or ("BtoA" if role == "B" else "AtoB")
    a, b = ("A", "B") if d == "AtoB" else ("B", "A")
    name = "G" if method == "pix2pix" else d
    return [ExportSpec(name, "G", d, src or a, dst or b, mode(built[0][2]))]


def _meta(method: str, generators: list[ConvertedGenerator], source: str | None,
          license: str | None) -> tuple["ModelMeta", dict[str, "torch.Tensor"]]:
    """The metadata (the build record of each module, the provenance) and the tensors to write."""
    from .. import ModelMeta, build_meta
    from ..schema import ConvertedFile, PluginMeta, ProvenanceMeta

    meta, tensors = build_meta(method=method, exports=[(g.spec, g.module, g.record) for g in generators],
                               limitations=_provenance_lines(generators, source, license))
    provenance = ProvenanceMeta(
        converted_from=converted_from(generators),
        files=[ConvertedFile(name=_printable(g.checkpoint.path.name)[:200], sha256=g.checkpoint.sha256,
                             generator=g.spec.name, read_by=g.recognised.component.name,
                             plugin=PluginMeta(name=_printable(p.name)[:200], version=_printable(p.version)[:100],
                                               distribution=_printable(p.distribution)[:200]),
                             builtin=p.builtin)
               for g in generators for p in [g.recognised.component.plugin]],
        source=source, license=license,
    )
    meta = ModelMeta.model_validate_json(meta.model_copy(update={"provenance": provenance}).model_dump_json())
    return meta, tensors


def converted_from(generators: list[ConvertedGenerator]) -> str:
    """What the weights were converted from, as far as translate knows: the authors' code only when translate's own
    generators recognised every file (their layouts are the authors'); otherwise which plugin's generator read them."""
    comps = list({id(g.recognised.component): g.recognised.component for g in generators}.values())
    if all(c.plugin.builtin for c in comps):
        return f"checkpoints of the authors' {AUTHORS_CODE} code"
    readers = [f"built-in generator {c.name!r} (the authors' layout)" if c.plugin.builtin else
               f"generator {c.name!r} of plugin {_clip(c.plugin.name, 40)!r} ({_clip(c.plugin.distribution, 50)} "
               f"{_clip(c.plugin.version, 20)})" for c in comps]
    return _clip("a checkpoint layout recognised by " + " and ".join(readers), 200)


def _clip(text: str, limit: int) -> str:
    text = _printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text) or "?"


def _provenance_lines(generators: list[ConvertedGenerator], source: str | None, license: str | None) -> list[str]:
    """The limit a converted model carries into its card (each limitation under 1000 characters); the files,
    source and licence are in the metadata's ``provenance`` (the card's Provenance section)."""
    said = f" (given as their source: {_clip(source, 300)})" if source else ""
    return [
        f"Converted by translate convert from {converted_from(generators)}{said}. translate did not "
        "train these weights: their training data, recipe and length are not recorded here.",
    ]


__all__ = ["AUTHORS_CODE", "METHODS", "Conversion", "ConvertedGenerator", "convert", "converted_from", "default_out",
           "file_role"]
