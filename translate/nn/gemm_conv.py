"""Convolutions on small feature maps computed as one matrix product (im2col + GEMM).

On the CPU, a convolution whose output has few positions (a U-Net's innermost layers: 512 channels
at 1x1 to 16x16) spends most of its time outside the arithmetic: the convolution library prepares
its weight layout on every call, which costs more than the convolution itself (measured on the
development CPU: 5 to 13 ms for a 512->512 4x4 layer at 2x2 in bf16, against 0.7 to 4 ms as a
GEMM; docs/performance.md). Written as ``weight @ unfold(x)`` (convolution) or
``fold(x^T @ weight)`` (transposed convolution), the same layer is one matrix product on the
weights as they are, forward and backward.

:func:`use_gemm_convolutions` switches every plain ``nn.Conv2d`` / ``nn.ConvTranspose2d`` of a
network to layers that take that route when the product has at most ``max_columns`` columns
(batch x output positions for a convolution, batch x input positions for a transposed one) and the
library's otherwise. The parameters, their names and the state dict stay those of the original
layers (only the class changes), and the result is the same convolution up to floating-point
rounding (tests/translate/nn/test_gemm_conv.py checks values and gradients against ``torch.nn.functional``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import is_channels_last

MAX_GEMM_COLUMNS = 256
"""Largest GEMM column count routed through the matrix product: the crossover measured on the
development CPU for 4x4 stride-2 layers in bf16 and fp32 (at 256 columns the GEMM was 1.2-2x
faster, at 1024 it was slower; docs/performance.md)."""


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _autocast_inputs(x: torch.Tensor, *tensors: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    """The tensors in autocast's lower precision when autocast is on for ``x``'s device (as
    ``F.conv2d`` would cast them), else unchanged."""
    device = x.device.type
    if not torch.is_autocast_enabled(device):
        return (x, *tensors)
    dtype = torch.get_autocast_dtype(device)
    return tuple(t if t is None or not t.is_floating_point() else t.to(dtype) for t in (x, *tensors))


def _as_input_layout(y: torch.Tensor, nhwc: bool) -> torch.Tensor:
    return y.contiguous(memory_format=torch.channels_last) if nhwc else y


def conv2d_gemm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                dilation: int | tuple[int, int] = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding, dilation)`` (groups 1, zero padding, 4-D input)
    as ``weight @ unfold(x)``. The output has the input's memory format."""
    x, weight, bias = _autocast_inputs(x, weight, bias)
    with torch.autocast(x.device.type, enabled=False):
        nhwc = is_channels_last(x)
        x = x.contiguous()  # unfold is slow on channels_last tensors; small maps copy cheaply
        n, cin, h, w = x.shape
        cout, _, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
        ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        cols = F.unfold(x, (kh, kw), dilation=(dh, dw), padding=(ph, pw), stride=(sh, sw))  # (n, cin*kh*kw, L)
        if is_channels_last(weight):  # read the weight in its stored (cout, kh, kw, cin) order; reorder the small columns
            matrix = weight.permute(0, 2, 3, 1).reshape(cout, -1)
            cols = cols.view(n, cin, kh * kw, -1).transpose(1, 2).reshape(n, kh * kw * cin, -1)
        else:
            matrix = weight.reshape(cout, -1)
        y = torch.matmul(matrix, cols).view(n, cout, ho, wo)
        y = y if bias is None else y + bias.view(1, -1, 1, 1)
        return _as_input_layout(y, nhwc)


