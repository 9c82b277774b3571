"""A generator as an ONNX graph: exported in eval mode with dynamic batch, height and width, then
annotated with what a runtime needs to feed it (channels, value range, size multiple, scale factor).

The output's spatial axes are named ``height`` and ``width`` like the input's for a generator that
keeps the size, ``<s>*height`` and ``<s>*width`` for one of ``scale_factor`` ``s``."""

from __future__ import annotations

import io
import json
import math
import warnings
from typing import TYPE_CHECKING, Any

from ...errors import TranslateError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .. import GeneratorMeta

DEFAULT_OPSET = 18
"""ONNX opset written by default (the lowest the ``torch.export``-based exporter writes natively)."""
MIN_OPSET = 18
"""The lowest opset :func:`to_onnx` accepts."""
INPUT_NAME = "input"
OUTPUT_NAME = "output"
_AXES = {0: "batch", 2: "height", 3: "width"}
PADDING = ("pad height and width at the bottom and right up to multiples of translate.size_multiple (reflect; "
           "replicate on both axes when a side is not longer than its padding), run, and crop the output's "
           "top-left corner, translate.scale_factor times the original size")
"""The ``translate.padding`` metadata: what a caller of the bare ONNX file does with other sizes (what
:class:`translate.inference.translator.Translator` does)."""


def output_axes(scale: int) -> dict[int, str]:
    """The output's dynamic axis names: the input's, times ``scale`` on the spatial axes."""
    return dict(_AXES) if scale == 1 else {0: "batch", 2: f"{scale}*height", 3: f"{scale}*width"}


def _example(meta: "GeneratorMeta") -> "torch.Tensor":
    import torch

    m = meta.size_multiple
    unit = m * max(1, math.ceil(64 / m))  # >= 64 so that padding layers fit; H != W != N
    return torch.zeros(2, meta.in_channels, unit, 2 * unit)


def to_onnx(module: "torch.nn.Module", meta: "GeneratorMeta", opset: int, name: str) -> tuple[Any, str, str]:
    """The ONNX ModelProto of ``module`` (in eval mode), the exporter used, and why the first one failed ("").

    Raises:
        TranslateError: both the ``torch.export``-based and the TorchScript exporter failed.
    """
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
                dynamic_axes={INPUT_NAME: dict(_AXES), OUTPUT_NAME: output_axes(meta.scale_factor)},
            )
    except Exception as second:  # noqa: BLE001
        raise TranslateError(
            f"ONNX export of generator {name!r} failed: torch.export exporter: {reason}; "
            f"TorchScript exporter: {type(second).__name__}: {second}"
        ) from None
    return onnx.load_from_string(buf.getvalue()), "TorchScript", reason


def annotate(proto: Any, name: str, meta: "GeneratorMeta", method: str, model_sha256: str | None = None) -> None:
    """Name the dynamic axes of ``proto`` and record how to feed the model in its metadata (and, given, the
    sha256 of the model file it was exported from: the ONNX backend reuses a file only for that model)."""
    from ...version import __version__

    for value, channels, axes in ((proto.graph.input[0], meta.in_channels, _AXES),
                                  (proto.graph.output[0], meta.out_channels, output_axes(meta.scale_factor))):
        dims = value.type.tensor_type.shape.dim
        for i, dim in enumerate(dims):
            if i in axes:
                dim.Clear()
                dim.dim_param = axes[i]
            elif i == 1:
                dim.Clear()
                dim.dim_value = channels
    props = {
        "translate.version": __version__,
        "translate.method": method,
        "translate.generator": name,
        "translate.component": meta.component,
        "translate.direction": meta.direction,
        "translate.input_domain": meta.input_domain,
        "translate.output_domain": meta.output_domain,
        "translate.in_channels": str(meta.in_channels),
        "translate.out_channels": str(meta.out_channels),
        "translate.size_multiple": str(meta.size_multiple),
        "translate.padding": PADDING,
        "translate.scale_factor": str(meta.scale_factor),
        "translate.value_range": json.dumps(list(meta.value_range)),
        "translate.normalization": meta.normalization.model_dump_json(),
        "translate.test_mode": "eval",
        **({"translate.model_sha256": model_sha256} if model_sha256 else {}),
    }
    existing = {p.key: p for p in proto.metadata_props}
    for key, value in props.items():
        entry = existing.get(key) or proto.metadata_props.add()
        entry.key, entry.value = key, value
    out = output_axes(meta.scale_factor)
    proto.doc_string = (
        f"translate generator {name!r} ({meta.component}, {meta.direction}): input {INPUT_NAME!r} float32 "
        f"(batch, {meta.in_channels}, height, width) in {list(meta.value_range)}, height and width multiples "
        f"of {meta.size_multiple} (other sizes: see translate.padding); output {OUTPUT_NAME!r} (batch, {meta.out_channels}, {out[2]}, {out[3]}). "
        "Eval mode."
    )


__all__ = ["DEFAULT_OPSET", "INPUT_NAME", "MIN_OPSET", "OUTPUT_NAME", "PADDING", "annotate", "output_axes", "to_onnx"]
