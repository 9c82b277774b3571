"""The inference fast path against the plain fp32 module: BatchNorm folding, bf16 weights, CLI and API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import translate
from translate.commands.main import main
from translate.inference.fast import FAST_TOLERANCE, fast_generator, fold_batchnorm
from translate.plugin.loading import get_registry


def _unet(seed: int = 0, dropout: float = 0.5) -> torch.nn.Module:
    """A small U-Net with BatchNorm statistics that are not the identity (so folding has work to do)."""
    torch.manual_seed(seed)
    G = get_registry().get("generator", "unet").build({"num_downs": 5, "ngf": 8, "dropout": dropout}, in_channels=3, out_channels=3)
    G.train()
    with torch.no_grad():  # calibrate: running statistics of smooth random images
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
                m.reset_running_stats()
        for i in range(4):
            G(_images(4, 64, seed=100 + i))
    return G.eval()


def _images(n: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, size // 8, size // 8, generator=g)
    x = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (x * 2 - 1).clamp(-1, 1)


def test_folding_batchnorm_keeps_the_outputs() -> None:
    G = _unet()
    x = _images(2, 64, seed=1)
    with torch.no_grad():
        want = G(x)
        folded = __import__("copy").deepcopy(G)
        n = fold_batchnorm(folded)
        got = folded(x)
    assert n == sum(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())  # every U-Net BatchNorm follows a conv
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(got, want, atol=1e-5)


def test_folding_refuses_train_mode() -> None:
    with pytest.raises(ValueError, match="eval-mode"):
        fold_batchnorm(_unet().train())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fast_generator_within_tolerance(precision: str) -> None:
    G = _unet()
    x = _images(2, 64, seed=2)
    fast = fast_generator(G, "cpu", precision=precision)
    with torch.no_grad():
        want, got = G(x), fast(x)
    assert got.dtype == torch.float32 and got.shape == want.shape
    diff = (got - want).abs().max().item()
    assert diff <= FAST_TOLERANCE[precision], diff
    if precision == "bf16":
        assert diff > 0  # it did compute in bf16
        assert next(fast.net.parameters()).dtype == torch.bfloat16
    # the original is untouched
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    assert next(G.parameters()).dtype == torch.float32


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fast_resnet_generator_keeps_channels_last_through_instancenorm(precision: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """CycleGAN's generator (reflection padding, InstanceNorm): within tolerance, NHWC from end to end."""
    import translate.nn.layers as tnn

    torch.manual_seed(3)
    G = get_registry().get("generator", "resnet").build({"ngf": 8, "n_blocks": 2}, in_channels=3, out_channels=3).eval()
    x = _images(2, 32, seed=4)
    layouts: list[bool] = []
    real = tnn.instance_norm_per_sample
    monkeypatch.setattr(tnn, "instance_norm_per_sample",
                        lambda t, *a: layouts.append(t.is_contiguous(memory_format=torch.channels_last)) or real(t, *a))
    with torch.no_grad():
        want = G(x)
        assert not layouts  # the plain fp32 module: torch's InstanceNorm
        got = fast_generator(G, "cpu", precision=precision)(x)
    assert layouts and all(layouts)
    diff = (got - want).abs().max().item()
    assert diff <= FAST_TOLERANCE[precision], diff


def test_fast_generator_routes_small_convolutions_through_gemm() -> None:
    """On the CPU the fast copy computes its small convolutions as GEMMs (translate/nn/gemm_conv.py), within
    the same tolerance; the plain route stays available (gemm_convs=False)."""
    from translate.nn.gemm_conv import GemmConv2d, GemmConvTranspose2d

    G = _unet()
    x = _images(1, 64, seed=4)
    with torch.no_grad():
        want = G(x)
        for gemm in (None, False):
            fast = fast_generator(G, "cpu", precision="bf16", gemm_convs=gemm)
            routed = sum(isinstance(m, GemmConv2d | GemmConvTranspose2d) for m in fast.modules())
            convs = sum(isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d) for m in G.modules())
            assert routed == (convs if gemm is None else 0)
            assert (fast(x) - want).abs().max().item() <= FAST_TOLERANCE["bf16"]
    assert not any(isinstance(m, GemmConv2d | GemmConvTranspose2d) for m in G.modules())  # the original untouched


def test_fast_generator_in_train_mode_keeps_batch_statistics() -> None:
    # no dropout: bf16 tensors draw their dropout masks differently from fp32 ones (a different sample)
    G = _unet(dropout=0.0)
    x = _images(1, 64, seed=3)
    fast = fast_generator(G, "cpu", precision="bf16", eval_mode=False)
    assert fast.training and any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    G.train()
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(0)
        want = G(x)
        torch.manual_seed(0)
        got = fast(x)
    assert (got - want).abs().max().item() <= FAST_TOLERANCE["bf16"]


def test_fast_generator_keeps_size_attributes() -> None:
    G = _unet()
    fast = fast_generator(G, "cpu", precision="fp32")
    assert fast.size_multiple == G.size_multiple


def test_pipeline_and_cli_fast_path(pix2pix_model: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    plain = translate.load(pix2pix_model, device="cpu")(image)
    fast = translate.load(pix2pix_model, device="cpu", fast=True)(image)
    assert fast.shape == plain.shape
    # uint8 outputs: at most a few levels apart (FAST_TOLERANCE on the [-1, 1] scale is 6 levels)
    assert np.abs(fast.astype(int) - plain.astype(int)).max() <= FAST_TOLERANCE["bf16"] * 127.5 + 1
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(image).save(src / "a.png")
    assert main(["infer", str(pix2pix_model), str(src), "--out", str(tmp_path / "out"), "--fast", "--device", "cpu"]) == 0
    out = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert np.abs(out.astype(int) - plain.astype(int)).max() <= FAST_TOLERANCE["bf16"] * 127.5 + 1
