"""The CycleGAN ResNet generator: parameter counts, shapes, padding, norms, residuals, dropout, init."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from translate.plugin.loading import load_plugins

ROOT = Path(__file__).resolve().parents[3]

try:
    import translate_cyclegan  # noqa: F401
except ImportError:  # the editable install predates the package: reach it through plugins/ directly
    sys.path.insert(0, str(ROOT / "plugins"))

from translate.api import lazy_factory  # noqa: E402
from translate_cyclegan.generators import GENERATORS  # noqa: E402
from translate_cyclegan.network_options import ConfigurableResnetOptions, ResnetOptions  # noqa: E402
from translate_cyclegan.resnet import ResnetBlock, ResnetGenerator, build_resnet  # noqa: E402

REG = load_plugins().registry
SPECS = {name: (factory, model, smoke, desc) for name, factory, model, smoke, desc in GENERATORS}

# pytorch-CycleGAN-and-pix2pix ResnetGenerator, ngf 64, 3->3, instance norm:
# c7s1-64 (9,472) + d128 (73,856) + d256 (295,168) + 9 x R256 (9 x 1,180,160) + u128 (295,040)
# + u64 (73,792) + c7s1-3 (9,411) = 11,378,179; with 6 blocks 3 x 1,180,160 fewer.
REFERENCE_9BLOCKS = 11_378_179
REFERENCE_6BLOCKS = 7_837_699


def gen(name: str, options: dict | None = None, cin: int = 3, cout: int = 3) -> nn.Module:
    """Build through this plugin's own factories (independent of the hook wiring)."""
    factory, model, _, _ = SPECS[name]
    return factory(model.model_validate(options or {}), in_channels=cin, out_channels=cout)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count(module: nn.Module, kind: type[nn.Module]) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


def blocks(module: nn.Module) -> list[ResnetBlock]:
    return [m for m in module.modules() if isinstance(m, ResnetBlock)]


# --- the list the plugin registers ----------------------------------------------------------------

def _kind(module: nn.Module) -> type:
    """The torch layer type a module is (the dtype-keeping reflection pad and the layout-keeping
    InstanceNorm count as their torch base classes)."""
    for base in (nn.ReflectionPad2d, nn.InstanceNorm2d):
        if isinstance(module, base):
            return base
    return type(module)


def test_generators_list() -> None:
    assert [g[0] for g in GENERATORS] == ["resnet_9blocks", "resnet_6blocks", "resnet"]
    for name, factory, model, smoke, desc in GENERATORS:
        assert callable(factory) and desc
        assert issubclass(model, ResnetOptions)
        model.model_validate(smoke)
    assert SPECS["resnet"][1] is ConfigurableResnetOptions


@pytest.mark.parametrize("name", ["resnet_9blocks", "resnet_6blocks", "resnet"])
def test_smoke_options_build_and_run(name: str) -> None:
    g = gen(name, SPECS[name][2])
    assert g.size_multiple == 4
    y = g(torch.randn(1, 3, 16, 16))
    assert y.shape == (1, 3, 16, 16)


# --- parameter counts -----------------------------------------------------------------------------

def test_resnet_9blocks_parameter_count_matches_reference() -> None:
    g = gen("resnet_9blocks")
    assert n_params(g) == REFERENCE_9BLOCKS
    assert len(blocks(g)) == 9
    assert n_params(gen("resnet", {"n_blocks": 9})) == REFERENCE_9BLOCKS


def test_resnet_6blocks_parameter_count_matches_reference() -> None:
    g = gen("resnet_6blocks")
    assert n_params(g) == REFERENCE_6BLOCKS
    assert len(blocks(g)) == 6
    assert n_params(gen("resnet", {"n_blocks": 6})) == REFERENCE_6BLOCKS


def test_parameter_count_of_other_channels_and_depths() -> None:
    # 1 -> 2 channels (colorization L -> ab) changes only the first and last convs.
    g = gen("resnet_9blocks", cin=1, cout=2)
    assert n_params(g) == REFERENCE_9BLOCKS - 2 * 49 * 64 - 64 * 49 * 1 - 1
    # A third downsampling: d512 and u256, residual blocks at 512 channels.
    g = gen("resnet", {"ngf": 8, "n_blocks": 1, "n_downsampling": 3})
    expected = (3 * 49 * 8 + 8) + (8 * 9 * 16 + 16) + (16 * 9 * 32 + 32) + (32 * 9 * 64 + 64) \
        + 2 * (64 * 9 * 64 + 64) + (64 * 9 * 32 + 32) + (32 * 9 * 16 + 16) + (16 * 9 * 8 + 8) + (8 * 49 * 3 + 3)
    assert n_params(g) == expected


