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
  ONNX graph does not check. A generator that changes resolution (``scale_factor`` ``s``,
  stored as ``translate.scale_factor``) outputs ``(N, C_out, s*H, s*W)``, its output axes named
  ``s*height`` and ``s*width``; the check below expects exactly that shape from both runtimes.
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

``onnx``, ``onnxscript`` and ``onnxruntime`` are imported only inside the functions, lazily; they
come with ``pip install "translate-i2i[onnx]"``.

The parts: :mod:`.export` (:func:`export_onnx`, the files and the report), :mod:`.graph` (a
generator as an annotated ONNX graph), :mod:`.check` (ONNX Runtime against PyTorch).
"""

from __future__ import annotations

from .check import DEFAULT_SIZES, SizeCheck
from .export import GeneratorExport, OnnxReport, export_onnx, require_onnx
from .graph import DEFAULT_OPSET, INPUT_NAME, MIN_OPSET, OUTPUT_NAME

__all__ = ["DEFAULT_OPSET", "DEFAULT_SIZES", "INPUT_NAME", "MIN_OPSET", "OUTPUT_NAME", "GeneratorExport",
           "OnnxReport", "SizeCheck", "export_onnx", "require_onnx"]
