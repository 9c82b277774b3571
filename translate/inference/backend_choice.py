"""``backend = "auto"``: PyTorch or ONNX Runtime, whichever measured faster for this model on this machine.

Which CPU backend is faster depends on the generator, the input size and the CPU: on the development
CPU ONNX Runtime ran a U-Net 1.6x faster than PyTorch, a ResNet generator level at 256x256 and 1.5x
faster at 1024x1024, and an SRResNet 0.8x (docs/performance.md). So ``auto`` measures:

- it considers ONNX Runtime only where it can run as asked (the ``onnx`` extra installed, the CPU,
  fp32, eval mode, no fast path: :func:`translate.inference.onnx_backend.check_backend`); otherwise
  it is PyTorch, silently, since nothing else was possible;
- the generator's ONNX file is found or exported on first use (:func:`~.onnx_backend.onnx_file`,
  checked against PyTorch there), then both backends translate the same random batch, :data:`ROUNDS`
  times each in turns, shaped like the work at hand (:class:`Workload`: ``translate infer`` the size
  of its first input and its batch size, ``translate serve`` its largest batch, else the model's
  recommended size, 256 when it records none; at most :data:`MAX_PIXELS` pixels an image);
- ONNX Runtime is kept when its median is at least :data:`MARGIN` times faster and its output agrees
  with PyTorch's within :data:`TOLERANCE`; a tie keeps PyTorch (one runtime, no export);
- the outcome is cached per machine (CPU model and features, threads, library versions), model file
  (its SHA-256), generator and workload in ``~/.cache/translate/backend``, so it is measured once.

``TRANSLATE_BACKEND`` sets the backend of ``translate infer`` and ``translate serve`` when their
``--backend`` is not given (``torch``, ``onnx`` or ``auto``, the default).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import TranslateError
from ..utils.cache import cache_folder as user_cache
from ..utils.cache import read_keyed, write_keyed
from ..utils.cpu import cpu_summary
from ..utils.hashing import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..models.reader import LoadedModel

CHOICES = ("auto", "torch", "onnx")
ROUNDS = 5
MARGIN = 1.1
"""How much faster ONNX Runtime must measure to be chosen over PyTorch."""
TOLERANCE = 1e-3
"""Largest difference between the two backends' outputs (values in [-1, 1]) for ONNX Runtime to be chosen."""
DEFAULT_SIZE = 256
MAX_PIXELS = 1024 * 1024
"""The largest image measured: larger inputs are measured at this many pixels (their aspect kept)."""
ENV = "TRANSLATE_BACKEND"


