"""``translate convert``: the authors' checkpoints as model folders, with the authors' outputs.

The reference networks below are written here from the facts of the authors' pytorch-CycleGAN-and-
pix2pix layout (tensor names, shapes, which convs have a bias, in-place activations, where
dropout sits), not taken from their code. Each test saves an authors'-format state dict with
random values, converts it, loads the folder with ``translate.load`` and compares the outputs.
"""

from __future__ import annotations

import argparse
import collections
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import translate
from translate.commands.convert import add_convert_arguments, convert_cli, parse_overrides
from translate.errors import ModelFileError, TranslateError
from translate.models import load_model, read_config
from translate.models.convert import convert, read_checkpoint

# --------------------------------------------------------------------------- the authors' layout, from facts


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)  # no affine parameters, no running statistics
    return nn.Identity()


class _Level(nn.Module):
    """One U-Net level of the authors' nesting: ``model`` holds down, the inner level, up."""

    def __init__(self, outer: int, inner: int, *, cin: int | None = None, sub: nn.Module | None = None,
                 place: str = "mid", norm: str = "batch", dropout: bool = False) -> None:
        super().__init__()
        bias = norm == "instance"
        self.outermost = place == "outer"
        down = nn.Conv2d(outer if cin is None else cin, inner, 4, 2, 1, bias=bias)
        if place == "outer":
            layers = [down, sub, nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1), nn.Tanh()]
        elif place == "inner":
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), _norm(norm, outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, _norm(norm, inner), sub, nn.ReLU(True),
                      nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=bias), _norm(norm, outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)  # the in-place LeakyReLU has changed x: the skip carries it, as theirs does
        return y if self.outermost else torch.cat([x, y], 1)


