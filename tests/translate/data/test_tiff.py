"""N-channel and 16-bit images: TIFF layouts read and written through tifffile, channel conversion rules,
the data-set options, and CPU and device augmentation keeping every channel."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageOps

from translate.data.augment import PairedAugment
from translate.data.contract import DataInfo
from translate.data.device_augment import DeviceAugment
from translate.data.imageio import convert_channels, read_image, save_image
from translate.data.options import DeviceAugmentOptions, FixedSizeOptions
from translate.data.tiff import MAX_CHANNELS, needs_tifffile
from translate.errors import DataError, RecipeError


def _u16(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


@pytest.mark.parametrize("channels", [2, 5, 8])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_n_channel_tiff_round_trips_exactly(tmp_path, channels, bit_depth):
    top = 2**bit_depth - 1
    samples = np.random.default_rng(channels).integers(0, top + 1, (9, 7, channels)).astype(np.float32)
    path = save_image(samples / top, tmp_path / "x.tif", bit_depth=bit_depth)
    stored = tifffile.imread(path)
    assert stored.dtype == (np.uint8 if bit_depth == 8 else np.uint16) and stored.shape == (9, 7, channels)
    np.testing.assert_array_equal(stored, samples.astype(stored.dtype))
    back = read_image(path)
    assert back.shape == (9, 7, channels) and back.dtype == np.float32
    np.testing.assert_array_equal(np.round(back * top), samples)  # every sample, low byte included
    again = save_image(back, tmp_path / "again.tif", bit_depth=bit_depth)
    np.testing.assert_array_equal(tifffile.imread(again), stored)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_tiffs_of_1_3_4_channels_stay_with_pillow_and_keep_16_bits(tmp_path, channels):
    samples = _u16((6, 5, channels), seed=channels)
    path = save_image(samples.astype(np.float32) / 65535, tmp_path / "x.tiff", bit_depth=16)
    assert not needs_tifffile(path)  # read as before (Pillow, OpenCV for 16-bit colour)
    np.testing.assert_array_equal(np.round(read_image(path) * 65535).astype(np.uint16), samples)


def test_planar_and_multi_page_tiffs_read_as_channels(tmp_path):
    planes = _u16((6, 8, 7))  # 6 channels of 8 x 7
    tifffile.imwrite(tmp_path / "planar.tif", planes, photometric="minisblack", planarconfig="separate")
    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:
        for plane in planes:
            writer.write(plane, photometric="minisblack", contiguous=False)  # one page per channel
    expected = planes.transpose(1, 2, 0)
    for name in ("planar.tif", "pages.tif"):
        assert needs_tifffile(tmp_path / name)
        np.testing.assert_array_equal(np.round(read_image(tmp_path / name) * 65535).astype(np.uint16), expected)


def test_float_tiffs_are_values_in_0_1_and_other_sample_types_are_refused(tmp_path):
    values = np.linspace(-0.5, 1.5, 5 * 4 * 6, dtype=np.float32).reshape(5, 4, 6)
    tifffile.imwrite(tmp_path / "f.tif", values, photometric="minisblack", planarconfig="contig")
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif"), np.clip(values, 0, 1))
    tifffile.imwrite(tmp_path / "i.tif", np.zeros((4, 4, 5), np.int16), photometric="minisblack",
                     planarconfig="contig")
    with pytest.raises(DataError, match=r"i\.tif.*int16.*uint8, uint16"):
        read_image(tmp_path / "i.tif")


def test_pages_of_different_sizes_and_too_many_channels_are_refused(tmp_path):
    with tifffile.TiffWriter(tmp_path / "mixed.tif") as writer:
        writer.write(np.zeros((4, 4), np.uint16), contiguous=False)
        writer.write(np.zeros((5, 4), np.uint16), contiguous=False)
    with pytest.raises(DataError, match=r"mixed\.tif.*pages are read as channels.*page 2"):
        read_image(tmp_path / "mixed.tif")
    tifffile.imwrite(tmp_path / "wide.tif", np.zeros((3, 3, MAX_CHANNELS + 1), np.uint8),
                     photometric="minisblack", planarconfig="contig")
    with pytest.raises(DataError, match=rf"wide\.tif.*{MAX_CHANNELS + 1} channels"):
        read_image(tmp_path / "wide.tif")


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_tiff_orientation_matches_pillow(tmp_path, orientation):
    grey = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6) * 10
    planes = np.stack([grey, 255 - grey, grey // 2, grey, grey], axis=2)
    tifffile.imwrite(tmp_path / "o.tif", planes, photometric="minisblack", planarconfig="contig",
                     extratags=[(274, "H", 1, orientation, True)])
    image = Image.fromarray(grey)
    image.getexif()[274] = orientation
    expected = np.asarray(ImageOps.exif_transpose(image))
    got = read_image(tmp_path / "o.tif")
    np.testing.assert_array_equal(np.round(got[:, :, 0] * 255).astype(np.uint8), expected)
    np.testing.assert_array_equal(np.round(got[:, :, 1] * 255).astype(np.uint8), 255 - expected)


def test_channel_rules_for_more_than_4_channels(tmp_path):
    five = np.random.default_rng(1).random((3, 4, 5), dtype=np.float32)
    np.testing.assert_array_equal(convert_channels(five, 5), five)  # taken as it is
    with pytest.raises(DataError, match=r"bands\.tif: an image with 5 channels cannot be converted to 3.*must be 5"):
        convert_channels(five, 3, name="bands.tif")
    with pytest.raises(DataError, match="an image with 3 channels cannot be converted to 6"):
        convert_channels(five[:, :, :3], 6)
    save_image(five, tmp_path / "bands.tif", bit_depth=16)
    with pytest.raises(DataError, match=r"bands\.tif"):
        read_image(tmp_path / "bands.tif", channels=4)
    with pytest.raises(ValueError, match=r"5 channels as PNG.*\.tif"):
        save_image(five, tmp_path / "bands.png")


def test_options_take_n_channels_and_a_bit_depth_and_refuse_jitter_on_them():
    opts = FixedSizeOptions.model_validate({"input_channels": 12, "output_channels": 2, "bit_depth": 16})
    assert (opts.input_channels, opts.output_channels, opts.bit_depth) == (12, 2, 16)
    assert FixedSizeOptions().bit_depth == 8
    for bad in ({"input_channels": 0}, {"output_channels": MAX_CHANNELS + 1}, {"bit_depth": 12}):
        with pytest.raises(ValueError):
            FixedSizeOptions.model_validate(bad)
    with pytest.raises(ValueError, match="colour jitter is defined on grey.*RGB.*4 channels"):
        FixedSizeOptions.model_validate({"input_channels": 4, "output_channels": 4,
                                         "device_augment": {"brightness": 0.2}})
    with pytest.raises(ValueError, match="DataInfo.bit_depth"):
        DataInfo(bit_depth=12)


def test_cpu_augmentation_treats_every_channel_alike():
    """Resize, crop and flip of a 7-channel image equal those of each channel alone (same seed)."""
    image = np.random.default_rng(2).random((37, 45, 7), dtype=np.float32)
    target = image[:, :, :3].copy()
    for mode in ("resize_and_crop", "crop", "scale_width_and_crop", "none"):
        aug = PairedAugment(mode, load_size=40, crop_size=32, size_multiple=8)
        x, y = aug(image, target, seed=11)
        assert x.shape[2] == 7 and y.shape[2] == 3 and x.shape[:2] == y.shape[:2]
        for c in range(7):
            alone, _ = aug(image[:, :, c:c + 1], target, seed=11)
            np.testing.assert_allclose(x[:, :, c], alone[:, :, 0], atol=1e-6)
        np.testing.assert_allclose(x[:, :, :3], y, atol=1e-6)  # the target got the same geometry


def test_device_augmentation_crops_and_flips_n_channels_alike_and_refuses_jitter():
    aug = DeviceAugment(DeviceAugmentOptions(crop_scale=[0.5, 1.0], vflip=True), {"input": 6, "target": 4}, seed=0)
    plane = torch.rand(3, 1, 16, 16) * 2 - 1
    batch = {"input": plane.expand(-1, 6, -1, -1).clone(), "target": plane.expand(-1, 4, -1, -1).clone()}
    out = aug(batch, epoch=0, index=2)
    assert out["input"].shape == (3, 6, 16, 16) and out["target"].shape == (3, 4, 16, 16)
    assert not torch.equal(out["input"], batch["input"])  # something happened
    torch.testing.assert_close(out["input"][:, :4], out["target"])
    torch.testing.assert_close(out["input"][:, 5], out["input"][:, 0])
    with pytest.raises(RecipeError, match="colour jitter needs 1- or 3-channel images"):
        DeviceAugment(DeviceAugmentOptions(brightness=0.1), {"input": 5, "target": 5}, seed=0)
