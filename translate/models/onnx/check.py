"""Checking an exported ONNX model against PyTorch with ONNX Runtime (CPU, float32) at several sizes.

Both outputs must have the shape the metadata promises: ``(N, out_channels, s * H, s * W)`` for an
input ``(N, in_channels, H, W)``, ``s`` being the generator's ``scale_factor`` (1 unless it changes
resolution), so a graph whose dynamic shapes were frozen at the export size is caught."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ...errors import TranslateError
from .graph import INPUT_NAME, OUTPUT_NAME

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from .. import GeneratorMeta

DEFAULT_SIZES: tuple[tuple[int, int, int], ...] = ((1, 256, 256), (2, 256, 512))
"""Check sizes ``(batch, height, width)``, rounded up to multiples of the generator's size_multiple."""


@dataclass(frozen=True)
class SizeCheck:
    """One parity check: input shape ``(N, C, H, W)`` and the largest ``|onnx - torch|``."""

    shape: tuple[int, int, int, int]
    max_abs_diff: float


def check_parity(
    module: "torch.nn.Module", path: Path, meta: "GeneratorMeta", sizes: Sequence[tuple[int, int, int]], seed: int
) -> tuple[SizeCheck, ...]:
    """Run random inputs in ``meta.value_range`` through ``module`` (eval mode) and the ONNX model at ``path``.

    Raises:
        TranslateError: the two outputs differ in shape, or either is not ``scale_factor`` times the input's size.
    """
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
        expected = reference_output(module, x)
        (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
        want = (n, meta.out_channels, shape[2] * meta.scale_factor, shape[3] * meta.scale_factor)
        for who, out in (("PyTorch", expected), ("ONNX Runtime", got)):
            if tuple(out.shape) != want:
                raise TranslateError(
                    f"ONNX model {path.name}: {who} gives output shape {tuple(out.shape)} for input {shape}, "
                    f"expected {want} (scale_factor {meta.scale_factor})"
                )
        if got.shape != expected.shape:
            raise TranslateError(
                f"ONNX model {path.name}: output shape {tuple(got.shape)} for input {shape}, "
                f"PyTorch gives {tuple(expected.shape)}"
            )
        diff = float(abs(got.astype("float64") - expected.astype("float64")).max()) if got.size else 0.0
        results.append(SizeCheck(shape, diff))
    return tuple(results)


def reference_output(module: "torch.nn.Module", x: "torch.Tensor") -> "np.ndarray":
    """PyTorch's output (eval mode, CPU, float32) for ``x``."""
    import torch

    with torch.inference_mode():
        return module(x).float().numpy()


def _round_up(value: int, multiple: int) -> int:
    return max(1, math.ceil(value / multiple)) * multiple


__all__ = ["DEFAULT_SIZES", "SizeCheck", "check_parity", "reference_output"]
