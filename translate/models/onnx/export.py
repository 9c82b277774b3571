"""``export_onnx``: every (or one) generator of a model written as ONNX, checked, and renamed into
place only when all have passed; the :class:`OnnxReport` says what was written and how closely
ONNX Runtime matched PyTorch."""

from __future__ import annotations

import contextlib
import importlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ...errors import TranslateError
from ...utils.atomic import atomic_path
from ...utils.hashing import file_sha256
from .. import LoadedModel, load_model, resolve_model_path
from .check import DEFAULT_SIZES, SizeCheck, check_parity
from .graph import DEFAULT_OPSET, MIN_OPSET, annotate, to_onnx

if TYPE_CHECKING:  # pragma: no cover
    from ...plugin.registry import Registry

_INSTALL = 'pip install "translate-i2i[onnx]"'


@dataclass(frozen=True)
class GeneratorExport:
    """One generator written as ONNX."""

    name: str
    path: Path
    direction: str
    size_multiple: int
    exporter: str
    checks: tuple[SizeCheck, ...] = ()
    scale_factor: int = 1

    @property
    def max_abs_diff(self) -> float | None:
        """The largest difference over all checked sizes (None when not checked)."""
        return max((c.max_abs_diff for c in self.checks), default=None)


@dataclass
class OnnxReport:
    """What :func:`export_onnx` wrote and how closely ONNX Runtime matched PyTorch."""

    model_path: Path
    opset: int
    tolerance: float
    checked: bool
    generators: list[GeneratorExport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """The ONNX files written, one per generator."""
        return [g.path for g in self.generators]

    @property
    def exporter(self) -> str:
        """The exporter(s) used: "torch.export" (normally) or "TorchScript" (fallback)."""
        return ", ".join(dict.fromkeys(g.exporter for g in self.generators))

    @property
    def max_abs_diff(self) -> float | None:
        """The largest difference over every generator and size (None when not checked)."""
        diffs = [g.max_abs_diff for g in self.generators if g.max_abs_diff is not None]
        return max(diffs, default=None)

    def lines(self) -> list[str]:
        """A human-readable account, one line per generator."""
        out = []
        for g in self.generators:
            scale = f", output {g.scale_factor}x the input's size" if g.scale_factor != 1 else ""
            line = f"wrote {g.path} ({g.name}, {g.direction}{scale}; opset {self.opset}, {g.exporter} exporter)"
            if g.checks:
                sizes = ", ".join("x".join(str(v) for v in c.shape) for c in g.checks)
                line += (f"; onnxruntime vs PyTorch: max |difference| {g.max_abs_diff:.3g} "
                         f"(tolerance {self.tolerance:g}; inputs {sizes})")
            out.append(line)
        return out


def export_onnx(
    model_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str] | None = None,
    *,
    generator: str | None = None,
    opset: int | None = None,
    check: bool = True,
    tolerance: float = 1e-3,
    sizes: Sequence[tuple[int, int, int]] = DEFAULT_SIZES,
    seed: int = 0,
    registry: "Registry | None" = None,
    echo: Callable[[str], None] | None = print,
) -> OnnxReport:
    """Export the generators of a model file (or model/run folder) to ONNX and check them.

    Args:
        model_path: ``model.safetensors`` or a folder holding it.
        out_path: a folder to write into (created if needed; default: the model file's folder),
            or a ``.onnx`` file name when a single generator is exported.
        generator: export only this generator (export name or direction); default: all.
        opset: ONNX opset (default :data:`~translate.models.onnx.DEFAULT_OPSET`; at least 18).
        check: compare ONNX Runtime with PyTorch on random inputs (needs ``onnxruntime``).
        tolerance: the largest allowed absolute difference between the two outputs.
        sizes: ``(batch, height, width)`` of the check inputs, each rounded up to a multiple
            of the generator's ``size_multiple``.
        seed: seed of the random check inputs.
        registry: the component registry (default: the installed plugins).
        echo: where the report lines and warnings go (None: nowhere).

    Returns:
        An :class:`OnnxReport` with the files written and the differences measured.

    Raises:
        TranslateError: ONNX packages missing, bad arguments, the export failed, or the
            difference exceeds ``tolerance`` (no ONNX file is then left behind).
        ModelFileError: the model file is invalid.
    """
    opset = DEFAULT_OPSET if opset is None else int(opset)
    if opset < MIN_OPSET:
        raise TranslateError(f"ONNX opset {opset} is not supported: the exporter writes opset {MIN_OPSET} or later")
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise TranslateError(f"ONNX check tolerance must be a finite number >= 0, got {tolerance}")
    sizes = [tuple(int(v) for v in s) for s in sizes]
    if check and (not sizes or any(len(s) != 3 or min(s) < 1 for s in sizes)):
        raise TranslateError(
            f"ONNX check sizes must be (batch, height, width) triples of positive integers, got {sizes}")
    require_onnx(check=check)

    src = resolve_model_path(model_path)
    loaded = load_model(src, registry)
    names = [loaded.generator(generator)[1].name] if generator is not None else loaded.names
    targets = _targets(loaded, names, src, out_path)

    report = OnnxReport(src, opset, tolerance, check)

    def warn(note: str) -> None:
        report.warnings.append(note)
        if echo is not None:
            echo(f"warning: {note}")

    with contextlib.ExitStack() as temps:  # on leaving: every file renamed into place, or (on an error) removed
        for name in names:
            module, info = loaded.generator(name)
            meta = info.meta
            if meta.test_mode == "train":
                warn(f"generator {name!r} was recorded with test-time mode 'train' (dropout and batch "
                     "statistics at test time); the ONNX model uses eval mode, so its outputs differ "
                     "from `translate infer`")
            module = module.eval()
            target = targets[name]
            proto, exporter, fallback = to_onnx(module, meta, opset, name)
            if fallback:
                warn(f"generator {name!r}: the torch.export-based ONNX exporter failed ({fallback}); "
                     "used the legacy TorchScript exporter")
            annotate(proto, name, meta, loaded.meta.method, model_sha256=file_sha256(src))
            tmp = temps.enter_context(atomic_path(target))
            _write(proto, tmp, target)
            checks: tuple[SizeCheck, ...] = ()
            if check:
                checks = check_parity(module, tmp, meta, sizes, seed)
                worst = max(c.max_abs_diff for c in checks)
                if not worst <= tolerance:  # NaN fails too
                    detail = ", ".join(f"{'x'.join(map(str, c.shape))}: {c.max_abs_diff:.3g}" for c in checks)
                    raise TranslateError(
                        f"ONNX export of generator {name!r} from {src} does not match PyTorch: max |difference| "
                        f"{worst:.3g} exceeds the tolerance {tolerance:g} ({detail}); no ONNX file was written"
                    )
            report.generators.append(
                GeneratorExport(name, target, meta.direction, meta.size_multiple, exporter, checks,
                                meta.scale_factor))
    if echo is not None:
        for line in report.lines():
            echo(line)
    return report


