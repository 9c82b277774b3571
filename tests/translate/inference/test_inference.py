"""Inference: folders, odd sizes, channels, corrupt inputs, test-time modes and the CLI."""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.tiny_plugin import TinyGenerator, TinyOptions, TinyPlugin  # noqa: E402
from translate.commands import builtin as builtin_commands
from translate.commands.infer import infer_cli
from translate.commands.main import main
from translate.components.method import ComponentRecord, ExportSpec
from translate.errors import DataError, TranslateError
from translate.inference import Translator, collect_inputs, parse_size, tile_starts, tile_windows, translate_files
from translate.models import GeneratorInfo, GeneratorMeta, PluginMeta, load_model, save_model
from translate.plugin.loading import load_plugins


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(extra=[("tinyplug", TinyPlugin()), ("commands", builtin_commands)], entry_points=[])


def make_model(folder: Path, *, dropout: float = 0.0, test_mode: str = "eval", in_channels: int = 3,
               direction: str = "AtoB") -> Path:
    torch.manual_seed(0)
    options = TinyOptions(dropout=dropout)
    gen = TinyGenerator(options, in_channels=in_channels, out_channels=3)
    record = ComponentRecord("generator", "tiny", options.model_dump(), "tinyplug", "(in-process)", "0",
                             in_channels, 3)
    with torch.no_grad():
        gen.norm.running_mean.uniform_(-0.5, 0.5)
    folder.mkdir(parents=True, exist_ok=True)
    return save_model(folder / "model.safetensors", method="pix2pix",
                      exports=[(ExportSpec(direction, "G", direction=direction, input_domain=direction[0],
                                           output_domain=direction[-1], test_mode=test_mode), gen, record)])


def write_image(path: Path, height: int, width: int, mode: str = "RGB", seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    shape = (height, width) if mode == "L" else (height, width, len(mode))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)


def translator(tmp_path, plugins, **kwargs) -> Translator:
    model_kwargs = {k: kwargs.pop(k) for k in ("dropout", "test_mode", "direction") if k in kwargs}
    loaded = load_model(make_model(tmp_path / "run", **model_kwargs), plugins.registry)
    module, info = loaded.generator()
    return Translator(module, info, device="cpu", **kwargs)


@pytest.fixture
def use_plugins(plugins, install_plugins):
    """The CLI path loads its registry through translate.plugin.loading.get_plugins(): use ours."""
    install_plugins(plugins)


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
    report = translate_files(t, collect_inputs([src]), tmp_path / "out", progress=False)
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
    with pytest.raises(DataError, match="nothing to translate in .*empty: no image files"):
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