def conv_transpose2d_gemm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                          stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                          output_padding: int | tuple[int, int] = 0,
                          dilation: int | tuple[int, int] = 1) -> torch.Tensor:
    """``F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, 1, dilation)`` (4-D
    input) as ``fold(x^T @ weight)``. The output has the input's memory format."""
    x, weight, bias = _autocast_inputs(x, weight, bias)
    with torch.autocast(x.device.type, enabled=False):
        nhwc = is_channels_last(x)
        n, cin, h, w = x.shape
        _, cout, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
        oph, opw = _pair(output_padding)
        ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
        wo = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
        # one row per input position (free for a channels_last input), times the weight as stored: the
        # product's larger operand is then read in its own order (measured 2-4x faster than weight^T @ x)
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, cin)
        if is_channels_last(weight):  # stored (cin, kh, kw, cout): bring the columns back to (cout, kh, kw) order
            out = torch.matmul(rows, weight.permute(0, 2, 3, 1).reshape(cin, -1))
            cols = out.view(n, h * w, kh * kw, cout).permute(0, 3, 2, 1).reshape(n, cout * kh * kw, h * w)
        else:
            out = torch.matmul(rows, weight.reshape(cin, -1))
            cols = out.view(n, h * w, cout * kh * kw).transpose(1, 2)
        y = F.fold(cols, (ho, wo), (kh, kw), dilation=(dh, dw), padding=(ph, pw), stride=(sh, sw))
        y = y if bias is None else y + bias.view(1, -1, 1, 1)
        return _as_input_layout(y, nhwc)


def _conv_columns(layer: nn.Conv2d, x: torch.Tensor) -> int:
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    (ph, pw), (dh, dw) = layer.padding, layer.dilation
    ho = (x.shape[-2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (x.shape[-1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return x.shape[0] * ho * wo


class GemmConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` that computes small outputs as one GEMM (see the module docstring)."""

    max_columns: int = MAX_GEMM_COLUMNS

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor,
                      bias: torch.Tensor | None) -> torch.Tensor:
        if input.dim() != 4 or _conv_columns(self, input) > self.max_columns:
            return super()._conv_forward(input, weight, bias)
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv2d_gemm(input, weight, bias, self.stride, 0, self.dilation)
        return conv2d_gemm(input, weight, bias, self.stride, self.padding, self.dilation)


class GemmConvTranspose2d(nn.ConvTranspose2d):
    """An ``nn.ConvTranspose2d`` that computes small inputs as one GEMM (see the module docstring)."""

    max_columns: int = MAX_GEMM_COLUMNS

    def forward(self, input: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if input.dim() != 4 or input.shape[0] * input.shape[-2] * input.shape[-1] > self.max_columns:
            return super().forward(input, output_size)
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, 2, self.dilation)
        return conv_transpose2d_gemm(input, self.weight, self.bias, self.stride, self.padding,
                                     output_padding, self.dilation)


def _eligible(layer: nn.Module) -> bool:
    if type(layer) not in (nn.Conv2d, nn.ConvTranspose2d):
        return False
    return (layer.groups == 1 and not isinstance(layer.padding, str)
            and (type(layer) is nn.Conv2d or layer.padding_mode == "zeros"))


def use_gemm_convolutions(module: nn.Module, max_columns: int = MAX_GEMM_COLUMNS) -> int:
    """Switch ``module``'s plain 2-D convolutions (groups 1, numeric padding) in place to
    :class:`GemmConv2d` / :class:`GemmConvTranspose2d` with ``max_columns``; returns how many.

    Subclasses of the torch layers are left alone (their forward may differ), and so are layers
    already switched. The parameters and state dict keys do not change.
    """
    if max_columns < 1:
        raise ValueError(f"max_columns must be at least 1, got {max_columns}")
    switched = 0
    for layer in module.modules():
        if _eligible(layer):
            layer.__class__ = GemmConv2d if type(layer) is nn.Conv2d else GemmConvTranspose2d
            layer.max_columns = max_columns
            switched += 1
    return switched


def use_library_convolutions(module: nn.Module) -> int:
    """Undo :func:`use_gemm_convolutions` in place: every switched layer back to the plain torch
    class (parameters untouched); returns how many."""
    restored = 0
    for layer in module.modules():
        if type(layer) in (GemmConv2d, GemmConvTranspose2d):
            layer.__class__ = nn.Conv2d if type(layer) is GemmConv2d else nn.ConvTranspose2d
            layer.__dict__.pop("max_columns", None)
            restored += 1
    return restored
