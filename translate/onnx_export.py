"""ONNX export: ``translate export RUN --onnx`` and :func:`export_onnx`.

Each generator of a model file is written as an ONNX model and then checked against
PyTorch with ONNX Runtime:

- **eval-mode graph.** The network is exported in eval mode: BatchNorm uses its running
  statistics and Dropout is the identity. A generator recorded with test-time mode
  ``"train"`` (pix2pix's default: dropout and batch statistics at test time) therefore
  behaves differently in ONNX than ``translate infer``; a warning says so.
- **inputs and outputs.** One input ``"input"``, float32 ``(N, C_in, H, W)`` holding
  normalised pixels in the model's ``value_range`` (``[-1, 1]`` for the built-in models: pixels
  ``x`` in [0, 1] fed as ``(x - 0.5) / 0.5``), and one output ``"output"``, float32
  ``(N, C_out, H, W)`` in the same range. The batch, height and width axes are dynamic
  (named ``batch``, ``height``, ``width``); H and W must be multiples of the generator's
  ``size_multiple`` (stored in the ONNX metadata as ``translate.size_multiple``), which the
  ONNX graph does not check.
- **files.** ``model.onnx`` when the model has a single generator, ``<name>.onnx`` for each
  generator otherwise (CycleGAN: ``AtoB.onnx`` and ``BtoA.onnx``). Each is written to a
  temporary file, checked, and renamed into place only when every requested generator has
  passed, so a failed export leaves no ONNX file behind.
- **exporter.** The ``torch.export``-based exporter (``torch.onnx.export(..., dynamo=True)``,
  which needs ``onnxscript``) at opset :data:`DEFAULT_OPSET` (18, its lowest native opset;
  ONNX Runtime 1.14 and later run it). Should it fail on a third-party network, the legacy
  TorchScript exporter is tried instead and the report says so.
- **check.** For each generator, random inputs uniform in [-1, 1] at several sizes (rounded
  up to multiples of ``size_multiple``, a non-square one among them, batch sizes 1 and 2
  by default) go through PyTorch (CPU, float32, eval mode) and through ONNX Runtime's
  ``CPUExecutionProvider``; the largest absolute difference is reported, and a
  :class:`~translate.errors.TranslateError` is raised when it exceeds ``tolerance``.

``onnx``, ``onnxscript`` and ``onnxruntime`` are imported only here, lazily; they come with
``pip install "translate-i2i[onnx]"``.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .atomic import umask
from .errors import TranslateError
from .modelfile import LoadedModel, load_model, resolve_model_path

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from .modelfile import GeneratorMeta
    from .registry import Registry

DEFAULT_OPSET = 18
"""ONNX opset written by default (the lowest the ``torch.export``-based exporter writes natively)."""

MIN_OPSET = 18
DEFAULT_SIZES: tuple[tuple[int, int, int], ...] = ((1, 256, 256), (2, 256, 512))
"""Check sizes ``(batch, height, width)``, rounded up to multiples of the generator's size_multiple."""

INPUT_NAME = "input"
OUTPUT_NAME = "output"
_AXES = {0: "batch", 2: "height", 3: "width"}
_INSTALL = 'pip install "translate-i2i[onnx]"'


@dataclass(frozen=True)
class SizeCheck:
    """One parity check: input shape ``(N, C, H, W)`` and the largest ``|onnx - torch|``."""

    shape: tuple[int, int, int, int]
    max_abs_diff: float


@dataclass(frozen=True)
class GeneratorExport:
    """One generator written as ONNX."""

    name: str
    path: Path
    direction: str
    size_multiple: int
    exporter: str
    checks: tuple[SizeCheck, ...] = ()

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
            line = f"wrote {g.path} ({g.name}, {g.direction}; opset {self.opset}, {g.exporter} exporter)"
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
        opset: ONNX opset (default :data:`DEFAULT_OPSET`; at least 18).
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
        raise TranslateError(f"ONNX check sizes must be (batch, height, width) triples of positive integers, got {sizes}")
    _require("onnx", "onnxscript", *(["onnxruntime"] if check else []))

    src = resolve_model_path(model_path)
    loaded = load_model(src, registry)
    names = [loaded.generator(generator)[1].name] if generator is not None else loaded.names
    targets = _targets(loaded, names, src, out_path)

    report = OnnxReport(src, opset, tolerance, check)
    temps: list[tuple[Path, Path]] = []
    try:
        for name in names:
            module, info = loaded.generator(name)
            meta = info.meta
            if meta.test_mode == "train":
                note = (f"generator {name!r} was recorded with test-time mode 'train' (dropout and batch "
                        "statistics at test time); the ONNX model uses eval mode, so its outputs differ "
                        "from `translate infer`")
                report.warnings.append(note)
                if echo is not None:
                    echo(f"warning: {note}")
            module = module.eval()
            target = targets[name]
            target.parent.mkdir(parents=True, exist_ok=True)
            proto, exporter, fallback = _export(module, meta, opset, name)
            if fallback:
                note = (f"generator {name!r}: the torch.export-based ONNX exporter failed ({fallback}); "
                        "used the legacy TorchScript exporter")
                report.warnings.append(note)
                if echo is not None:
                    echo(f"warning: {note}")
            _annotate(proto, name, meta, loaded)
            tmp = _write_temp(proto, target)
            temps.append((tmp, target))
            checks: tuple[SizeCheck, ...] = ()
            if check:
                checks = _check(module, tmp, meta, sizes, seed)
                worst = max(c.max_abs_diff for c in checks)
                if not worst <= tolerance:  # NaN fails too
                    detail = ", ".join(f"{'x'.join(map(str, c.shape))}: {c.max_abs_diff:.3g}" for c in checks)
                    raise TranslateError(
                        f"ONNX export of generator {name!r} from {src} does not match PyTorch: max |difference| "
                        f"{worst:.3g} exceeds the tolerance {tolerance:g} ({detail}); no ONNX file was written"
                    )
            report.generators.append(GeneratorExport(name, target, meta.direction, meta.size_multiple, exporter, checks))
        for tmp, target in temps:
            os.replace(tmp, target)
        temps.clear()
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
    if echo is not None:
        for line in report.lines():
            echo(line)
    return report