# --- shapes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("h,w", [(64, 64), (64, 96)])
def test_output_shape_equals_input_shape(h: int, w: int) -> None:
    g = gen("resnet_9blocks", {"ngf": 8})
    x = torch.rand(2, 3, h, w) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1  # Tanh


def test_other_channel_counts_and_depths() -> None:
    assert gen("resnet_6blocks", {"ngf": 8}, cin=1, cout=2)(torch.zeros(1, 1, 32, 48)).shape == (1, 2, 32, 48)
    g = gen("resnet", {"ngf": 4, "n_blocks": 1, "n_downsampling": 3})
    assert g.size_multiple == 8
    assert g(torch.zeros(1, 3, 24, 40)).shape == (1, 3, 24, 40)


def test_size_multiple_error() -> None:
    g = gen("resnet_9blocks", {"ngf": 8})
    assert g.size_multiple == 4
    with pytest.raises(ValueError, match=r"66x64.*multiples of 4"):
        g(torch.zeros(1, 3, 66, 64))
    with pytest.raises(ValueError, match=r"64x62.*multiples of 4"):
        g(torch.zeros(1, 3, 64, 62))
    g = gen("resnet", {"ngf": 4, "n_blocks": 1, "n_downsampling": 3})
    with pytest.raises(ValueError, match="multiples of 8"):
        g(torch.zeros(1, 3, 36, 32))


# --- architecture ---------------------------------------------------------------------------------

def test_layer_sequence_follows_the_reference() -> None:
    g = gen("resnet_6blocks")
    seq = list(g.model)
    types = [_kind(m) for m in seq]
    # c7s1-64
    assert types[:4] == [nn.ReflectionPad2d, nn.Conv2d, nn.InstanceNorm2d, nn.ReLU]
    assert seq[0].padding == (3, 3, 3, 3)
    assert seq[1].kernel_size == (7, 7) and seq[1].padding == (0, 0) and seq[1].out_channels == 64
    # d128, d256
    for i, width in ((4, 128), (7, 256)):
        conv = seq[i]
        assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3)
        assert conv.stride == (2, 2) and conv.padding == (1, 1) and conv.out_channels == width
        assert types[i + 1 : i + 3] == [nn.InstanceNorm2d, nn.ReLU]
    # R256 x 6
    assert types[10:16] == [ResnetBlock] * 6
    # u128, u64
    for i, width in ((16, 128), (19, 64)):
        up = seq[i]
        assert isinstance(up, nn.ConvTranspose2d) and up.kernel_size == (3, 3)
        assert up.stride == (2, 2) and up.padding == (1, 1) and up.output_padding == (1, 1)
        assert up.out_channels == width
        assert types[i + 1 : i + 3] == [nn.InstanceNorm2d, nn.ReLU]
    # c7s1-3, Tanh
    assert types[22:] == [nn.ReflectionPad2d, nn.Conv2d, nn.Tanh]
    assert seq[23].kernel_size == (7, 7) and seq[23].out_channels == 3 and seq[23].bias is not None


def test_reflection_padding_is_used() -> None:
    g = gen("resnet_9blocks")
    assert count(g, nn.ReflectionPad2d) == 2 + 2 * 9
    assert count(g, nn.ReplicationPad2d) == 0 and count(g, nn.ZeroPad2d) == 0
    for block in blocks(g):
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == 2
        assert all(c.padding == (0, 0) and c.kernel_size == (3, 3) for c in convs)
        pads = [m for m in block.modules() if isinstance(m, nn.ReflectionPad2d)]
        assert [p.padding for p in pads] == [(1, 1, 1, 1)] * 2