class AuthorsUnet(nn.Module):
    def __init__(self, cin: int, cout: int, num_downs: int, ngf: int, norm: str, dropout: bool) -> None:
        super().__init__()
        level = _Level(8 * ngf, 8 * ngf, place="inner", norm=norm)
        for _ in range(num_downs - 5):
            level = _Level(8 * ngf, 8 * ngf, sub=level, norm=norm, dropout=dropout)
        for mult in (4, 2, 1):
            level = _Level(mult * ngf, 2 * mult * ngf, sub=level, norm=norm)
        self.model = _Level(cout, ngf, cin=cin, sub=level, place="outer", norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _Block(nn.Module):
    def __init__(self, dim: int, norm: str, dropout: bool) -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim),
                                   nn.ReLU(True)]
        layers += [nn.Dropout(0.5)] if dropout else []
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class AuthorsResnet(nn.Module):
    def __init__(self, cin: int, cout: int, n_blocks: int, ngf: int, norm: str, dropout: bool) -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(cin, ngf, 7, bias=bias), _norm(norm, ngf),
                                   nn.ReLU(True)]
        for i in range(2):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), _norm(norm, 2 * c), nn.ReLU(True)]
        layers += [_Block(4 * ngf, norm, dropout) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), _norm(norm, c // 2),
                       nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cout, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def authors_net(kind: str, *, norm: str, ngf: int = 8, cin: int = 3, cout: int = 3, dropout: bool = False,
                seed: int = 0) -> nn.Module:
    """An authors' generator with random weights (and random BatchNorm statistics), in eval mode."""
    torch.manual_seed(seed)
    if kind.startswith("unet_"):
        net: nn.Module = AuthorsUnet(cin, cout, {"unet_256": 8, "unet_128": 7}[kind], ngf, norm, dropout)
    else:
        net = AuthorsResnet(cin, cout, {"resnet_9blocks": 9, "resnet_6blocks": 6}[kind], ngf, norm, dropout)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def old_instance_norm_keys(net: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with the running statistics PyTorch < 0.4 saved for every InstanceNorm layer."""
    out = dict(state)
    for name, m in net.named_modules():
        if isinstance(m, nn.InstanceNorm2d):
            out[f"{name}.running_mean"] = torch.zeros(m.num_features)
            out[f"{name}.running_var"] = torch.ones(m.num_features)
    return out


SIZE = {"unet_256": 256, "unet_128": 128, "resnet_9blocks": 32, "resnet_6blocks": 32}


def _save(state: dict[str, torch.Tensor], path: Path, legacy: bool = False) -> Path:
    torch.save(collections.OrderedDict(state), path, _use_new_zipfile_serialization=not legacy)
    return path


def _run(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x)


# --------------------------------------------------------------------------- conversions with the authors' outputs

CASES = [
    ("unet_256", "batch", False, False),
    ("unet_256", "instance", True, True),
    ("unet_128", "batch", False, True),
    ("unet_128", "instance", False, False),
    ("resnet_9blocks", "instance", True, True),
    ("resnet_9blocks", "batch", False, False),
    ("resnet_6blocks", "instance", False, False),
    ("resnet_6blocks", "batch", True, True),  # pix2pix's resnet: Dropout(0.5) shifts the block indices
]


@pytest.mark.parametrize("kind,norm,old_keys,legacy", CASES)
def test_converted_generator_gives_the_authors_output(tmp_path, kind, norm, old_keys, legacy) -> None:
    dropout = kind.startswith("unet") or (kind == "resnet_6blocks" and norm == "batch")
    net = authors_net(kind, norm=norm, dropout=dropout)
    state = net.state_dict()
    if old_keys:
        state = old_instance_norm_keys(net, state)
        assert norm == "batch" or len(state) > len(net.state_dict())
    src = _save(state, tmp_path / "latest_net_G.pth", legacy=legacy)
    result = convert([src], tmp_path / "model", test_mode="eval")
    assert result.generators[0].recognised.component.name == kind
    pipe = translate.load(result.out, device="cpu")
    g = pipe.loaded.modules[pipe.direction]
    x = torch.rand(2, 3, SIZE[kind], SIZE[kind]) * 2 - 1
    diff = (_run(g.eval(), x) - _run(net, x)).abs().max().item()
    assert diff <= 1e-5, f"{kind} {norm}: max abs diff {diff}"
    meta = read_config(result.out / "config.json")
    gmeta = meta.generators[meta.default]
    assert gmeta.component == kind and gmeta.options["norm"] == norm
    assert meta.method == ("pix2pix" if norm == "batch" else "cyclegan")


def test_train_mode_with_the_authors_dropout_placement_is_the_same_draw(tmp_path) -> None:
    net = authors_net("unet_256", norm="batch", dropout=True)
    result = convert([_save(net.state_dict(), tmp_path / "facades_net_G.pth")], tmp_path / "model")
    g = load_model(result.out).modules["G"]
    assert result.meta.generators["G"].test_mode == "train"  # as the authors' test.py without --eval
    assert result.meta.generators["G"].options["dropout_layers"] == "authors"
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    outs = []
    for module in (net, g):
        module.train()
        torch.manual_seed(7)
        outs.append(_run(module, x))
    assert (outs[0] - outs[1]).abs().max().item() <= 1e-5  # same dropout masks drawn in the same order


def test_cyclegan_pair_is_one_model_with_both_directions(tmp_path) -> None:
    g_a = authors_net("resnet_9blocks", norm="instance", seed=1)
    g_b = authors_net("resnet_9blocks", norm="instance", seed=2)
    files = [_save(g_b.state_dict(), tmp_path / "latest_net_G_B.pth", legacy=True),
             _save(old_instance_norm_keys(g_a, g_a.state_dict()), tmp_path / "latest_net_G_A.pth")]
    result = convert(files, tmp_path / "h2z", input_domain="horse", output_domain="zebra", direction="BtoA")
    meta = result.meta
    assert meta.method == "cyclegan" and meta.default == "BtoA"
    assert {n: (g.input_domain, g.output_domain) for n, g in meta.generators.items()} == {
        "AtoB": ("horse", "zebra"), "BtoA": ("zebra", "horse")}
    assert all(g.test_mode == "eval" for g in meta.generators.values())
    pipe = translate.load(result.out, device="cpu")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for direction, ref in (("AtoB", g_a), ("BtoA", g_b)):
        out = _run(pipe.loaded.generator(direction)[0].eval(), x)
        assert (out - _run(ref, x)).abs().max().item() <= 1e-5
    card = (result.out / "README.md").read_text()
    assert "latest_net_G_A.pth" in card and "latest_net_G_B.pth" in card
    back = pipe.loaded.modules["AtoB"].to_authors_state_dict()  # the same names as the authors'
    assert back.keys() == g_a.state_dict().keys() and all(torch.equal(back[k], v) for k, v in g_a.state_dict().items())


def test_single_test_mode_generator_of_a_published_cyclegan_model(tmp_path) -> None:
    net = authors_net("resnet_9blocks", norm="instance")
    src = _save(old_instance_norm_keys(net, net.state_dict()), tmp_path / "horse2zebra.pth", legacy=True)
    ckpt = read_checkpoint(src)
    assert ckpt.dropped and all(k.endswith(("running_mean", "running_var")) for k in ckpt.dropped)
    result = convert([src], input_domain="horse", output_domain="zebra",
                     source="http://example.org/horse2zebra.pth", license="BSD-2-Clause")
    assert result.out == tmp_path / "horse2zebra-translate"
    g = result.meta.generators["AtoB"]
    assert (g.input_domain, g.output_domain, g.direction) == ("horse", "zebra", "AtoB")
    card = (result.out / "README.md").read_text()
    assert "http://example.org/horse2zebra.pth" in card and "BSD-2-Clause" in card and ckpt.sha256 in card
    provenance = read_config(result.out / "config.json").provenance
    assert provenance is not None and provenance.source == "http://example.org/horse2zebra.pth"
    assert provenance.license == "BSD-2-Clause"
    assert [(f.name, f.sha256, f.generator) for f in provenance.files] == [("horse2zebra.pth", ckpt.sha256, "AtoB")]


# --------------------------------------------------------------------------- safe reading


def test_wrapped_and_data_parallel_state_dicts_are_read(tmp_path) -> None:
    state = {"model.1.weight": torch.zeros(2, 3, 7, 7)}
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, tmp_path / "w.pth")
    ckpt = read_checkpoint(tmp_path / "w.pth")
    assert list(ckpt.tensors) == ["model.1.weight"] and len(ckpt.notes) == 2


_RAN: list[str] = []


def _evil(marker: str) -> None:  # what a malicious pickle would call
    _RAN.append(marker)
    Path(marker).write_text("code ran")


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (_evil, (self.marker,))


@pytest.mark.parametrize("legacy", [False, True])
def test_a_checkpoint_with_other_objects_is_refused_and_nothing_runs(tmp_path, monkeypatch, legacy) -> None:
    marker = tmp_path / "ran.txt"
    path = tmp_path / "evil_net_G.pth"
    torch.save({"model.1.weight": torch.zeros(1), "x": _Evil(str(marker))}, path,
               _use_new_zipfile_serialization=not legacy)
    calls: list[dict[str, Any]] = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the plain unpickler must never be used")

    monkeypatch.setattr(torch, "load", spy)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with pytest.raises(ModelFileError, match="other than tensors.*_evil.*nothing in the file was run"):
        convert([path], tmp_path / "out")
    assert calls and all(c.get("weights_only") is True for c in calls)
    assert not marker.exists() and not _RAN
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("legacy", [False, True])
def test_a_truncated_checkpoint_says_so(tmp_path, legacy) -> None:
    net = authors_net("resnet_6blocks", norm="instance")
    full = _save(net.state_dict(), tmp_path / "full.pth", legacy=legacy).read_bytes()
    (tmp_path / "cut_net_G.pth").write_bytes(full[: len(full) // 2])
    with pytest.raises(ModelFileError, match="cut_net_G.pth: truncated or damaged PyTorch checkpoint"):
        convert([tmp_path / "cut_net_G.pth"], tmp_path / "out")


def test_not_a_checkpoint_and_not_a_state_dict(tmp_path) -> None:
    (tmp_path / "notes.pth").write_text("hello")
    with pytest.raises(ModelFileError, match="notes.pth: not a PyTorch checkpoint"):
        read_checkpoint(tmp_path / "notes.pth")
    torch.save({"a": torch.zeros(1), "nested": {"b": torch.zeros(1)}}, tmp_path / "nested.pth")
    with pytest.raises(ModelFileError, match="not a flat state dict: entries that are not tensors: 'nested'"):
        read_checkpoint(tmp_path / "nested.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(ModelFileError, match="holds a list, not a state dict"):
        read_checkpoint(tmp_path / "list.pth")


def test_an_unknown_architecture_names_the_closest_generators(tmp_path) -> None:
    net = authors_net("resnet_9blocks", norm="instance")
    state = net.state_dict()
    state["model.26.weight"] = torch.zeros(3, 32, 5, 5)  # last conv is 7x7 in the authors' ResNet
    with pytest.raises(ModelFileError) as err:
        convert([_save(state, tmp_path / "odd_net_G.pth")], tmp_path / "out")
    text = str(err.value)
    assert "no installed generator recognises this checkpoint" in text and "Closest:" in text
    assert "resnet_9blocks" in text and "--generator" in text
    torch.save({"encoder.layer1.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "other.pth")
    with pytest.raises(ModelFileError, match="no installed generator recognises"):
        convert([tmp_path / "other.pth"], tmp_path / "out")


def test_a_discriminator_checkpoint_is_named_as_one(tmp_path) -> None:
    torch.manual_seed(0)
    ndf, layers = 8, [nn.Conv2d(6, 8, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # the authors' 70x70 PatchGAN
    for cin, cout, stride in ((ndf, 2 * ndf, 2), (2 * ndf, 4 * ndf, 2), (4 * ndf, 8 * ndf, 1)):
        layers += [nn.Conv2d(cin, cout, 4, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
    layers.append(nn.Conv2d(8 * ndf, 1, 4, 1, 1))
    d = nn.Module()
    d.model = nn.Sequential(*layers)
    with pytest.raises(ModelFileError, match="it is a discriminator \\('patchgan_70' reads it\\), not a generator"):
        convert([_save(d.state_dict(), tmp_path / "latest_net_D.pth")], tmp_path / "out")


def test_the_authors_norm_none_resnet_is_refused_clearly(tmp_path) -> None:
    net = authors_net("resnet_6blocks", norm="none")
    with pytest.raises(ModelFileError, match="norm 'none'"):
        convert([_save(net.state_dict(), tmp_path / "n_net_G.pth")], tmp_path / "out", generator="resnet_6blocks")


# --------------------------------------------------------------------------- overrides and the command line


def test_overrides_and_a_named_generator(tmp_path) -> None:
    net = authors_net("unet_128", norm="batch")
    src = _save(net.state_dict(), tmp_path / "m_net_G.pth")
    result = convert([src], tmp_path / "a", generator="unet", overrides={"dropout": 0.0})
    g = result.meta.generators["G"]
    assert g.component == "unet" and g.options["num_downs"] == 7 and g.options["dropout"] == 0.0
    assert g.test_mode == "train"  # BatchNorm: the authors' test.py runs without --eval
    with pytest.raises(ModelFileError, match="not a 'resnet_9blocks' checkpoint"):
        convert([src], tmp_path / "b", generator="resnet_9blocks")
    with pytest.raises(ModelFileError, match="norm: Input should be"):
        convert([src], tmp_path / "c", generator="unet_128", overrides={"norm": "group"})
    assert parse_overrides(["dropout=0", "norm=instance", "ngf=64"]) == {"dropout": 0, "norm": "instance", "ngf": 64}
    with pytest.raises(TranslateError, match="KEY=VALUE"):
        parse_overrides(["dropout"])


def _cli(argv: list[str]) -> argparse.Namespace:
    return add_convert_arguments(argparse.ArgumentParser()).parse_args(argv)


def test_cli_converts_and_pushes_with_the_hub_push(tmp_path, monkeypatch, capsys) -> None:
    net = authors_net("unet_256", norm="batch", dropout=True)
    src = _save(net.state_dict(), tmp_path / "facades_label2photo.pth", legacy=True)
    pushed: list[tuple[Path, str, bool]] = []

    def fake_push(folder: Any, repo_id: str, **kwargs: Any) -> str:
        pushed.append((Path(folder), repo_id, kwargs.get("private", False)))
        return "https://huggingface.co/someone/facades/commit/" + "a" * 40

    import translate.models.hub

    monkeypatch.setattr(translate.models.hub, "push", fake_push)
    out = tmp_path / "facades"
    args = _cli([str(src), "--out", str(out), "--direction", "BtoA", "--input-domain", "label", "--output-domain",
                 "photo", "--source", "http://example.org/facades_label2photo.pth", "--push", "someone/facades"])
    assert convert_cli(args) == 0
    printed = capsys.readouterr().out
    assert "unet_256" in printed and "generator G (label->photo, train mode)" in printed
    assert pushed == [(out, "someone/facades", False)]
    meta = json.loads((out / "config.json").read_text())
    assert meta["generators"]["G"]["direction"] == "BtoA" and meta["method"] == "pix2pix"
    with pytest.raises(TranslateError, match="not empty"):
        convert_cli(args)


# --------------------------------------------------------------------------- infer, load and export name convert


@pytest.mark.parametrize("legacy", [False, True])
def test_loading_a_pth_names_translate_convert(tmp_path, legacy, capsys) -> None:
    from translate.commands.infer import infer_cli
    from translate.models.export import export_run

    net = authors_net("resnet_6blocks", norm="instance")
    src = _save(net.state_dict(), tmp_path / "latest_net_G.pth", legacy=legacy)
    expected = rf"is a PyTorch checkpoint.*translate convert {src} --out DIR"
    with pytest.raises(ModelFileError, match=expected):
        translate.load(src)
    with pytest.raises(ModelFileError, match=expected):
        export_run(src, tmp_path / "export")
    (tmp_path / "in.png").write_bytes(b"")
    with pytest.raises(ModelFileError, match=expected):
        infer_cli(argparse.Namespace(model=str(src), inputs=[str(tmp_path / "in.png")], out=str(tmp_path / "o")))
    with pytest.raises(ModelFileError, match="holds PyTorch checkpoints \\(latest_net_G.pth\\).*translate convert"):
        translate.load(tmp_path)


def test_a_converted_folder_exports_again(tmp_path) -> None:
    from translate.models.export import export_run

    net = authors_net("resnet_6blocks", norm="instance")
    result = convert([_save(net.state_dict(), tmp_path / "x_net_G_B.pth")], tmp_path / "model")
    assert result.meta.default == "BtoA" and result.meta.generators["BtoA"].input_domain == "B"
    again = export_run(result.out, tmp_path / "again")
    assert read_config(again / "config.json") == read_config(result.out / "config.json")
    a, b = load_model(again).tensors(), load_model(result.out).tensors()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_converted_model_exports_to_onnx(tmp_path) -> None:
    """Like any model folder: ONNX with dynamic sizes, checked against PyTorch with onnxruntime."""
    from translate.models.onnx import export_onnx

    net = authors_net("resnet_6blocks", norm="instance")
    result = convert([_save(net.state_dict(), tmp_path / "latest_net_G.pth")], tmp_path / "model")
    report = export_onnx(result.out / "model.safetensors", result.out, sizes=[(1, 32, 32), (2, 32, 64)],
                         echo=None)
    assert report.files == [result.out / "model.onnx"] and report.max_abs_diff is not None
    assert report.max_abs_diff < 1e-3


def test_other_files_are_not_taken_for_checkpoints(tmp_path) -> None:
    import struct
    import zipfile

    odd = tmp_path / "short.safetensors"  # a header length of 0x280 starts with the bytes of a pickle header
    odd.write_bytes(struct.pack("<Q", 0x280) + b"{" + b" " * 16)
    with pytest.raises(ModelFileError) as err:
        load_model(odd)
    assert "truncated" in str(err.value) and "PyTorch" not in str(err.value)
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as archive:
        archive.writestr("a.txt", "hello")
    with pytest.raises(ModelFileError, match="a zip archive, not a translate model file"):
        load_model(tmp_path / "photos.zip")


# --------------------------------------------------------------------------- provenance: what recognised the file


class _OtherCodeNet(nn.Module):
    """A generator of some other code base, whose checkpoints hold ``w`` and ``b`` (one 3x3 conv, then tanh)."""

    def __init__(self, options: Any = None, *, in_channels: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        self.body = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(x))

    def infer_options_from_authors_state_dict(self, state: dict[str, Any]) -> dict[str, Any]:
        if set(state) != {"w", "b"}:
            raise ModelFileError("not an other-code checkpoint")
        return {}

    def from_authors_state_dict(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"body.weight": state["w"], "body.bias": state["b"]}


class _OtherCodePlugin:
    @translate.hookimpl
    def register_generators(self, register):
        register("other_net", _OtherCodeNet, description="reads the other code's checkpoints")


def test_a_checkpoint_read_through_a_plugin_names_the_plugin_not_the_authors(tmp_path) -> None:
    from translate.plugin.loading import load_plugins

    registry = load_plugins(extra=[("other-code", _OtherCodePlugin())]).registry
    w, b = torch.randn(3, 3, 3, 3), torch.randn(3)
    src = tmp_path / "published_G.pth"
    torch.save({"w": w, "b": b}, src)
    result = convert([src], tmp_path / "model", source="https://example.org/published_G.pth", registry=registry)
    provenance = result.meta.provenance
    assert provenance.converted_from == ("a checkpoint layout recognised by generator 'other_net' of plugin "
                                         "'other-code' ((in-process) 0)")
    f = provenance.files[0]
    assert (f.read_by, f.plugin.name, f.plugin.distribution, f.builtin) == ("other_net", "other-code", "(in-process)",
                                                                           False)
    config = (result.out / "config.json").read_text()
    card = (result.out / "README.md").read_text()
    for text in (config, card):
        assert "junyanz" not in text and "pytorch-CycleGAN-and-pix2pix" not in text
    assert json.loads(config)["provenance"]["files"][0]["read_by"] == "other_net"
    assert "| other_net (plugin other-code, (in-process) 0) |" in card
    assert "- source (as given with `--source`): `https://example.org/published_G.pth`" in card
    assert "given as their source: https://example.org/published_G.pth" in card  # the limitation line too
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    loaded = load_model(result.out, registry=registry)
    with torch.no_grad():
        out = loaded.modules[loaded.meta.default].eval()(x)
    assert torch.allclose(out, torch.tanh(torch.nn.functional.conv2d(x, w, b, padding=1)), atol=1e-6)


def test_the_built_in_layouts_claim_the_authors_code(tmp_path) -> None:
    net = authors_net("resnet_6blocks", norm="instance")
    result = convert([_save(net.state_dict(), tmp_path / "latest_net_G.pth")], tmp_path / "model")
    provenance = result.meta.provenance
    assert provenance.converted_from == "checkpoints of the authors' pytorch-CycleGAN-and-pix2pix (junyanz) code"
    f = provenance.files[0]
    assert f.read_by == "resnet_6blocks" and f.builtin is True and f.plugin.distribution == "translate-i2i"
    assert "| resnet_6blocks (built in) |" in (result.out / "README.md").read_text()


def test_a_refused_file_points_to_the_plugin_route(tmp_path) -> None:
    torch.save({"encoder.layer1.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "other.pth")
    with pytest.raises(ModelFileError, match=r"generator plugin whose network reads its layout: see docs/models.md, "
                                             r"\"Converting other checkpoints through a plugin\""):
        convert([tmp_path / "other.pth"], tmp_path / "out")
    docs = (Path(__file__).resolve().parents[3] / "docs" / "models.md").read_text()
    assert "### Converting other checkpoints through a plugin" in docs  # the section the message names
