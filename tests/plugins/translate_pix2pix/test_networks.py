"""The pix2pix networks: parameter counts, shapes, receptive fields, dropout, skips, norms, init."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from translate.plugin.loading import load_plugins
from translate.plugin.registry import OptionsInvalid
from translate_pix2pix.patchgan import receptive_field

REG = load_plugins().registry


def gen(name: str, options: dict | None = None, cin: int = 3, cout: int = 3) -> nn.Module:
    return REG.get("generator", name).build(options or {}, in_channels=cin, out_channels=cout)


def disc(name: str, options: dict | None = None, cin: int = 6) -> nn.Module:
    return REG.get("discriminator", name).build(options or {}, in_channels=cin)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- parameter counts -------------------------------------------------------------------------

def test_unet_256_parameter_count() -> None:
    # pytorch-CycleGAN-and-pix2pix unet_256 (batch norm, 3->3) has 54,413,955 parameters: the same tensors.
    count = n_params(gen("unet_256"))
    assert count == 54_413_955
    assert abs(count - 54.41e6) / 54.41e6 < 0.005
    # translate 0.1.0 (bias = "v0.1") added biases to the outermost and innermost down-convs (64 + 512).
    assert n_params(gen("unet_256", {"bias": "v0.1"})) == 54_413_955 + 64 + 512


def test_unet_128_and_encoder_decoder_counts() -> None:
    assert n_params(gen("unet_128")) == 41_828_995
    # Without skips the decoder convs see half the channels: fewer parameters, same output size.
    assert n_params(gen("encoder_decoder_256")) == 39_075_459
    assert n_params(gen("encoder_decoder_128")) < n_params(gen("unet_128"))


def test_patchgan_70_parameter_count() -> None:
    # C64 (bias) - C128 - C256 - C512 (no bias before BatchNorm) - conv to 1 logit (bias), in_channels=6.
    expected = (6 * 16 * 64 + 64) + (64 * 16 * 128 + 2 * 128) + (128 * 16 * 256 + 2 * 256) \
        + (256 * 16 * 512 + 2 * 512) + (512 * 16 + 1)
    assert expected == 2_768_705
    assert n_params(disc("patchgan_70")) == expected
    assert n_params(disc("patchgan", {"n_layers": 3})) == expected


# --- shapes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,side", [("patchgan_70", 30), ("patchgan_16", 126), ("patchgan_286", 6)])
def test_patchgan_output_shape_at_256(name: str, side: int) -> None:
    out = disc(name, {"ndf": 4, "norm": "instance"})(torch.randn(1, 6, 256, 256))
    assert out.shape == (1, 1, side, side)


def test_pixelgan_is_per_pixel() -> None:
    out = disc("pixelgan", {"ndf": 4})(torch.randn(2, 6, 20, 24))
    assert out.shape == (2, 1, 20, 24)


@pytest.mark.parametrize("name,multiple", [("unet_256", 256), ("unet_128", 128), ("encoder_decoder_128", 128)])
def test_unet_size_multiple_and_shape(name: str, multiple: int) -> None:
    g = gen(name, {"ngf": 4}, cin=1, cout=2)
    assert g.size_multiple == multiple
    assert g(torch.randn(2, 1, multiple, multiple)).shape == (2, 2, multiple, multiple)


def test_unet_configurable_depth_and_wrong_size() -> None:
    g = gen("unet", {"ngf": 4, "num_downs": 5})
    assert g.size_multiple == 32
    assert g(torch.randn(1, 3, 32, 64)).shape == (1, 3, 32, 64)
    with pytest.raises(ValueError, match="multiples of 32"):
        g(torch.randn(1, 3, 48, 32))


def test_fixed_variants_reject_depth_options() -> None:
    with pytest.raises(OptionsInvalid, match="num_downs"):
        gen("unet_256", {"num_downs": 7})
    with pytest.raises(OptionsInvalid, match="n_layers"):
        disc("patchgan_70", {"n_layers": 2})
    with pytest.raises(OptionsInvalid, match="norm"):
        gen("unet", {"norm": "group"})


# --- receptive field -------------------------------------------------------------------------------

def _measured_field(d: nn.Module, size: int) -> tuple[int, int]:
    """Extent (rows, cols) of input pixels with a nonzero gradient of the centre logit."""
    for m in d.modules():
        if isinstance(m, nn.Conv2d):  # positive weights: LeakyReLU passes >= 0.2 of every path
            nn.init.constant_(m.weight, 1.0 / (m.in_channels * m.kernel_size[0] * m.kernel_size[1]))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    x = torch.randn(1, 6, size, size, dtype=torch.float64, requires_grad=True)
    out = d.double()(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    nz = x.grad[0].abs().sum(0) > 0
    rows, cols = nz.any(1).nonzero(), nz.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("n_layers,expected,size", [(1, 16, 64), (3, 70, 160), (5, 286, 512)])
def test_receptive_field_matches_measurement(n_layers: int, expected: int, size: int) -> None:
    assert receptive_field(n_layers) == expected
    d = disc("patchgan", {"n_layers": n_layers, "ndf": 2, "norm": "none"})
    assert d.receptive_field == expected
    assert _measured_field(d, size) == (expected, expected)


def test_pixelgan_receptive_field() -> None:
    assert receptive_field(0) == 1
    assert _measured_field(disc("pixelgan", {"ndf": 2, "norm": "none"}), 8) == (1, 1)


# --- dropout, skips, norms, init ------------------------------------------------------------------

def test_dropout_innermost_three_decoder_layers_train_only() -> None:
    g = gen("unet", {"ngf": 4, "num_downs": 5})
    drops = [m for m in g.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(d.p == 0.5 for d in drops)
    assert all(any(isinstance(m, nn.Dropout) for m in g.up[k].modules()) == (k < 3) for k in range(5))
    x = torch.randn(2, 3, 32, 32)
    g.train()
    assert not torch.allclose(g(x), g(x))
    g.eval()
    assert torch.equal(g(x), g(x))
    assert not any(isinstance(m, nn.Dropout) for m in gen("unet_128", {"ngf": 4, "dropout": 0.0}).modules())


def test_encoder_decoder_has_no_skips() -> None:
    ed = gen("unet", {"ngf": 4, "num_downs": 5, "skip_connections": False})
    un = gen("unet", {"ngf": 4, "num_downs": 5})
    assert n_params(ed) < n_params(un)
    # Decoder convs take only the previous decoder output, never concatenated encoder features.
    assert [layer[1].in_channels for layer in ed.up] == [32, 32, 16, 8, 4]
    assert [layer[1].in_channels for layer in un.up] == [32, 64, 32, 16, 8]
    assert ed.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def _convs(net: nn.Module) -> list[tuple[nn.Module, nn.Module | None]]:
    """Each conv with the module that follows it (None for the last)."""
    mods = list(net.modules())
    return [(m, mods[i + 1] if i + 1 < len(mods) else None) for i, m in enumerate(mods)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_norms_and_biases(norm: str) -> None:
    unet = gen("unet", {"ngf": 4, "num_downs": 5, "norm": norm})
    patch = disc("patchgan_70", {"ndf": 4, "norm": norm})
    pixel = disc("pixelgan", {"ndf": 4, "norm": norm})
    for net in (unet, patch, pixel):
        assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == (norm == "batch")
        assert any(isinstance(m, nn.InstanceNorm2d) for m in net.modules()) == (norm == "instance")
        for m in net.modules():
            if isinstance(m, nn.InstanceNorm2d):
                assert not m.affine and not m.track_running_stats
    # The authors' rule (the default): a bias exactly with instance norm, except on the convs they
    # always give one: the U-Net's last transposed conv, the PatchGAN's first and last, the PixelGAN's first.
    always = {unet.up[-1][1], patch.model[0], patch.model[-1], pixel.model[0]}
    for net in (unet, patch, pixel):
        for conv, _ in _convs(net):
            assert (conv.bias is not None) == (norm == "instance" or conv in always)
    # translate 0.1.0's rule (bias = "v0.1"): a bias unless a BatchNorm follows.
    for net in (gen("unet", {"ngf": 4, "num_downs": 5, "norm": norm, "bias": "v0.1"}),
                disc("patchgan_70", {"ndf": 4, "norm": norm, "bias": "v0.1"}),
                disc("pixelgan", {"ndf": 4, "norm": norm, "bias": "v0.1"})):
        for conv, after in _convs(net):
            assert (conv.bias is None) == isinstance(after, nn.BatchNorm2d)


def test_first_encoder_layer_and_bottleneck_have_no_norm() -> None:
    g = gen("unet", {"ngf": 4, "num_downs": 5})
    assert isinstance(g.down[0], nn.Conv2d)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.down[-1].modules())
    assert all(any(isinstance(m, nn.BatchNorm2d) for m in layer.modules()) for layer in g.down[1:-1])
    assert isinstance(g.up[-1][-1], nn.Tanh)
    assert isinstance(g.down[1][0], nn.LeakyReLU) and isinstance(g.up[0][0], nn.ReLU)


def test_init_normal_xavier_kaiming() -> None:
    torch.manual_seed(0)
    g = gen("unet_128", {"ngf": 16})
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 1e-3
    bn = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn.mean() - 1.0) < 0.01 and abs(bn.std() - 0.02) < 0.01
    biases = [m.bias for m in g.modules() if getattr(m, "bias", None) is not None]
    assert biases and all(torch.all(b == 0) for b in biases)
    d_x = disc("patchgan_70", {"ndf": 16, "init": "xavier", "init_gain": 1.0})
    conv = d_x.model[2]
    fan_in, fan_out = conv.in_channels * 16, conv.out_channels * 16
    assert abs(conv.weight.std() - (2 / (fan_in + fan_out)) ** 0.5) < 0.1 * (2 / (fan_in + fan_out)) ** 0.5
    d_k = disc("patchgan_70", {"ndf": 16, "init": "kaiming"})
    assert abs(d_k.model[2].weight.std() - (2 / fan_in) ** 0.5) < 0.1 * (2 / fan_in) ** 0.5


def test_plugins_import_and_register_without_torch() -> None:
    code = (
        "import sys, translate_pix2pix as p, translate_losses as l\n"
        "noop = lambda *a, **k: None\n"
        "p.register_generators(noop); p.register_discriminators(noop); l.register_losses(noop)\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
