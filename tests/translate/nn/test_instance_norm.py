"""The layout-keeping InstanceNorm of translate.nn.layers against torch's nn.InstanceNorm2d.

Instance normalisation without running statistics is batch normalisation of each sample alone; the
layer takes that route for channels_last or reduced-precision inputs (so channels_last networks stay
channels_last) and must give torch's values and gradients, bit for bit on contiguous tensors.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from translate.api import norm_layer
from translate.nn.layers import InstanceNorm2d, instance_norm_per_sample

CL = torch.channels_last


def _run(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().clone(memory_format=torch.preserve_format).requires_grad_()
    y = layer(x)
    y.backward(grad.to(y.dtype))
    return y, x.grad


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("affine", [False, True])
def test_channels_last_matches_torch_in_values_and_gradients(batch: int, affine: bool) -> None:
    torch.manual_seed(0)
    ref = nn.InstanceNorm2d(5, affine=affine).double()
    if affine:
        nn.init.normal_(ref.weight, 1.0, 0.3)
        nn.init.normal_(ref.bias, 0.0, 0.3)
    ours = InstanceNorm2d(5, affine=affine).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(batch, 5, 6, 7, dtype=torch.float64) * 3 + 1
    g = torch.randn_like(x)
    y_ref, gx_ref = _run(ref, x, g)
    y, gx = _run(ours, x.contiguous(memory_format=CL), g)
    assert y.is_contiguous(memory_format=CL) and not y.is_contiguous()  # the layout is kept
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-10, atol=1e-10)
    if affine:
        ours.zero_grad()
        ref.zero_grad()
        _run(ref, x, g)
        _run(ours, x.contiguous(memory_format=CL), g)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(ours.bias.grad, ref.bias.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("batch", [1, 4])
def test_bf16_contiguous_is_bit_identical_to_torch(batch: int) -> None:
    torch.manual_seed(1)
    x = (torch.randn(batch, 8, 9, 9) * 2 + 0.5).bfloat16()
    g = torch.randn_like(x)
    y_ref, gx_ref = _run(nn.InstanceNorm2d(8), x, g)
    y, gx = _run(InstanceNorm2d(8), x, g)
    assert torch.equal(y, y_ref) and torch.equal(gx, gx_ref)
    assert torch.equal(instance_norm_per_sample(x.float()), torch.nn.functional.instance_norm(x.float()))


def test_bf16_channels_last_under_autocast_stays_close() -> None:
    torch.manual_seed(2)
    x = torch.randn(2, 16, 12, 12) * 4
    conv = nn.Conv2d(16, 16, 3, padding=1)
    ref = nn.Sequential(copy.deepcopy(conv), nn.InstanceNorm2d(16))
    ours = nn.Sequential(copy.deepcopy(conv), InstanceNorm2d(16)).to(memory_format=CL)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = ref(x)
        b = ours(x.contiguous(memory_format=CL))
    assert a.dtype == b.dtype == torch.bfloat16  # autocast keeps both norms in bf16
    assert b.is_contiguous(memory_format=CL)
    assert (a.float() - b.float()).abs().max() < 0.05  # bf16 rounding of values of unit scale


def test_the_reference_computation_goes_through_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Contiguous fp32 (the reference plan) and layers with running statistics keep nn.InstanceNorm2d's path."""
    import translate.nn.layers as tnn

    calls: list[int] = []
    real = tnn.instance_norm_per_sample
    monkeypatch.setattr(tnn, "instance_norm_per_sample", lambda *a: calls.append(1) or real(*a))
    x = torch.randn(2, 4, 5, 5)
    InstanceNorm2d(4)(x)
    InstanceNorm2d(4, track_running_stats=True)(x.contiguous(memory_format=CL))
    assert calls == []
    InstanceNorm2d(4)(x.contiguous(memory_format=CL))
    InstanceNorm2d(4)(x.bfloat16())
    assert calls == [1, 1]


def test_norm_layer_builds_it_with_the_papers_settings() -> None:
    layer = norm_layer("instance", 7)
    assert isinstance(layer, InstanceNorm2d) and isinstance(layer, nn.InstanceNorm2d)
    assert not layer.affine and not layer.track_running_stats and layer.state_dict() == {}
    x = torch.randn(1, 7, 3, 3)
    assert torch.equal(layer(x), nn.InstanceNorm2d(7)(x))


def test_is_channels_last_only_where_the_layouts_differ() -> None:
    from translate.api import is_channels_last

    assert is_channels_last(torch.zeros(2, 3, 4, 5).contiguous(memory_format=CL))
    assert not is_channels_last(torch.zeros(2, 3, 4, 5))
    assert not is_channels_last(torch.zeros(2, 3, 1, 1).contiguous(memory_format=CL))  # both layouts at once
    assert not is_channels_last(torch.zeros(2, 1, 4, 5).contiguous(memory_format=CL))
    assert not is_channels_last(torch.zeros(3, 4, 5))