# --------------------------------------------------------------------------- helpers


def _require(*modules: str) -> None:
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


def _example(meta: "GeneratorMeta") -> "torch.Tensor":
    import torch

    m = meta.size_multiple
    unit = m * max(1, math.ceil(64 / m))  # >= 64 so that padding layers fit; H != W != N
    return torch.zeros(2, meta.in_channels, unit, 2 * unit)


def _export(module: "torch.nn.Module", meta: "GeneratorMeta", opset: int, name: str) -> tuple[Any, str, str]:
    """The ONNX ModelProto of ``module`` (eval mode), the exporter used, why the first one failed ("")."""
    import onnx
    import torch

    x = _example(meta)
    try:
        from torch.export import Dim

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (x,), None, dynamo=True, verbose=False, opset_version=opset, external_data=False,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC},),
            )
        return program.model_proto, "torch.export", ""
    except Exception as first:  # noqa: BLE001 - a network torch.export cannot capture: try TorchScript
        reason = f"{type(first).__name__}: {str(first).strip().splitlines()[0] if str(first).strip() else ''}"
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (x,), buf, dynamo=False, opset_version=opset,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: dict(_AXES), OUTPUT_NAME: dict(_AXES)},
            )
    except Exception as second:  # noqa: BLE001
        raise TranslateError(
            f"ONNX export of generator {name!r} failed: torch.export exporter: {reason}; "
            f"TorchScript exporter: {type(second).__name__}: {second}"
        ) from None
    return onnx.load_from_string(buf.getvalue()), "TorchScript", reason


def _annotate(proto: Any, name: str, meta: "GeneratorMeta", loaded: LoadedModel) -> None:
    """Name the dynamic axes and record how to feed the model in its metadata."""
    for value, channels in ((proto.graph.input[0], meta.in_channels), (proto.graph.output[0], meta.out_channels)):
        dims = value.type.tensor_type.shape.dim
        for i, dim in enumerate(dims):
            if i in _AXES:
                dim.Clear()
                dim.dim_param = _AXES[i]
            elif i == 1:
                dim.Clear()
                dim.dim_value = channels
    from .version import __version__

    props = {
        "translate.version": __version__,
        "translate.method": loaded.meta.method,
        "translate.generator": name,
        "translate.component": meta.component,
        "translate.direction": meta.direction,
        "translate.input_domain": meta.input_domain,
        "translate.output_domain": meta.output_domain,
        "translate.in_channels": str(meta.in_channels),
        "translate.out_channels": str(meta.out_channels),
        "translate.size_multiple": str(meta.size_multiple),
        "translate.value_range": json.dumps(list(meta.value_range)),
        "translate.normalization": meta.normalization.model_dump_json(),
        "translate.test_mode": "eval",
    }
    existing = {p.key: p for p in proto.metadata_props}
    for key, value in props.items():
        entry = existing.get(key) or proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = (
        f"translate generator {name!r} ({meta.component}, {meta.direction}): input {INPUT_NAME!r} float32 "
        f"(batch, {meta.in_channels}, height, width) in {list(meta.value_range)}, height and width multiples "
        f"of {meta.size_multiple}; output {OUTPUT_NAME!r} (batch, {meta.out_channels}, height, width). Eval mode."
    )


def _write_temp(proto: Any, target: Path) -> Path:
    import onnx

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    path = Path(tmp)
    try:
        onnx.checker.check_model(proto)
        with open(path, "wb") as fh:
            fh.write(proto.SerializeToString())
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(path, 0o666 & ~umask())  # mkstemp makes 0600
    except BaseException as err:
        path.unlink(missing_ok=True)
        if isinstance(err, Exception) and not isinstance(err, TranslateError):
            raise TranslateError(f"{target}: cannot write the ONNX model: {type(err).__name__}: {err}") from None
        raise
    return path


def _check(
    module: "torch.nn.Module", path: Path, meta: "GeneratorMeta", sizes: list[tuple[int, ...]], seed: int
) -> tuple[SizeCheck, ...]:
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    m = meta.size_multiple
    lo, hi = meta.value_range
    results = []
    for n, h, w in sizes:
        shape = (n, meta.in_channels, _round_up(h, m), _round_up(w, m))
        x = torch.rand(shape, generator=gen) * (hi - lo) + lo
        expected = _reference(module, x)
        (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
        if got.shape != expected.shape:
            raise TranslateError(
                f"ONNX model {path.name}: output shape {tuple(got.shape)} for input {shape}, "
                f"PyTorch gives {tuple(expected.shape)}"
            )
        diff = float(abs(got.astype("float64") - expected.astype("float64")).max()) if got.size else 0.0
        results.append(SizeCheck(shape, diff))  # type: ignore[arg-type]
    return tuple(results)


def _reference(module: "torch.nn.Module", x: "torch.Tensor") -> "np.ndarray":
    """PyTorch's output (eval mode, CPU, float32) for ``x``."""
    import torch

    with torch.inference_mode():
        return module(x).float().numpy()


def _round_up(value: int, multiple: int) -> int:
    return max(1, math.ceil(value / multiple)) * multiple


__all__ = ["DEFAULT_OPSET", "GeneratorExport", "OnnxReport", "SizeCheck", "export_onnx"]