def test_cli_a_lone_text_file_is_one_error_and_creates_nothing(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    (tmp_path / "notes.txt").write_text("not an image")
    assert main(["infer", str(model), str(tmp_path / "notes.txt"), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.strip()]
    assert errors == [f"error: nothing to translate: {tmp_path / 'notes.txt'} is not an image file "
                      "(the types read: .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp)"]
    assert "0 images" not in captured.out and not (tmp_path / "out").exists()


def test_cli_a_folder_without_images_is_one_error_listing_the_types(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert errors == [f"error: nothing to translate in {tmp_path / 'in'}: no image files (the types read: .png, "
                      f".jpg, .jpeg, .bmp, .tif, .tiff, .webp); skipped 1 file that is not an image "
                      f"({tmp_path / 'in' / 'notes.txt'})"]
    assert not (tmp_path / "out").exists()


def test_cli_counts_the_skipped_files_in_its_summary(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    write_image(tmp_path / "in" / "a.png", 8, 8)
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "data.csv").write_text("1,2")
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith(f"1 image -> {tmp_path / 'out'} (")
    assert summary.endswith(f"; skipped 2 files that are not an image ({tmp_path / 'in' / 'notes.txt'}, "
                            f"{tmp_path / 'in' / 'sub' / 'data.csv'})")


def test_cli_a_broken_image_is_named_once_and_nothing_written_leaves_no_folder(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    broken = tmp_path / "broken.png"
    write_image(broken, 16, 16)
    broken.write_bytes(broken.read_bytes()[:60])  # truncated
    (tmp_path / "fake.png").write_text("not a PNG at all")
    for path in (broken, tmp_path / "fake.png"):
        assert main(["infer", str(model), str(path), "--out", str(tmp_path / "out" / "deeper")]) == 1
        captured = capsys.readouterr()
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 2 and errors[0].count(path.name) == 1, errors
        assert errors[0].startswith(f"error: cannot read image {path}: ") and errors[0].endswith("(skipped)")
        assert errors[1] == "error: nothing translated: the input failed (listed above)"
        assert "0 images" not in captured.out and not (tmp_path / "out").exists()


def test_cli_refuses_to_write_over_its_inputs(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    write_image(tmp_path / "in" / "a.png", 8, 8)
    before = (tmp_path / "in" / "a.png").read_bytes()
    for extra in ([], ["--overwrite"]):  # not even with --overwrite
        assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "in"), *extra]) == 2
        err = capsys.readouterr().err
        assert "refusing to write over the inputs" in err and "a.png is the input" in err and "Traceback" not in err
        assert (tmp_path / "in" / "a.png").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png"]


def test_cli_existing_outputs_need_overwrite(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    write_image(tmp_path / "in" / "a.png", 8, 8)
    write_image(tmp_path / "in" / "b.png", 8, 8, seed=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"the user's own file")
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1 output file(s) already exist" in err and "a.png" in err and "--overwrite" in err
    assert (out / "a.png").read_bytes() == b"the user's own file" and not (out / "b.png").exists()  # nothing written
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(out), "--overwrite"]) == 0
    with Image.open(out / "a.png") as img:
        assert img.size == (8, 8)


def test_check_outputs_covers_the_html_copies(tmp_path):
    from translate.inference import InputImage, check_outputs

    src = tmp_path / "in" / "x.png"
    items = [InputImage(src, Path("x.png"))]
    (tmp_path / "out" / "inputs").mkdir(parents=True)
    (tmp_path / "out" / "inputs" / "x.png").write_bytes(b"")
    check_outputs(items, tmp_path / "out")  # the page copies are only written with html
    with pytest.raises(DataError, match="already exist"):
        check_outputs(items, tmp_path / "out", html=True)
    check_outputs(items, tmp_path / "out", html=True, overwrite=True)


def test_cli_reports_bad_arguments(tmp_path, use_plugins, capsys):
    model = make_model(tmp_path / "run")
    write_image(tmp_path / "in" / "a.png", 8, 8)
    assert main(["infer", str(model), str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--direction", "BtoA"]) == 2
    assert "no generator named or directed 'BtoA'. Available: AtoB (direction AtoB)" in capsys.readouterr().err
    assert main(["infer", str(tmp_path / "missing.safetensors"), str(tmp_path / "in"), "--out", "o"]) == 2
    assert "no such model file" in capsys.readouterr().err



# --------------------------------------------------------------------------- globs


def test_globs_expand_with_names_relative_to_the_pattern_folder(tmp_path, monkeypatch):
    write_image(tmp_path / "photos" / "a.jpg", 8, 8)
    write_image(tmp_path / "photos" / "b.jpg", 8, 8)
    write_image(tmp_path / "photos" / "c.png", 8, 8)
    write_image(tmp_path / "photos" / "deep" / "d.jpg", 8, 8)
    (tmp_path / "photos" / "notes.txt").write_text("skipped like in folders")
    items = collect_inputs([str(tmp_path / "photos" / "*.jpg")])
    assert [(i.source.name, i.relative.as_posix()) for i in items] == [("a.jpg", "a.png"), ("b.jpg", "b.png")]
    items = collect_inputs([str(tmp_path / "photos" / "**" / "*.jpg")])
    assert [i.relative.as_posix() for i in items] == ["a.png", "b.png", "deep/d.png"]
    monkeypatch.chdir(tmp_path)  # a relative recursive glob: names keep their folders
    items = collect_inputs(["**/*.png", "photos/*.jpg", "photos/a.jpg"])  # overlaps are kept once
    assert [i.relative.as_posix() for i in items] == ["photos/c.png", "a.png", "b.png"]
    assert items[0].source == Path("photos/c.png")
    items = collect_inputs(["phot?s"])  # a matched folder is searched recursively
    assert [i.relative.as_posix() for i in items] == ["photos/a.png", "photos/b.png", "photos/c.png",
                                                      "photos/deep/d.png"]


def test_glob_errors_name_the_pattern(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "x" / "a.png", 4, 4)
    (tmp_path / "x" / "n.txt").write_text("")
    with pytest.raises(DataError, match=r"no files match the pattern 'x/\*\.jpg'"):
        collect_inputs(["x/a.png", "x/*.jpg"])
    with pytest.raises(DataError, match=r"nothing to translate in x/\*\.txt: no image files \(the types read: "
                                        r"\.png, .*; skipped 1 file that is not an image \(x/n\.txt\)"):
        collect_inputs(["x/*.txt"])
    with pytest.raises(DataError, match="input not found: nope.png"):
        collect_inputs(["nope.png"])


def test_a_literal_name_with_glob_characters_is_a_file(tmp_path):
    write_image(tmp_path / "shot[1].png", 4, 4)
    assert [i.relative for i in collect_inputs([str(tmp_path / "shot[1].png")])] == [Path("shot[1].png")]


# --------------------------------------------------------------------------- --size


def test_parse_size():
    assert parse_size("256") == (256, 256)
    assert parse_size("320x240") == (240, 320)  # W x H -> (H, W)
    assert parse_size(64) == (64, 64) and parse_size((8, 16)) == (8, 16) and parse_size(None) is None
    for bad in ("abc", "0", "12x", "-4", "70000"):
        with pytest.raises(TranslateError, match="size"):
            parse_size(bad)


def record_shapes(module: torch.nn.Module) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    module.register_forward_pre_hook(lambda _m, inputs: shapes.append(tuple(inputs[0].shape)))
    return shapes


def test_size_resizes_for_the_network_and_back(tmp_path, plugins):
    t = translator(tmp_path, plugins, size="16x8", batch_size=8)
    shapes = record_shapes(t.module)
    rng = np.random.default_rng(5)
    images = [rng.random((h, w, 3), dtype=np.float32) for h, w in [(37, 53), (9, 11), (100, 60)]]
    outs = t.translate_batch(images)
    assert [o.shape for o in outs] == [(37, 53, 3), (9, 11, 3), (100, 60, 3)]
    assert shapes == [(3, 3, 8, 16)]  # all three resized to 8 x 16 (H x W): one batch
    assert all(o.min() >= 0 and o.max() <= 1 for o in outs)
    # an image already at the requested size is not resampled: the plain result
    same = rng.random((8, 16, 3), dtype=np.float32)
    np.testing.assert_array_equal(t(same), translator(tmp_path / "p", plugins)(same))


# --------------------------------------------------------------------------- tiles


def make_info(name: str, size_multiple: int = 1) -> GeneratorInfo:
    meta = GeneratorMeta(component=name, plugin=PluginMeta(name="test", distribution="test", version="0"),
                         in_channels=3, out_channels=3, size_multiple=size_multiple)
    return GeneratorInfo(name, meta)


class Pointwise(torch.nn.Module):
    """A 1x1 convolution: exactly translation-equivariant, so tiling must not change anything."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


class Local(torch.nn.Module):
    """Two 3x3 convolutions with zero padding: only the 2 pixels next to a tile's edge differ."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.b(torch.relu(self.a(x))))


def test_tile_layout_covers_with_a_partition_of_unity():
    for length, tile, overlap in [(1000, 128, 32), (700, 128, 16), (129, 128, 0), (256, 128, 0), (100, 128, 8)]:
        starts = tile_starts(length, tile, overlap)
        extent = min(tile, length)
        assert starts[0] == 0 and starts[-1] + extent == length
        assert all(a + extent - b >= overlap for a, b in zip(starts, starts[1:]))
        total = np.zeros(length)
        for s, w in zip(starts, tile_windows(starts, extent)):
            assert w.min() > 0
            total[s : s + extent] += w
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tile_arguments_are_checked(tmp_path, plugins):
    with pytest.raises(TranslateError, match="multiple of 4"):
        translator(tmp_path, plugins, tile=30)
    with pytest.raises(TranslateError, match="tile overlap must be from 0 to 31"):
        translator(tmp_path / "b", plugins, tile=32, tile_overlap=32)
    assert translator(tmp_path / "c", plugins, tile=64).tile_overlap == 16


def test_image_in_one_tile_equals_the_plain_result(tmp_path, plugins):
    image = np.random.default_rng(6).random((37, 53, 3), dtype=np.float32)
    plain = translator(tmp_path, plugins)(image)
    np.testing.assert_array_equal(translator(tmp_path / "t", plugins, tile=56, tile_overlap=8)(image), plain)
    np.testing.assert_array_equal(translator(tmp_path / "u", plugins, tile=64)(image), plain)


def test_large_image_runs_in_tiles_of_bounded_size(tmp_path, plugins):
    t = translator(tmp_path, plugins, tile=128, tile_overlap=16, batch_size=4)
    shapes = record_shapes(t.module)
    image = np.random.default_rng(7).random((700, 1000, 3), dtype=np.float32)  # 1000 x 700
    out = t(image)
    assert out.shape == (700, 1000, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    n_tiles = len(tile_starts(700, 128, 16)) * len(tile_starts(1000, 128, 16))
    assert sum(s[0] for s in shapes) == n_tiles
    assert max(s[0] for s in shapes) == 4 and {s[1:] for s in shapes} == {(3, 128, 128)}


def test_narrow_image_pads_the_short_axis_of_its_tiles(tmp_path, plugins):
    t = translator(tmp_path, plugins, tile=32, tile_overlap=8)
    shapes = record_shapes(t.module)
    out = t(np.random.default_rng(8).random((10, 90, 3), dtype=np.float32))
    assert out.shape == (10, 90, 3)
    assert {s[1:] for s in shapes} == {(3, 12, 32)}


@pytest.mark.parametrize("height,width,tile,overlap", [(130, 200, 64, 16), (64, 256, 64, 0), (50, 77, 32, 5)])
def test_tiles_of_a_pointwise_network_match_the_whole_image(height, width, tile, overlap):
    image = np.random.default_rng(9).random((height, width, 3), dtype=np.float32)
    whole = Translator(Pointwise(), make_info("pointwise"), device="cpu")(image)
    tiled = Translator(Pointwise(), make_info("pointwise"), device="cpu", tile=tile, tile_overlap=overlap)(image)
    assert np.abs(tiled - whole).max() < 1e-5


def test_overlap_blending_hides_the_seams(tmp_path):
    image = np.random.default_rng(10).random((128, 192, 3), dtype=np.float32)
    whole = Translator(Local(), make_info("local"), device="cpu")(image)

    def error(overlap: int) -> float:
        t = Translator(Local(), make_info("local"), device="cpu", tile=64, tile_overlap=overlap)
        return float(np.abs(t(image) - whole).max())

    hard, blended = error(0), error(16)  # 0: tiles abut at 64, 128 (hard seams)
    assert hard > 0.05
    assert blended < 0.01 and blended < hard / 10


def test_train_mode_tiles_are_reproducible_and_leave_statistics_alone(tmp_path, plugins):
    t = translator(tmp_path, plugins, dropout=0.5, mode="train", tile=32, tile_overlap=8, seed=3)
    before = {k: v.clone() for k, v in t.module.state_dict().items()}
    image = np.random.default_rng(11).random((40, 70, 3), dtype=np.float32)
    a, b = t(image, "x.png"), t(image, "x.png")
    np.testing.assert_array_equal(a, b)
    assert a.shape == (40, 70, 3)
    assert not np.allclose(a, t(image, "y.png"))
    for k, v in t.module.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_channels_last_gives_the_same_result(tmp_path, plugins):
    image = np.random.default_rng(12).random((20, 24, 3), dtype=np.float32)
    ref = translator(tmp_path, plugins)(image)
    np.testing.assert_allclose(translator(tmp_path / "c", plugins, channels_last=True)(image), ref, atol=1e-5)


# --------------------------------------------------------------------------- pairs and HTML


def write_pair(path: Path, height: int, half: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pair = rng.integers(0, 256, (height, 2 * half, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pair).save(path)
    return pair[:, :half].astype(np.float32) / 255, pair[:, half:].astype(np.float32) / 255


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_pairs_translate_the_input_half(tmp_path, plugins, direction):
    a, b = write_pair(tmp_path / "in" / "p.png", 12, 16, seed=13)
    t = translator(tmp_path, plugins, direction=direction)
    report = translate_files(t, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False, pairs=True,
                             html=True)
    assert not report.failed
    with Image.open(tmp_path / "out" / "p.png") as img:
        out = np.asarray(img).astype(np.float32) / 255
    src, dst = (a, b) if direction == "AtoB" else (b, a)
    np.testing.assert_allclose(out, t(src), atol=0.5 / 255 + 1e-6)
    with Image.open(tmp_path / "out" / "targets" / "p.png") as img:
        np.testing.assert_allclose(np.asarray(img).astype(np.float32) / 255, dst, atol=1e-6)
    with Image.open(tmp_path / "out" / "inputs" / "p.png") as img:
        np.testing.assert_allclose(np.asarray(img).astype(np.float32) / 255, src, atol=1e-6)


def test_pairs_with_an_odd_width_fail_by_name(tmp_path, plugins):
    write_pair(tmp_path / "in" / "good.png", 8, 8, seed=14)
    write_image(tmp_path / "in" / "odd.png", 8, 15)
    t = translator(tmp_path, plugins)
    report = translate_files(t, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False, pairs=True)
    assert [(p.name, "width 15 cannot be split" in m) for p, m in report.failed] == [("odd.png", True)]
    assert [p.name for p in report.written] == ["good.png"]


def html_links(page: str) -> list[str]:
    return [unquote(html.unescape(m)) for m in re.findall(r'(?:href|src)="([^"]*)"', page)]


def test_html_page_links_every_image_and_escapes_names(tmp_path, plugins):
    src = tmp_path / "in"
    write_image(src / "a&b <x>.png", 8, 12)
    write_image(src / "sub" / "space #1?.jpg", 12, 8, mode="L")
    (src / "broken.png").write_bytes(b"not a png <script>")
    t = translator(tmp_path, plugins)
    out = tmp_path / "out"
    report = translate_files(t, collect_inputs([src]), out, progress=False, html=True)
    assert report.html == out / "index.html" and len(report.failed) == 1
    page = report.html.read_text(encoding="utf-8")
    assert "<x>" not in page and "<script>" not in page
    assert "a&amp;b &lt;x&gt;" in page and "space #1?" in page
    links = html_links(page)
    assert sorted(set(links)) == ["a&b <x>.png", "inputs/a&b <x>.png", "inputs/sub/space #1?.png",
                                  "sub/space #1?.png"]
    for link in links:
        assert (out / link).is_file(), link
    assert re.search(r'<td class="name"[^>]*>broken</td><td class="error" colspan="2">failed: ', page)
    assert "<th>target</th>" not in page
    assert not list(out.glob(".*.tmp"))


def test_html_with_pairs_has_a_target_column(tmp_path, plugins):
    write_pair(tmp_path / "in" / "x.png", 8, 8, seed=15)
    t = translator(tmp_path, plugins)
    report = translate_files(t, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False, html=True,
                             pairs=True)
    page = report.html.read_text()
    assert "<th>target</th>" in page
    assert html_links(page) == ["inputs/x.png"] * 2 + ["x.png"] * 2 + ["targets/x.png"] * 2


def test_html_refuses_outputs_that_clash_with_the_copies(tmp_path, plugins):
    write_image(tmp_path / "in" / "a.png", 4, 4)
    write_image(tmp_path / "in" / "inputs" / "a.png", 4, 4)
    t = translator(tmp_path, plugins)
    with pytest.raises(DataError, match="inputs/a.png"):
        translate_files(t, collect_inputs([tmp_path / "in"]), tmp_path / "out", progress=False, html=True)


# --------------------------------------------------------------------------- infer_cli with the new options


def infer_args(model: Path, inputs: list[str], out: Path, **options) -> argparse.Namespace:
    base = dict(model=str(model), inputs=inputs, out=str(out), direction=None, batch_size=4, device="cpu",
                precision="fp32", mode="model", seed=0)
    return argparse.Namespace(**{**base, **options})


def test_infer_cli_with_pairs_html_size_and_tiles(tmp_path, plugins, capsys):
    model = make_model(tmp_path / "run")
    write_pair(tmp_path / "in" / "one.png", 40, 60, seed=16)
    write_pair(tmp_path / "in" / "two.png", 20, 20, seed=17)
    args = infer_args(model, [str(tmp_path / "in" / "*.png")], tmp_path / "out", pairs=True, html=True,
                      size=None, tile=16, tile_overlap=4, channels_last=True)
    assert infer_cli(args, registry=plugins.registry) == 0
    out = capsys.readouterr().out
    assert "2 images ->" in out and "tiles 16 overlap 4" in out and "channels_last" in out
    assert "comparison page:" in out
    with Image.open(tmp_path / "out" / "one.png") as img:
        assert img.size == (60, 40)
    assert (tmp_path / "out" / "targets" / "two.png").is_file()
    args = infer_args(model, [str(tmp_path / "in")], tmp_path / "o2", size="32x24")
    assert infer_cli(args, registry=plugins.registry) == 0
    assert "resized to 32x24" in capsys.readouterr().out
    with Image.open(tmp_path / "o2" / "one.png") as img:
        assert img.size == (120, 40)
    with pytest.raises(TranslateError, match="size must be N or WxH"):
        infer_cli(infer_args(model, [str(tmp_path / "in")], tmp_path / "o3", size="big"), registry=plugins.registry)
