"""Inference: folders, odd sizes, channels, corrupt inputs, test-time modes and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import translate
import translate.plugins
from translate.cli import main
from translate.errors import DataError, TranslateError
from translate.inference import Translator, collect_inputs
from translate.method import ComponentRecord, ExportSpec
from translate.modelfile import load_model, save_model
from translate.plugins import load_plugins


from tiny_plugin import TinyGenerator, TinyOptions, TinyPlugin  # noqa: E402


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(extra=[("tinyplug", TinyPlugin())], entry_points=[])


def make_model(folder: Path, *, dropout: float = 0.0, test_mode: str = "eval", in_channels: int = 3) -> Path:
    torch.manual_seed(0)
    options = TinyOptions(dropout=dropout)
    gen = TinyGenerator(options, in_channels=in_channels, out_channels=3)
    gen.translate_record = ComponentRecord("generator", "tiny", options.model_dump(), "tinyplug", "(in-process)",
                                           "0", in_channels, 3)
    with torch.no_grad():
        gen.norm.running_mean.uniform_(-0.5, 0.5)
    folder.mkdir(parents=True, exist_ok=True)
    return save_model(folder / "model.safetensors", method="pix2pix",
                      exports=[(ExportSpec("AtoB", "G", test_mode=test_mode), gen)])


def write_image(path: Path, height: int, width: int, mode: str = "RGB", seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    shape = (height, width) if mode == "L" else (height, width, len(mode))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)


def translator(tmp_path, plugins, **kwargs) -> Translator:
    model_kwargs = {k: kwargs.pop(k) for k in ("dropout", "test_mode") if k in kwargs}
    loaded = load_model(make_model(tmp_path / "run", **model_kwargs), plugins.registry)
    module, info = loaded.generator()
    return Translator(module, info, device="cpu", **kwargs)


@pytest.fixture
def use_plugins(plugins, monkeypatch):
    """The CLI path loads its registry through translate.plugins.get_plugins(): inject ours."""
    monkeypatch.setattr(translate.plugins, "_CACHE", plugins)


# --------------------------------------------------------------------------- files and folders


def test_folder_with_nested_files_and_odd_sizes(tmp_path, plugins):
    src = tmp_path / "in"
    write_image(src / "a.png", 37, 53)
    write_image(src / "sub" / "b.jpg", 16, 16)
    write_image(src / "sub" / "deeper" / "c.bmp", 2, 3)  # smaller than the padding: replicate
    write_image(src / "gray.png", 9, 11, mode="L")  # grayscale into a 3-channel model
    write_image(src / "rgba.png", 12, 5, mode="RGBA")
    (src / "notes.txt").write_text("not an image")
    t = translator(tmp_path, plugins, batch_size=3)
    report = t.run(collect_inputs([src]), tmp_path / "out", progress=False)
    assert not report.failed
    expected = {"a.png": (37, 53), "sub/b.png": (16, 16), "sub/deeper/c.png": (2, 3), "gray.png": (9, 11),
                "rgba.png": (12, 5)}
    written = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert written == set(expected)
    for rel, (h, w) in expected.items():
        with Image.open(tmp_path / "out" / rel) as img:
            assert (img.height, img.width, img.mode) == (h, w, "RGB")


def test_single_files_keep_their_stem(tmp_path):
    write_image(tmp_path / "x" / "photo.jpeg", 8, 8)
    items = collect_inputs([tmp_path / "x" / "photo.jpeg"])
    assert [i.relative for i in items] == [Path("photo.png")]


def test_input_errors(tmp_path):
    with pytest.raises(DataError, match="input not found"):
        collect_inputs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images to translate"):
        collect_inputs([tmp_path / "empty"])
    write_image(tmp_path / "dup" / "a.png", 4, 4)
    write_image(tmp_path / "dup" / "a.jpg", 4, 4)
    with pytest.raises(DataError, match="overwrite each other's output"):
        collect_inputs([tmp_path / "dup"])


def test_padding_crops_back_exactly(tmp_path, plugins):
    t = translator(tmp_path, plugins)
    assert t.padded_size(37, 53) == (40, 56) and t.padded_size(16, 16) == (16, 16)
    image = np.random.default_rng(0).random((37, 53, 3), dtype=np.float32)
    out = t(image)
    assert out.shape == (37, 53, 3) and out.dtype == np.float32
    # the same as padding by hand and running the module in eval mode
    x = torch.from_numpy(image.transpose(2, 0, 1))[None] * 2 - 1
    x = torch.nn.functional.pad(x, (0, 3, 0, 3), mode="reflect")
    t.module.eval()
    with torch.no_grad():
        y = (t.module(x)[0, :, :37, :53].permute(1, 2, 0).numpy() + 1) / 2
    np.testing.assert_allclose(out, y, atol=1e-6)


def test_eval_batches_match_single_images(tmp_path, plugins):
    rng = np.random.default_rng(1)
    images = [rng.random((h, w, 3), dtype=np.float32) for h, w in [(16, 16), (13, 15), (16, 16), (8, 8), (14, 16)]]
    batched = translator(tmp_path, plugins, batch_size=4).translate_batch(images)
    single = [translator(tmp_path / "s", plugins, batch_size=1)(im) for im in images]
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a, b, atol=1e-5)


# --------------------------------------------------------------------------- test-time modes


def test_train_mode_uses_dropout_and_image_statistics(tmp_path, plugins):
    rng = np.random.default_rng(2)
    images = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(3)]
    t = translator(tmp_path, plugins, dropout=0.5, mode="train", seed=1, batch_size=8)
    assert t.mode == "train" and t.batch_size == 1
    before = {k: v.clone() for k, v in t.module.state_dict().items()}
    first = t.translate_batch(images, ["a", "b", "c"])
    # reproducible, independent of batch composition and order
    again = t.translate_batch(images[::-1], ["c", "b", "a"])[::-1]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # BatchNorm running statistics are left untouched, the module's mode restored
    for k, v in t.module.state_dict().items():
        assert torch.equal(v, before[k]), k
    other_seed = translator(tmp_path / "o", plugins, dropout=0.5, mode="train", seed=2)(images[0], "a")
    assert not np.allclose(other_seed, first[0])
    evaluated = translator(tmp_path / "e", plugins, dropout=0.5, mode="eval")(images[0])
    assert not np.allclose(evaluated, first[0])


def test_eval_mode_is_deterministic_and_ignores_dropout(tmp_path, plugins):
    image = np.random.default_rng(3).random((12, 12, 3), dtype=np.float32)
    t = translator(tmp_path, plugins, dropout=0.5, mode="eval")
    np.testing.assert_array_equal(t(image), t(image))


def test_model_mode_follows_the_file(tmp_path, plugins):
    assert translator(tmp_path, plugins, test_mode="train").mode == "train"
    assert translator(tmp_path / "b", plugins, test_mode="train", mode="eval").mode == "eval"
    assert translator(tmp_path / "c", plugins).mode == "eval"


def test_precision(tmp_path, plugins):
    with pytest.raises(TranslateError, match="fp16 inference needs a CUDA device"):
        translator(tmp_path, plugins, precision="fp16")
    image = np.random.default_rng(4).random((8, 8, 3), dtype=np.float32)
    out = translator(tmp_path / "b", plugins, precision="bf16")(image)
    ref = translator(tmp_path / "c", plugins)(image)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=0.05)


# --------------------------------------------------------------------------- CLI


def test_cli_end_to_end(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    write_image(tmp_path / "in" / "one.png", 37, 53)
    write_image(tmp_path / "in" / "nested" / "two.png", 20, 24, mode="L")
    write_image(tmp_path / "three.jpg", 8, 12)
    code = main(["infer", str(model.parent), str(tmp_path / "in"), str(tmp_path / "three.jpg"),
                 "--out", str(tmp_path / "out"), "--batch-size", "2", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"3 images -> {tmp_path / 'out'}" in out and "ms/image" in out
    for rel, size in {"one.png": (53, 37), "nested/two.png": (24, 20), "three.png": (12, 8)}.items():
        with Image.open(tmp_path / "out" / rel) as img:
            assert img.size == size


def test_cli_skips_corrupt_files_and_fails_at_the_end(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    write_image(tmp_path / "in" / "good.png", 16, 16)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    write_image(tmp_path / "in" / "z_last.png", 10, 10)
    code = main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.png" in captured.err and "1 of 3 inputs failed" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png", "z_last.png"]


def test_cli_reports_bad_arguments(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    write_image(tmp_path / "in" / "a.png", 8, 8)
    assert main(["infer", str(model), str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--direction", "BtoA"]) == 2
    assert "no generator named or directed 'BtoA'. Available: AtoB (direction AtoB)" in capsys.readouterr().err
    assert main(["infer", str(tmp_path / "missing.safetensors"), str(tmp_path / "in"), "--out", "o"]) == 2
    assert "no such model file" in capsys.readouterr().err