def require_onnx(*, check: bool = True) -> None:
    """Raise TranslateError unless the ONNX extras are installed (``onnxruntime`` too when ``check``).

    ``translate export --onnx`` calls it before writing anything, so a missing extra costs nothing.
    """
    _require("onnx", "onnxscript", *(["onnxruntime"] if check else []))


def _require(*modules: str) -> None:
    """Raise TranslateError naming the modules that are not installed and how to install them."""
    missing = []
    for mod in modules:
        try:
            importlib.import_module(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise TranslateError(f"ONNX export needs {', '.join(missing)}, which {verb} not installed: {_INSTALL}")


def _targets(loaded: LoadedModel, names: list[str], src: Path, out_path: Any) -> dict[str, Path]:
    out = Path(out_path) if out_path is not None else src.parent
    if out.suffix.lower() == ".onnx":
        if len(names) != 1:
            raise TranslateError(
                f"{out}: one .onnx file cannot hold the {len(names)} generators {', '.join(names)}; "
                "give a folder, or pick one generator"
            )
        return {names[0]: out}
    if out.exists() and not out.is_dir():
        raise TranslateError(f"{out}: not a folder")
    single = len(loaded.meta.generators) == 1
    return {name: out / ("model.onnx" if single else f"{name}.onnx") for name in names}


def _write(proto: Any, tmp: Path, target: Path) -> None:
    """Check ``proto`` with the ONNX checker and write it to ``tmp`` (the temp file of ``target``)."""
    import onnx

    try:
        onnx.checker.check_model(proto)
        tmp.write_bytes(proto.SerializeToString())
    except Exception as err:  # noqa: BLE001 - the checker's or the disk's error, named with the file
        raise TranslateError(f"{target}: cannot write the ONNX model: {type(err).__name__}: {err}") from None


__all__ = ["GeneratorExport", "OnnxReport", "export_onnx"]
