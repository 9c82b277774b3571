"""Non-RGB data end to end: a generated 4-channel 16-bit paired set trains (pix2pix), evaluates (PSNR/SSIM),
exports and infers, and every step keeps 4 channels and 16 bits (CPU, tiny networks)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import translate
from translate.commands.main import main
from translate.data.imageio import save_image
from translate.models import load_model

SIZE = 32

RECIPE = """
seed = 7

[method]
name = "pix2pix"

[method.options]
test_mode = "eval"

[generator]
name = "unet"

[generator.options]
num_downs = 5
ngf = 8

[discriminator]
name = "patchgan"

[discriminator.options]
n_layers = 2
ndf = 8

[data]
name = "paired_folders"
batch_size = 2

[data.options]
root = "{data}"
input_channels = {channels}
output_channels = {channels}
bit_depth = 16
load_size = 32
crop_size = 32

[train]
steps = 4

[output]
dir = "{run}"
log_every = 2
sample_every = 2
checkpoint_every = 10
num_samples = 2
tensorboard = false
progress = false
"""


def _pair(rng: np.random.Generator, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """A 16-bit pair (uint16 samples): smooth gradients plus noise, so the low byte varies."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / (SIZE - 1)
    base = np.stack([x, y, (x + y) / 2, 1 - x * y, x * x][:channels], axis=2)
    a = np.clip(base * rng.uniform(0.3, 0.9) + rng.normal(0, 0.01, base.shape), 0, 1)
    b = np.clip(1.0 - a[:, :, ::-1] * 0.8, 0, 1)  # the target: inverted, channels reversed
    return (np.round(a * 65535).astype(np.uint16), np.round(b * 65535).astype(np.uint16))


