"""The ONNX Runtime backend: a generator run by ONNX Runtime instead of PyTorch, for CPU inference.

ONNX Runtime runs translate's generators on the CPU faster than PyTorch's eager fp32 on the
machines measured (docs/performance.md), in fp32 and within ``1e-3`` of PyTorch (what
``translate export --onnx`` checks). ``backend="onnx"`` (``translate infer --backend onnx``,
``translate.load(..., backend="onnx")``, ``translate serve --backend onnx``) runs a generator through it:

- the ONNX file is the one ``translate export --onnx`` wrote beside the model *for this very model
  file* (its metadata names the generator and the model file's sha256), else one exported on first
  use into ``~/.cache/translate/onnx/<model sha256>/<generator>.onnx`` (``$XDG_CACHE_HOME``
  honoured) by :func:`translate.models.onnx.export_onnx`, which checks it against PyTorch before it
  is kept; later loads reuse it;
- it runs in eval mode (the exported graph has no dropout or batch statistics), fp32, on the CPU; the
  :class:`~translate.inference.translator.Translator` around it pads, tiles, batches and crops as for
  the PyTorch module.

Needs the ``onnx`` extra (``pip install "translate-i2i[onnx]"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import TranslateError
from ..utils.cache import cache_folder
from ..utils.hashing import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from ..models import LoadedModel

BACKENDS = ("torch", "onnx")
"""The inference backends: PyTorch (every device, precision and test mode) or ONNX Runtime (CPU, fp32, eval)."""
SHA_KEY = "translate.model_sha256"
NAME_KEY = "translate.generator"


def onnx_cache_folder() -> Path:
    """``~/.cache/translate/onnx`` (``$XDG_CACHE_HOME/translate/onnx`` when that is set)."""
    return cache_folder("onnx")


def _metadata(path: Path) -> dict[str, str]:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def onnx_file(loaded: "LoadedModel", name: str, *, echo: Any = None) -> Path:
    """The ONNX file of generator ``name`` of ``loaded``: beside the model when it was exported from this very
    file, else in the cache (exported and checked against PyTorch on first use).

    Raises:
        TranslateError: the ONNX extra is missing, or the export failed its check.
    """
    from ..models.onnx import export_onnx
    from ..models.onnx.export import require_onnx

    require_onnx(check=True)
    sha = file_sha256(loaded.path)
    single = len(loaded.meta.generators) == 1
    for candidate in (loaded.path.parent / ("model.onnx" if single else f"{name}.onnx"),
                      onnx_cache_folder() / sha / f"{name}.onnx"):
        if candidate.is_file():
            try:
                meta = _metadata(candidate)
            except Exception:  # noqa: BLE001 - an unreadable file is not the one we look for
                continue
            if meta.get(SHA_KEY) == sha and meta.get(NAME_KEY) == name:
                return candidate
    target = onnx_cache_folder() / sha / f"{name}.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(loaded.path, target, generator=name, echo=echo)
    return target


class OnnxGenerator(torch.nn.Module):
    """A generator run by an ONNX Runtime session: ``(N, C, H, W)`` float32 tensors in, tensors out (CPU).

    It declares the generator's ``size_multiple`` and ``scale_factor`` like the module it replaces.
    """

    def __init__(self, path: Path, size_multiple: int, scale_factor: int, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # ONNX Runtime's worker threads spin between calls by default, taking the cores from everything else
        # in the process (PyTorch, the server's threads); translate shares its process, so they sleep instead
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.size_multiple, self.scale_factor = size_multiple, scale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the session on ``x`` (moved to the CPU, float32, contiguous).

        Raises:
            TranslateError: the height or width is not a multiple of ``size_multiple`` (the graph cannot run
                it; the :class:`~translate.inference.translator.Translator` pads images before they get here).
        """
        height, width = int(x.shape[-2]), int(x.shape[-1])
        m = self.size_multiple
        if height % m or width % m:
            raise TranslateError(
                f"{self.path}: the ONNX graph takes heights and widths that are multiples of {m}, got "
                f"{width}x{height}: pad the input to {-(-width // m) * m}x{-(-height // m) * m} and crop the "
                "output back (translate.load and translate infer do this)")
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        (out,) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(out)


def onnx_generator(loaded: "LoadedModel", name: str, *, echo: Any = None) -> OnnxGenerator:
    """Generator ``name`` of ``loaded`` as an :class:`OnnxGenerator` (the ONNX file found or made by
    :func:`onnx_file`)."""
    meta = loaded.meta.generators[name]
    return OnnxGenerator(onnx_file(loaded, name, echo=echo), meta.size_multiple, meta.scale_factor)


def check_backend(backend: str, *, mode: str, device: "torch.device", precision: str, fast: bool,
                  name: str) -> None:
    """Refuse a backend that cannot run as asked (ONNX Runtime: eval mode, CPU, fp32, no fast path).

    Raises:
        TranslateError: names the generator, the setting and what to use instead.
    """
    if backend not in BACKENDS:
        raise TranslateError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return
    problems = []
    if mode != "eval":
        problems.append(f"test-time mode {mode!r} (the exported graph has no dropout or batch statistics: "
                        "use --mode eval, or backend torch)")
    if device.type != "cpu":
        problems.append(f"device {device} (ONNX Runtime runs here on the CPU: use --device cpu)")
    if precision != "fp32":
        problems.append(f"precision {precision!r} (the ONNX file is fp32)")
    if fast:
        problems.append("the fast path (it is PyTorch's; ONNX Runtime does its own graph optimisation)")
    if problems:
        raise TranslateError(f"generator {name!r} cannot run with backend onnx: " + "; ".join(problems))


__all__ = ["BACKENDS", "OnnxGenerator", "check_backend", "onnx_cache_folder", "onnx_file", "onnx_generator"]
