"""Convolutions on small maps as one GEMM (translate/nn/gemm_conv.py): the same values and gradients as
torch's convolutions, in both memory formats, under autocast, and routed by size."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from translate.nn import gemm_conv
from translate.nn.gemm_conv import (
    GemmConv2d,
    GemmConvTranspose2d,
    conv2d_gemm,
    conv_transpose2d_gemm,
    use_gemm_convolutions,
)

CONV_CASES = [  # (cin, cout, kernel, stride, padding, dilation, size)
    (5, 7, 4, 2, 1, 1, 8),
    (3, 4, 3, 1, 1, 1, 5),
    (4, 6, (3, 2), (2, 1), (0, 1), 1, (7, 6)),
    (2, 3, 3, 1, 2, 2, 6),
    (6, 2, 1, 1, 0, 1, 3),
]
TRANSPOSE_CASES = [  # (cin, cout, kernel, stride, padding, output_padding, dilation, size)
    (7, 5, 4, 2, 1, 0, 1, 4),
    (3, 4, 3, 2, 1, 1, 1, 3),
    (4, 3, (3, 2), (2, 1), (1, 0), (1, 0), 1, (3, 5)),
    (2, 3, 3, 1, 1, 0, 2, 4),
    (5, 5, 4, 2, 1, 0, 1, 1),
]


def _size(s):
    return (s, s) if isinstance(s, int) else s


def _grads(fn, *tensors):
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    y = fn(*leaves)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(3), dtype=y.dtype)
    y.backward(g)
    return y.detach(), [t.grad for t in leaves]


def _check(ours, ref, x, w, b, nhwc):
    """``ours(x, w, b)`` equals ``ref(x, w, b)`` in float64 values and gradients, with x and w in the layouts ``nhwc``."""
    x, w = _layouts(x, w, *nhwc)
    want, want_g = _grads(ref, x, w, b)
    got, got_g = _grads(ours, x, w, b)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    for a, e in zip(got_g, want_g):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)
    return got


def _layouts(x, w, channels_last_x, channels_last_w):
    if channels_last_x:
        x = x.contiguous(memory_format=torch.channels_last)
    if channels_last_w:
        w = w.contiguous(memory_format=torch.channels_last)
    return x, w


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("nhwc", [(False, False), (True, True), (True, False), (False, True)])
def test_conv2d_gemm_equals_conv2d(case, nhwc):
    cin, cout, k, s, p, d, size = case
    gen = torch.Generator().manual_seed(0)
    kh, kw = _size(k)
    x = torch.randn(2, cin, *_size(size), generator=gen, dtype=torch.float64)
    w = torch.randn(cout, cin, kh, kw, generator=gen, dtype=torch.float64)
    b = torch.randn(cout, generator=gen, dtype=torch.float64)
    got = _check(lambda x, w, b: conv2d_gemm(x, w, b, s, p, d), lambda x, w, b: F.conv2d(x, w, b, s, p, d),
                 x, w, b, nhwc)
    if nhwc[0] and got.shape[-1] * got.shape[-2] > 1:
        assert got.is_contiguous(memory_format=torch.channels_last)  # the input's layout comes back


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
@pytest.mark.parametrize("nhwc", [(False, False), (True, True), (True, False), (False, True)])
def test_conv_transpose2d_gemm_equals_conv_transpose2d(case, nhwc):
    cin, cout, k, s, p, op, d, size = case
    gen = torch.Generator().manual_seed(1)
    kh, kw = _size(k)
    x = torch.randn(3, cin, *_size(size), generator=gen, dtype=torch.float64)
    w = torch.randn(cin, cout, kh, kw, generator=gen, dtype=torch.float64)
    b = torch.randn(cout, generator=gen, dtype=torch.float64)
    got = _check(lambda x, w, b: conv_transpose2d_gemm(x, w, b, s, p, op, d),
                 lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, 1, d), x, w, b, nhwc)
    if nhwc[0] and x.shape[-1] * x.shape[-2] > 1:  # (a 1x1 input is contiguous in both layouts)
        assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()


def test_without_bias():
    x, w = torch.randn(1, 3, 4, 4), torch.randn(5, 3, 3, 3)
    torch.testing.assert_close(conv2d_gemm(x, w, None, 1, 1), F.conv2d(x, w, None, 1, 1))
    wt = torch.randn(3, 5, 4, 4)
    torch.testing.assert_close(conv_transpose2d_gemm(x, wt, None, 2, 1), F.conv_transpose2d(x, wt, None, 2, 1))


def test_under_autocast_casts_like_torch():
    """Under CPU bf16 autocast the GEMM route computes in bf16 and returns bf16, as F.conv2d does."""
    gen = torch.Generator().manual_seed(2)
    x, w, b = torch.randn(1, 8, 4, 4, generator=gen), torch.randn(6, 8, 4, 4, generator=gen), torch.randn(6, generator=gen)
    wt = torch.randn(8, 6, 4, 4, generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want, got = F.conv2d(x, w, b, 2, 1), conv2d_gemm(x, w, b, 2, 1)
        want_t, got_t = F.conv_transpose2d(x, wt, b, 2, 1), conv_transpose2d_gemm(x, wt, b, 2, 1)
    for g, e in ((got, want), (got_t, want_t)):
        assert g.dtype == e.dtype == torch.bfloat16
        exact = F.conv2d(x, w, b, 2, 1) if g is got else F.conv_transpose2d(x, wt, b, 2, 1)
        scale = exact.abs().max()
        assert (g.float() - exact).abs().max() <= 0.02 * scale  # bf16 rounding, not another computation
        assert (e.float() - exact).abs().max() <= 0.02 * scale


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(8, 16, 4, 2, 1, padding_mode="reflect"), nn.ReLU(),
        nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh(),
    )


def test_switched_network_keeps_parameters_and_outputs():
    net = _net()
    x = torch.randn(2, 3, 8, 8)
    want = net(x)
    keys = list(net.state_dict())
    assert use_gemm_convolutions(net, max_columns=10_000) == 4
    assert [type(m) for m in net if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)] == \
        [GemmConv2d, GemmConv2d, GemmConvTranspose2d, GemmConvTranspose2d]
    assert list(net.state_dict()) == keys
    torch.testing.assert_close(net(x), want, rtol=1e-5, atol=1e-6)
    clone = copy.deepcopy(net)  # the model-file and fast-inference paths copy networks
    assert isinstance(clone[0], GemmConv2d) and clone[0].max_columns == 10_000
    torch.testing.assert_close(clone(x), want, rtol=1e-5, atol=1e-6)
    assert use_gemm_convolutions(net) == 0  # already switched: left alone


def test_only_small_outputs_take_the_gemm_route(monkeypatch):
    calls = []
    real_conv, real_t = gemm_conv.conv2d_gemm, gemm_conv.conv_transpose2d_gemm
    monkeypatch.setattr(gemm_conv, "conv2d_gemm", lambda *a: calls.append("conv") or real_conv(*a))
    monkeypatch.setattr(gemm_conv, "conv_transpose2d_gemm", lambda *a: calls.append("convT") or real_t(*a))
    net = _net()
    use_gemm_convolutions(net, max_columns=16)
    # 8x8 input, batch 1: conv outputs 4x4 (16 columns) then 2x2 (4); the transposed convs read 2x2 (4)
    # and 4x4 (16) inputs: all four within 16 columns
    net(torch.randn(1, 3, 8, 8))
    assert calls == ["conv", "conv", "convT", "convT"]
    calls.clear()
    net(torch.randn(4, 3, 8, 8))  # batch 4: 64, 16, 16, 64 columns
    assert calls == ["conv", "convT"]


def test_layers_that_are_left_alone():
    class Custom(nn.Conv2d):
        pass

    net = nn.Sequential(Custom(3, 3, 3), nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(3, 3, 3, padding="same"),
                        nn.Conv1d(3, 3, 3), nn.Linear(3, 3))
    assert use_gemm_convolutions(net) == 0
    assert [type(m) for m in net] == [Custom, nn.Conv2d, nn.Conv2d, nn.Conv1d, nn.Linear]
    with pytest.raises(ValueError, match="max_columns"):
        use_gemm_convolutions(net, max_columns=0)


def test_transposed_conv_with_output_size():
    layer = nn.ConvTranspose2d(4, 2, 3, 2, 1)
    x = torch.randn(1, 4, 3, 3)
    want = layer(x, output_size=[6, 6])
    use_gemm_convolutions(layer)
    got = layer(x, output_size=[6, 6])
    assert got.shape == want.shape == (1, 2, 6, 6)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