def _write_set(root: Path, channels: int = 4, suffix: str = ".png") -> None:
    """``root/{train,val,test}/{A,B}/NNN.png``: 16-bit RGBA PNGs (written by OpenCV, BGRA order), or
    with ``suffix = ".tif"`` 16-bit TIFFs of ``channels`` interleaved samples."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 2), ("test", 2)):
        for i in range(count):
            for side, image in zip("AB", _pair(rng, channels)):
                path = root / split / side / f"{i:03d}{suffix}"
                save_image(image.astype(np.float32) / 65535.0, path, bit_depth=16)


def _read16(path: Path) -> np.ndarray:
    """A PNG's samples as written, RGBA order (no conversion)."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    return arr[:, :, [2, 1, 0, 3]] if arr.ndim == 3 and arr.shape[2] == 4 else arr


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(data root, run folder) of the tiny 4-channel 16-bit pix2pix run."""
    base = tmp_path_factory.mktemp("nchannel")
    data, run = base / "data", base / "run"
    _write_set(data)
    recipe = base / "recipe.toml"
    recipe.write_text(RECIPE.format(data=data.as_posix(), run=run.as_posix(), channels=4))
    assert main(["run", str(recipe)]) == 0
    return data, run


def test_the_generated_files_are_16_bit_with_a_varying_low_byte(trained):
    data, _ = trained
    samples = _read16(data / "train" / "A" / "000.png")
    assert samples.dtype == np.uint16 and samples.shape == (SIZE, SIZE, 4)
    assert len(np.unique(samples & 0xFF)) > 50  # 8-bit truncation anywhere would show


def test_the_model_file_records_4_channels_and_16_bits(trained):
    _, run = trained
    meta = load_model(run / "model.safetensors").meta
    g = meta.generators[meta.default]
    assert (g.in_channels, g.out_channels, g.bit_depth) == (4, 4, 16)
    assert meta.recipe.data_options["bit_depth"] == 16
    grids = sorted((run / "samples").glob("step-*.png"))
    assert grids, "sample grids were written for 4-channel images"
    assert _read16(grids[-1]).shape[2] == 3  # shown by their first three channels


def test_eval_computes_psnr_and_ssim_on_4_channels(trained):
    _, run = trained
    assert main(["eval", str(run), "--split", "test", "--metrics", "psnr,ssim", "--device", "cpu"]) == 0
    values = json.loads((run / "evaluation.json").read_text())["values"]
    assert set(values) == {"psnr", "ssim"}
    assert 0 < values["psnr"] < 100 and -1 < values["ssim"] < 1


@pytest.mark.parametrize("metric", ["fid", "kid", "lpips"])
def test_rgb_metrics_refuse_4_channel_data_before_loading_weights(trained, capsys, metric):
    _, run = trained
    assert main(["eval", str(run), "--split", "test", "--metrics", metric, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"metric {metric}:" in err and "have 4 channels" in err and "psnr" in err
    assert "weights" not in err  # refused before any weights file is looked for


def test_export_and_infer_write_4_channel_16_bit_outputs_equal_to_translate_load(trained, tmp_path):
    data, run = trained
    export = tmp_path / "export"
    assert main(["export", str(run), "--out", str(export)]) == 0
    config = json.loads((export / "config.json").read_text())
    assert config["generators"][config["default"]]["bit_depth"] == 16
    out = tmp_path / "out"
    inputs = data / "test" / "A"
    assert main(["infer", str(export), str(inputs), "--out", str(out), "--device", "cpu", "--batch-size", "1"]) == 0
    pipe = translate.load(export, device="cpu")
    for source in sorted(inputs.glob("*.png")):
        written = _read16(out / source.name)
        assert written.dtype == np.uint16 and written.shape == (SIZE, SIZE, 4)
        assert len(np.unique(written & 0xFF)) > 8  # 16-bit values, not 8-bit ones scaled up
        loaded = pipe(source)  # a 16-bit model gives a uint16 array for a file
        assert isinstance(loaded, np.ndarray) and loaded.dtype == np.uint16 and loaded.shape == written.shape
        assert np.abs(loaded.astype(np.int64) - written.astype(np.int64)).max() <= 1
        array_in = _read16(source)  # an array in: the same dtype out
        assert np.abs(pipe(array_in).astype(np.int64) - written.astype(np.int64)).max() <= 1


@pytest.fixture(scope="module")
def trained_tiff(tmp_path_factory) -> tuple[Path, Path]:
    """(data root, run folder) of a tiny pix2pix run on 5-channel 16-bit TIFFs."""
    base = tmp_path_factory.mktemp("tiff5")
    data, run = base / "data", base / "run"
    _write_set(data, channels=5, suffix=".tif")
    recipe = base / "recipe.toml"
    recipe.write_text(RECIPE.format(data=data.as_posix(), run=run.as_posix(), channels=5))
    assert main(["run", str(recipe)]) == 0
    return data, run


def test_5_channel_tiffs_train_and_infer_to_5_channel_16_bit_tiffs(trained_tiff, tmp_path, capsys):
    import tifffile

    data, run = trained_tiff
    meta = load_model(run / "model.safetensors").meta.generators["G"]
    assert (meta.in_channels, meta.out_channels, meta.bit_depth) == (5, 5, 16)
    inputs, out = data / "test" / "A", tmp_path / "out"
    assert main(["infer", str(run), str(inputs), "--out", str(out), "--device", "cpu", "--batch-size", "1"]) == 0
    pipe = translate.load(run, device="cpu")
    for source in sorted(inputs.glob("*.tif")):
        written = tifffile.imread(out / source.name)  # same name: a PNG cannot hold 5 channels
        assert written.dtype == np.uint16 and written.shape == (SIZE, SIZE, 5)
        assert len(np.unique(written & 0xFF)) > 8
        loaded = pipe(source)
        assert loaded.dtype == np.uint16 and np.abs(loaded.astype(np.int64) - written.astype(np.int64)).max() <= 1
    assert main(["infer", str(run), str(inputs), "--out", str(tmp_path / "page"), "--html"]) == 2
    assert "--html" in capsys.readouterr().err and not (tmp_path / "page").exists()
    assert main(["eval", str(run), "--split", "test", "--metrics", "psnr,fid", "--device", "cpu"]) == 2
    assert "metric fid:" in capsys.readouterr().err