def test_padding_options() -> None:
    g = gen("resnet_6blocks", {"padding": "replicate"})
    assert count(g, nn.ReplicationPad2d) == 2 * 6
    assert count(g, nn.ReflectionPad2d) == 2  # the 7x7 first and last convs always reflect
    g = gen("resnet_6blocks", {"padding": "zero"})
    assert count(g, nn.ReflectionPad2d) == 2 and count(g, nn.ReplicationPad2d) == 0
    for block in blocks(g):
        assert all(c.padding == (1, 1) for c in block.modules() if isinstance(c, nn.Conv2d))
    assert n_params(g) == REFERENCE_6BLOCKS  # padding has no parameters
    assert g(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_instance_norm_has_no_affine_parameters_by_default() -> None:
    g = gen("resnet_9blocks")
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 1 + 2 + 2 * 9 + 2
    for m in norms:
        assert not m.affine and not m.track_running_stats
        assert m.weight is None and m.bias is None
        assert m.running_mean is None
    assert count(g, nn.BatchNorm2d) == 0
    assert len(list(g.buffers())) == 0
    # Every conv carries a bias with instance norm (as the reference's use_bias).
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(c.bias is not None for c in convs)


def test_batch_norm_option() -> None:
    g = gen("resnet_9blocks", {"norm": "batch"})
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 23 and count(g, nn.InstanceNorm2d) == 0
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    # Only the last conv (no norm after it) keeps its bias.
    assert [c.bias is not None for c in convs] == [False] * (len(convs) - 1) + [True]
    norm_channels = sum(m.num_features for m in bns)
    # Conv biases before a BatchNorm go; each BatchNorm adds a scale and a shift per channel.
    assert n_params(g) == REFERENCE_9BLOCKS - norm_channels + 2 * norm_channels
    g.train()
    assert g(torch.randn(2, 3, 16, 16)).shape == (2, 3, 16, 16)


def test_no_norm_option() -> None:
    g = gen("resnet_6blocks", {"norm": "none"})
    assert count(g, nn.InstanceNorm2d) == 0 and count(g, nn.BatchNorm2d) == 0
    assert n_params(g) == REFERENCE_6BLOCKS  # biases kept (the reference drops them for "none")
    assert g(torch.randn(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_residual_block_adds_its_input() -> None:
    torch.manual_seed(0)
    block = blocks(gen("resnet_6blocks", {"ngf": 4}))[0]
    x = torch.randn(2, 16, 8, 8)
    assert not torch.allclose(block(x), x)
    with torch.no_grad():
        for conv in (m for m in block.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.zero_()
            conv.bias.zero_()
    # The branch now outputs zeros (InstanceNorm of a constant is 0): the block is the identity.
    assert torch.equal(block(x), x)
    # And the block's output equals x + branch in general.
    block2 = ResnetBlock(16)
    assert torch.allclose(block2(x), x + block2.conv_block(x))


def test_dropout_option_inserts_dropout_in_blocks() -> None:
    g = gen("resnet_9blocks")
    assert count(g, nn.Dropout) == 0  # CycleGAN: no dropout
    g = gen("resnet_9blocks", {"dropout": 0.5})
    assert count(g, nn.Dropout) == 9
    for block in blocks(g):
        types = [_kind(m) for m in block.conv_block]
        assert types == [nn.ReflectionPad2d, nn.Conv2d, nn.InstanceNorm2d, nn.ReLU, nn.Dropout,
                         nn.ReflectionPad2d, nn.Conv2d, nn.InstanceNorm2d]
        assert block.conv_block[4].p == 0.5
    # No dropout anywhere outside the residual blocks.
    in_blocks = sum(count(b, nn.Dropout) for b in blocks(g))
    assert in_blocks == count(g, nn.Dropout)


def test_init_statistics() -> None:
    torch.manual_seed(0)
    g = gen("resnet_9blocks")
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([c.weight.detach().flatten() for c in convs])
    assert abs(weights.std().item() - 0.02) < 0.0005
    assert abs(weights.mean().item()) < 0.0005
    for c in convs:
        assert torch.all(c.bias == 0)
        assert abs(c.weight.std().item() - 0.02) < 0.004
    # A custom gain.
    g = gen("resnet_6blocks", {"ngf": 16, "init_gain": 0.05})
    w = torch.cat([c.weight.detach().flatten() for c in g.modules() if isinstance(c, nn.Conv2d)])
    assert abs(w.std().item() - 0.05) < 0.002
    # BatchNorm scales N(1, gain), shifts zero.
    g = gen("resnet_9blocks", {"norm": "batch"})
    scales = torch.cat([m.weight.detach() for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(scales.mean().item() - 1) < 0.005 and abs(scales.std().item() - 0.02) < 0.005
    assert all(torch.all(m.bias == 0) for m in g.modules() if isinstance(m, nn.BatchNorm2d))


def test_xavier_and_kaiming_init() -> None:
    torch.manual_seed(0)
    conv = lambda g: next(m for m in blocks(g)[0].modules() if isinstance(m, nn.Conv2d))  # noqa: E731
    fan_in = 256 * 9
    w = conv(gen("resnet_6blocks", {"init": "kaiming"})).weight
    assert abs(w.std().item() - (2 / fan_in) ** 0.5) < 0.002
    w = conv(gen("resnet_6blocks", {"init": "xavier", "init_gain": 1.0})).weight
    assert abs(w.std().item() - (2 / (2 * fan_in)) ** 0.5) < 0.002


def test_gradients_reach_every_parameter() -> None:
    g = gen("resnet", {"ngf": 4, "n_blocks": 2})
    g(torch.randn(1, 3, 16, 16)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())


# --- options --------------------------------------------------------------------------------------

def test_options_defaults() -> None:
    o = ResnetOptions()
    assert (o.ngf, o.norm, o.dropout, o.padding, o.init, o.init_gain) == (64, "instance", 0.0, "reflect", "normal", 0.02)
    c = ConfigurableResnetOptions()
    assert (c.n_blocks, c.n_downsampling) == (9, 2)


@pytest.mark.parametrize("model,values", [
    (ResnetOptions, {"n_blocks": 9}),  # fixed variants have no depth option
    (ResnetOptions, {"norm": "group"}),
    (ResnetOptions, {"padding": "circular"}),
    (ResnetOptions, {"ngf": "64"}),  # strict: no coercion
    (ResnetOptions, {"ngf": 0}),
    (ResnetOptions, {"dropout": 1.0}),
    (ResnetOptions, {"init": "orthogonal"}),
    (ResnetOptions, {"init_gain": 0}),
    (ConfigurableResnetOptions, {"n_blocks": 0}),
    (ConfigurableResnetOptions, {"n_downsampling": 0}),
    (ConfigurableResnetOptions, {"n_blocks": 2.0}),
    (ConfigurableResnetOptions, {"unknown": 1}),
])
def test_invalid_options(model: type, values: dict) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(values)


def test_build_resnet_and_factory_directly() -> None:
    g = build_resnet(ResnetOptions(ngf=8), in_channels=3, out_channels=3, n_blocks=2, n_downsampling=1)
    assert isinstance(g, ResnetGenerator) and g.size_multiple == 2 and len(blocks(g)) == 2
    assert g(torch.zeros(1, 3, 6, 10)).shape == (1, 3, 6, 10)
    # None reads the depth from the options; numbers fix it.
    factory = lazy_factory("translate_cyclegan.resnet", "build_resnet")
    g = factory(ConfigurableResnetOptions(ngf=4, n_blocks=3, n_downsampling=1), in_channels=3, out_channels=1)
    assert len(blocks(g)) == 3 and g.size_multiple == 2
    g = lazy_factory("translate_cyclegan.resnet", "build_resnet", n_blocks=4, n_downsampling=2)(
        ResnetOptions(ngf=4), in_channels=3, out_channels=3)
    assert len(blocks(g)) == 4 and g.size_multiple == 4


def test_importing_the_options_and_factories_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'plugins')!r})\n"
        "import translate_cyclegan.generators as g, translate_cyclegan.network_options\n"
        "assert len(g.GENERATORS) == 3\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- through the registry -------------------------------------------------------------------------

def test_built_through_the_registry() -> None:
    comp = REG.get("generator", "resnet_9blocks")
    g = comp.build({}, in_channels=3, out_channels=3)
    assert n_params(g) == REFERENCE_9BLOCKS
    assert n_params(REG.get("generator", "resnet_6blocks").build({}, in_channels=3, out_channels=3)) \
        == REFERENCE_6BLOCKS
    small = REG.get("generator", "resnet").build(REG.get("generator", "resnet").smoke_options,
                                                 in_channels=3, out_channels=3)
    assert small(torch.zeros(1, 3, 16, 24)).shape == (1, 3, 16, 24)


def test_reflection_padding_stays_bf16_under_autocast_with_the_same_values() -> None:
    """CPU autocast runs nn.ReflectionPad2d in fp32 (two casts per pad); the generator's pad gives the same numbers in bf16."""
    from translate_cyclegan.padding import ReflectionPad2d

    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 7).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain, ours = nn.ReflectionPad2d(3)(x), ReflectionPad2d(3)(x)
    assert plain.dtype == torch.float32 and ours.dtype == torch.bfloat16  # what the module is for
    assert torch.equal(ours.float(), plain)
    assert torch.equal(ReflectionPad2d(2)(x.float()), nn.ReflectionPad2d(2)(x.float()))  # no autocast: unchanged
    torch.manual_seed(1)
    net = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
    reference = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
    for module in reference.modules():  # the same network with torch's padding modules
        for name, child in module.named_children():
            if isinstance(child, ReflectionPad2d):
                setattr(module, name, nn.ReflectionPad2d(child.padding))
    reference.load_state_dict(net.state_dict())
    img = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = net(img), reference(img)
    assert torch.equal(a, b)
