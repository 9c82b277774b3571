"""``translate.load``: input and output kinds, CLI equivalence, precision, directions, save_pretrained, Hub ids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import translate
import translate.models.hub
from tests.support.model_runs import trained_run, write_image
from tests.support.tiny_plugin import TinyGenerator, TinyOptions, TinyPlugin
from translate.commands.main import main
from translate.components.method import ComponentRecord, ExportSpec
from translate.errors import ModelFileError, TranslateError
from translate.inference.pipeline import Pipeline, load
from translate.models import build_meta
from translate.models import source as model_source
from translate.models.export import save_folder
from translate.plugin.loading import load_plugins


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra=[("tinyplug", TinyPlugin())], entry_points=[]).registry


def tiny_folder(folder: Path, in_channels: int, out_channels: int) -> Path:
    """A model folder holding one tiny generator (size multiple 4) mapping in_channels to out_channels."""
    torch.manual_seed(in_channels * 10 + out_channels)
    options = TinyOptions()
    gen = TinyGenerator(options, in_channels=in_channels, out_channels=out_channels)
    record = ComponentRecord("generator", "tiny", options.model_dump(), "tinyplug", "(in-process)", "0",
                             in_channels, out_channels)
    meta, tensors = build_meta(method="pix2pix", exports=[(ExportSpec("AtoB", "G"), gen, record)])
    return save_folder(folder, meta, tensors)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, registry):
    """Pipelines over tiny models by (in_channels, out_channels)."""
    root = tmp_path_factory.mktemp("tiny")
    return {(i, o): load(tiny_folder(root / f"m{i}{o}", i, o), registry=registry, device="cpu")
            for i, o in [(3, 3), (1, 1), (3, 4)]}


def test_translate_load_is_public():
    assert "load" in translate.__all__ and translate.load is load


# --------------------------------------------------------------------------- same outputs everywhere


def test_cli_python_api_and_reloaded_folder_agree(pix2pix_model, tmp_path):
    image = write_image(tmp_path / "in" / "odd.png", 37, 45)
    assert main(["infer", str(pix2pix_model), str(image), "--out", str(tmp_path / "cli"),
                 "--mode", "eval", "--seed", "0", "--device", "cpu"]) == 0
    from_cli = np.asarray(Image.open(tmp_path / "cli" / "odd.png"))
    pipe = translate.load(str(pix2pix_model), mode="eval", seed=0, device="cpu")
    out = pipe(image)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (45, 37)
    assert np.array_equal(np.asarray(out), from_cli)
    saved = pipe.save_pretrained(tmp_path / "saved")
    again = translate.load(saved, mode="eval", seed=0)(image)
    assert np.array_equal(np.asarray(again), from_cli)
    # the model file alone and the run folder give the same result
    assert np.array_equal(np.asarray(translate.load(pix2pix_model / "model.safetensors", mode="eval")(image)), from_cli)


def test_train_mode_matches_the_cli(pix2pix_model, tmp_path):
    """Dropout in train mode is seeded from the seed and the file name, as translate infer does."""
    image = write_image(tmp_path / "a.png", 32, 32, seed=3)
    assert main(["infer", str(pix2pix_model), str(image), "--out", str(tmp_path / "cli"), "--mode", "train",
                 "--seed", "7"]) == 0
    pipe = load(pix2pix_model, mode="train", seed=7)
    out = np.asarray(pipe(image))
    assert np.array_equal(out, np.asarray(Image.open(tmp_path / "cli" / "a.png")))
    assert np.array_equal(out, np.asarray(pipe(image)))  # reproducible
    assert not np.array_equal(out, np.asarray(load(pix2pix_model, mode="train", seed=8)(image)))


def test_cyclegan_directions_agree_with_the_cli(cyclegan_model, tmp_path):
    image = write_image(tmp_path / "x.png", 20, 28, seed=1)
    pipe = load(cyclegan_model)
    assert pipe.generators == ["AtoB", "BtoA"] and pipe.info.name == "AtoB"
    outs = {}
    for direction in ("AtoB", "BtoA"):
        assert main(["infer", str(cyclegan_model), str(image), "--out", str(tmp_path / direction),
                     "--direction", direction]) == 0
        outs[direction] = np.asarray(Image.open(tmp_path / direction / "x.png"))
        assert np.array_equal(np.asarray(pipe(image, direction=direction)), outs[direction])
        chosen = load(cyclegan_model, direction=direction)
        assert chosen.info.name == direction
        assert np.array_equal(np.asarray(chosen(image)), outs[direction])
    assert np.array_equal(np.asarray(pipe(image)), outs["AtoB"])
    assert not np.array_equal(outs["AtoB"], outs["BtoA"])
    assert np.array_equal(np.asarray(load(cyclegan_model, direction="BtoA")(image, direction="AtoB")), outs["AtoB"])


def test_unknown_direction(cyclegan_model, pix2pix_model):
    with pytest.raises(ModelFileError, match=r"no generator named or directed 'sideways'.*AtoB \(direction AtoB\)"):
        load(cyclegan_model, direction="sideways")
    with pytest.raises(ModelFileError, match="no generator named or directed 'BtoA'"):
        load(pix2pix_model)(torch.zeros(3, 4, 4), direction="BtoA")


# --------------------------------------------------------------------------- input and output kinds


def test_paths_and_pil_images(tiny, tmp_path):
    rgb, gray = tiny[3, 3], tiny[1, 1]
    path = write_image(tmp_path / "in.png", 9, 13)
    out = rgb(path)
    assert isinstance(out, Image.Image) and (out.mode, out.size) == ("RGB", (13, 9))
    assert np.array_equal(np.asarray(rgb(str(path))), np.asarray(out))
    pil = Image.open(path)
    assert np.array_equal(np.asarray(rgb(pil)), np.asarray(out))  # a PIL image gives what its file gives
    l_img = Image.open(write_image(tmp_path / "l.png", 10, 7, mode="L"))
    rgba_img = Image.open(write_image(tmp_path / "rgba.png", 6, 5, mode="RGBA"))
    assert (gray(l_img).mode, gray(l_img).size) == ("L", (7, 10))  # L in, L out for a 1-channel model
    assert (rgb(l_img).mode, rgb(l_img).size) == ("RGB", (7, 10))
    assert (rgb(rgba_img).mode, rgb(rgba_img).size) == ("RGB", (5, 6))
    assert (gray(rgba_img).mode, gray(rgba_img).size) == ("L", (5, 6))
    assert (tiny[3, 4](rgba_img).mode, tiny[3, 4](rgba_img).size) == ("RGBA", (5, 6))
    assert rgb(Image.new("P", (4, 4))).mode == "RGB"


def test_arrays_keep_dtype_and_layout(tiny):
    rgb, gray = tiny[3, 3], tiny[1, 1]
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (11, 6, 3), dtype=np.uint8)
    ref = rgb(u8)
    assert ref.dtype == np.uint8 and ref.shape == (11, 6, 3)
    assert np.array_equal(ref, np.asarray(rgb(Image.fromarray(u8))))
    u16 = rgb(u8.astype(np.uint16) * 257)
    assert u16.dtype == np.uint16 and u16.shape == (11, 6, 3)
    assert np.abs(u16.astype(np.float64) / 65535 - ref / 255).max() <= 1 / 255
    for dtype in (np.float32, np.float64, np.float16):
        out = rgb(u8.astype(dtype) / 255)
        assert out.dtype == dtype and out.shape == (11, 6, 3) and 0 <= out.min() and out.max() <= 1
        assert np.abs(out.astype(np.float64) - ref / 255).max() <= 1 / 255
    plane = rng.integers(0, 256, (5, 8), dtype=np.uint8)
    assert gray(plane).shape == (5, 8) and gray(plane).dtype == np.uint8  # HxW in, HxW out
    assert rgb(plane).shape == (5, 8, 3)  # three output channels need an axis
    assert gray(u8[:, :, :1]).shape == (11, 6, 1)
    assert tiny[3, 4](u8).shape == (11, 6, 4)


def test_array_batches(tiny):
    rgb = tiny[3, 3]
    batch = np.random.default_rng(1).integers(0, 256, (3, 10, 9, 3), dtype=np.uint8)
    out = rgb(batch)
    assert out.shape == (3, 10, 9, 3) and out.dtype == np.uint8
    for i in range(3):
        assert np.array_equal(out[i], rgb(batch[i]))
    floats = rgb(batch.astype(np.float32) / 255)
    assert floats.shape == (3, 10, 9, 3) and floats.dtype == np.float32


def test_tensors_keep_layout_dtype_and_range(tiny):
    rgb = tiny[3, 3]
    torch.manual_seed(0)
    x = torch.rand(2, 3, 10, 14) * 2 - 1
    out = rgb(x)
    assert out.shape == (2, 3, 10, 14) and out.dtype == torch.float32 and out.device == x.device
    assert out.min() >= -1 and out.max() <= 1
    single = rgb(x[1])
    assert single.shape == (3, 10, 14)
    assert torch.allclose(single, out[1], atol=1e-6)
    as_array = rgb(((x[1] + 1) / 2).permute(1, 2, 0).numpy())  # the same image as a float array in [0, 1]
    assert np.allclose(single.permute(1, 2, 0).numpy(), as_array * 2 - 1, atol=1e-5)
    half = rgb(x.to(torch.bfloat16))
    assert half.dtype == torch.bfloat16 and half.shape == x.shape
    assert tiny[1, 1](x).shape == (2, 1, 10, 14)
    assert x.grad is None and not out.requires_grad


def test_lists_are_one_batch(tiny, tmp_path):
    rgb = tiny[3, 3]
    path = write_image(tmp_path / "p.png", 8, 8)
    arr = np.zeros((8, 8, 3), np.uint8)
    outs = rgb([path, arr, torch.zeros(3, 8, 8)])
    assert isinstance(outs, list) and isinstance(outs[0], Image.Image)
    assert isinstance(outs[1], np.ndarray) and isinstance(outs[2], torch.Tensor)
    assert np.array_equal(outs[1], rgb(arr)) and rgb([]) == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.full((4, 4, 3), 255.0, np.float32), r"float arrays must hold values in \[0, 1\], got values in \[255, 255\]"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.zeros((4, 4, 3), np.int32), "unsupported array dtype int32"),
        (np.zeros((2, 4, 4, 3, 1), np.uint8), r"array of shape \(2, 4, 4, 3, 1\)"),
        (np.zeros((2, 16, 16), np.uint8), "add a channel axis"),
        (np.zeros((0, 4, 4, 3), np.uint8), "empty batch"),
        (np.zeros((0, 4, 3), np.uint8), "empty image"),
        (torch.zeros(3, 4, 4, dtype=torch.uint8), "tensor inputs must be floating point"),
        (torch.full((3, 4, 4), 2.0), r"values in \[-1, 1\]"),
        (torch.zeros(4, 4), "expected CxHxW or NxCxHxW"),
        (torch.zeros(1, 6, 4, 4), "6 channels"),
        (12, "cannot translate a int"),
    ],
)
def test_bad_inputs(tiny, image, expected):
    with pytest.raises(TranslateError, match=expected):
        tiny[3, 3](image)


def test_missing_image_file_and_folder(tiny, tmp_path):
    with pytest.raises(TranslateError, match="image file not found"):
        tiny[3, 3](tmp_path / "nope.png")
    with pytest.raises(TranslateError, match="is a folder"):
        tiny[3, 3](tmp_path)


# --------------------------------------------------------------------------- options


def test_bfloat16_on_cpu_is_close_to_float32(pix2pix_model):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    full = load(pix2pix_model, mode="eval")(x)
    for dtype in ("bfloat16", "bf16", torch.bfloat16):
        pipe = load(pix2pix_model, mode="eval", dtype=dtype)
        assert "precision='bf16'" in repr(pipe)
        out = pipe(x)
        assert out.dtype == torch.float32 and (out - full).abs().max() < 0.05


@pytest.mark.gpu
def test_bfloat16_on_gpu_is_close_to_float32(pix2pix_model):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    full = load(pix2pix_model, mode="eval", device="cpu")(x)
    pipe = load(pix2pix_model, mode="eval", device="cuda", dtype="bfloat16")
    assert pipe.device.type == "cuda"
    out = pipe(x.cuda())
    assert out.device.type == "cuda" and (out.cpu() - full).abs().max() < 0.05


def test_invalid_options(pix2pix_model):
    with pytest.raises(TranslateError, match="dtype must be float32, bfloat16 or float16"):
        load(pix2pix_model, dtype="int8")
    with pytest.raises(TranslateError, match="fp16 inference needs a CUDA device"):
        load(pix2pix_model, dtype="float16", device="cpu")
    with pytest.raises(TranslateError, match="mode must be one of"):
        load(pix2pix_model, mode="sometimes")


def test_save_pretrained_round_trip(pix2pix_model, tmp_path):
    pipe = load(pix2pix_model, dtype="bfloat16")
    pipe(torch.zeros(3, 8, 8))  # running it changes nothing that is saved
    out = pipe.save_pretrained(tmp_path / "copy")
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "config.json", "README.md"}
    original = json.loads((pix2pix_model / "config.json").read_text())
    assert json.loads((out / "config.json").read_text()) == original
    from safetensors.torch import load_file

    a, b = load_file(pix2pix_model / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    assert 'translate.load("copy")' in (out / "README.md").read_text()
    with pytest.raises(TranslateError, match="not empty"):
        pipe.save_pretrained(out)


def test_sources(pix2pix_model, tmp_path_factory, tmp_path, monkeypatch):
    run = trained_run("pix2pix", tmp_path_factory)
    x = torch.zeros(3, 8, 8)
    ref = load(pix2pix_model, mode="eval")(x)
    assert torch.equal(load(run, mode="eval")(x), ref)  # a run folder
    assert isinstance(load(pix2pix_model / "model.safetensors"), Pipeline)
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "missing.safetensors")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError, match="for a Hugging Face Hub model use hf://someone/facades"):
        load("someone/facades")


def test_hub_ids_are_downloaded_by_translate_hub(pix2pix_model, monkeypatch):
    calls = []

    def download(repo_id, revision=None):
        calls.append((repo_id, revision))
        return pix2pix_model

    assert model_source.download is translate.models.hub.download  # what is replaced below
    monkeypatch.setattr(model_source, "download", download)
    pipe = translate.load("hf://someone/facades-pix2pix@v1.0")
    assert calls == [("someone/facades-pix2pix", "v1.0")] and pipe.source == "hf://someone/facades-pix2pix@v1.0"
    translate.load("hf://someone/facades-pix2pix")
    assert calls[-1] == ("someone/facades-pix2pix", None)
    for bad in ("hf://facades", "hf://a/b/c", "hf://../x", "hf://a/b@bad rev"):
        with pytest.raises(ModelFileError, match="repository|revision|Hub id"):
            translate.load(bad)
    assert len(calls) == 2