@dataclass(frozen=True)
class Workload:
    """The shape of the work to measure: an input of ``height`` x ``width`` (None: the model's
    recommended size), ``batch`` images per call."""

    height: int | None = None
    width: int | None = None
    batch: int = 1

    def shape(self, loaded: "LoadedModel", name: str) -> tuple[int, int, int]:
        """``(batch, height, width)`` as measured: padded to the generator's size multiple, at most
        :data:`MAX_PIXELS` per image."""
        multiple = max(1, loaded.meta.generators[name].size_multiple)
        side = int(loaded.meta.preprocessing.recommended_size or DEFAULT_SIZE)
        h, w = self.height or side, self.width or side
        shrink = max(1.0, (h * w / MAX_PIXELS) ** 0.5)
        h, w = (max(1, int(v / shrink)) for v in (h, w))
        return max(1, self.batch), -(-h // multiple) * multiple, -(-w // multiple) * multiple


@dataclass(frozen=True)
class BackendChoice:
    """The backend ``auto`` chose, and why: ``seconds`` per call of each backend on ``shape`` (empty when
    nothing was measured), ``source`` (``measured``, ``cache FILE`` or why ONNX Runtime was not considered)."""

    backend: str
    shape: tuple[int, int, int] = (0, 0, 0)  # (batch, height, width) measured
    seconds: dict[str, float] = field(default_factory=dict)
    source: str = "measured"

    def describe(self) -> str:
        """One line for the command's output."""
        if not self.seconds:
            return f"backend: {self.backend} ({self.source})"
        torch_s, onnx_s = self.seconds.get("torch"), self.seconds.get("onnx")
        ratio = f"; ONNX Runtime {torch_s / onnx_s:.2f}x PyTorch's speed" if torch_s and onnx_s else ""
        timed = ", ".join(f"{name} {s * 1e3:.1f} ms" for name, s in self.seconds.items())
        where = "measured" if self.source == "measured" else f"from {self.source}"
        batch, height, width = self.shape
        return f"backend: {self.backend} ({where} on {batch} x {width}x{height}: {timed}{ratio})"


def default_backend(given: str | None) -> str:
    """``given``, else ``$TRANSLATE_BACKEND``, else ``auto``.

    Raises:
        TranslateError: the environment variable names no backend.
    """
    if given:
        return given
    value = os.environ.get(ENV, "").strip() or "auto"
    if value not in CHOICES:
        raise TranslateError(f"{ENV}={value!r}: expected one of {', '.join(CHOICES)}")
    return value


def onnx_unavailable(*, mode: str, device: torch.device, precision: str, fast: bool, name: str) -> str | None:
    """Why ONNX Runtime cannot run generator ``name`` as asked, or None when it can."""
    from .onnx_backend import check_backend

    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return 'the onnx extra is not installed (pip install "translate-i2i[onnx]")'
    try:
        check_backend("onnx", mode=mode, device=device, precision=precision, fast=fast, name=name)
    except TranslateError as err:
        return str(err)
    return None


def resolve_backend(requested: str, loaded: "LoadedModel", name: str, *, mode: str, device: torch.device,
                    precision: str, fast: bool, workload: Workload = Workload(),
                    echo: Callable[[str], None] | None = None) -> BackendChoice:
    """The backend to run generator ``name`` with: ``requested`` itself unless it is ``auto``; for ``auto``,
    PyTorch where ONNX Runtime cannot run as asked (``mode``: the effective test-time mode), else the
    faster one measured on ``workload`` (:func:`choose_backend`).

    Raises:
        TranslateError: ``requested`` names no backend.
    """
    if requested not in CHOICES:
        raise TranslateError(f"backend must be one of {', '.join(CHOICES)}, got {requested!r}")
    if requested != "auto":
        return BackendChoice(requested, source="asked for")
    why = onnx_unavailable(mode=mode, device=device, precision=precision, fast=fast, name=name)
    if why is not None:
        return BackendChoice("torch", source=f"auto; ONNX Runtime not considered: {why}")
    return choose_backend(loaded, name, workload, echo=echo)


def choose_backend(loaded: "LoadedModel", name: str, workload: Workload = Workload(), *,
                   echo: Callable[[str], None] | None = None) -> BackendChoice:
    """Measure (or read from the cache) which backend runs generator ``name`` of ``loaded`` faster on this
    CPU for ``workload``; call it only where :func:`onnx_unavailable` said ONNX Runtime can run it."""
    meta = loaded.meta.generators[name]
    batch, height, width = workload.shape(loaded, name)
    key = _key(loaded, name, (batch, height, width))
    cached = _read(key)
    if cached is not None:
        return cached
    import torch

    from .onnx_backend import onnx_generator

    if echo is not None:
        echo(f"backend auto: timing PyTorch and ONNX Runtime on {name}, {batch} x {width}x{height} (once for this "
             "model and machine)")
    module, _ = loaded.generator(name)
    runners = {"torch": module.to("cpu").eval(), "onnx": onnx_generator(loaded, name, echo=echo)}
    x = torch.rand(batch, meta.in_channels, height, width, generator=torch.Generator().manual_seed(0)) * 2 - 1
    outputs, times = measure(runners, x)
    agree = float((outputs["torch"] - outputs["onnx"]).abs().max()) <= TOLERANCE
    seconds = {k: statistics.median(v) for k, v in times.items()}
    faster = seconds["onnx"] * MARGIN <= seconds["torch"]
    choice = BackendChoice("onnx" if faster and agree else "torch", (batch, height, width), seconds,
                           "measured" if agree else f"measured; ONNX Runtime's output differs beyond {TOLERANCE:g}")
    _write(key, choice)
    return choice


def measure(runners: dict[str, Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor,
            rounds: int = ROUNDS) -> tuple[dict[str, torch.Tensor], dict[str, list[float]]]:
    """Each runner's output on ``x`` (after two untimed calls: the first ones prepare kernels and caches)
    and its call times over ``rounds`` turns."""
    import torch

    outputs: dict[str, torch.Tensor] = {}
    times: dict[str, list[float]] = {name: [] for name in runners}
    with torch.inference_mode():
        for name, run in runners.items():
            run(x)
            outputs[name] = run(x).float()
        for _ in range(rounds):
            for name, run in runners.items():
                t0 = time.perf_counter()
                run(x)
                times[name].append(time.perf_counter() - t0)
    return outputs, times


def cache_folder() -> Path:
    """``~/.cache/translate/backend`` (``$XDG_CACHE_HOME`` honoured)."""
    return user_cache("backend")


def _key(loaded: "LoadedModel", name: str, shape: tuple[int, int, int]) -> dict[str, Any]:
    import torch

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {"format": 1, "machine": cpu_summary(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "onnxruntime": version("onnxruntime"), "model": file_sha256(loaded.path), "generator": name,
            "shape": list(shape)}


def _read(key: dict[str, Any]) -> BackendChoice | None:
    found = read_keyed(cache_folder(), key)
    if found is None:
        return None
    data, path = found
    try:
        shape = tuple(int(v) for v in data["shape"])
        seconds = {str(k): float(v) for k, v in data["seconds"].items()}
        if data["backend"] not in ("torch", "onnx") or len(shape) != 3:
            return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return BackendChoice(data["backend"], shape, seconds, f"cache {path}")  # type: ignore[arg-type]


def _write(key: dict[str, Any], choice: BackendChoice) -> None:
    write_keyed(cache_folder(), key, {"backend": choice.backend, "shape": list(choice.shape),
                                      "seconds": choice.seconds, "source": choice.source})


__all__ = ["BackendChoice", "CHOICES", "DEFAULT_SIZE", "ENV", "MARGIN", "MAX_PIXELS", "ROUNDS", "TOLERANCE", "Workload",
           "cache_folder",
           "choose_backend", "default_backend", "measure", "onnx_unavailable", "resolve_backend"]
