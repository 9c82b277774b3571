"""translate.data.imageio: bit depths, channel counts, EXIF orientation, errors, atomic PNG writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from translate.data.imageio import (
    convert_channels,
    list_images,
    pil_to_array,
    read_image,
    save_image,
    split_pair,
    to_tensor,
    to_uint8,
)
from translate.errors import DataError


def _levels(rng: np.random.Generator, shape: tuple[int, ...], levels: int = 256) -> np.ndarray:
    return (rng.integers(0, levels, size=shape) / (levels - 1)).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_round_trip_8bit(tmp_path, channels):
    arr = _levels(np.random.default_rng(channels), (5, 7, channels))
    path = save_image(to_tensor(arr), tmp_path / "x.png")
    back = read_image(path)
    assert back.dtype == np.float32 and back.shape == (5, 7, channels)
    np.testing.assert_array_equal(back, arr)
    assert Image.open(path).mode == {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]


def test_16bit_gray_png_keeps_precision(tmp_path):
    u16 = np.arange(0, 65536, 257 * 3 + 1, dtype=np.uint16)[:60].reshape(6, 10)
    u16[0, 0], u16[0, 1] = 1, 65535
    Image.fromarray(u16).save(tmp_path / "g16.png")
    back = read_image(tmp_path / "g16.png")
    assert back.shape == (6, 10, 1)
    np.testing.assert_array_equal(back[:, :, 0], u16.astype(np.float32) / 65535.0)
    assert 0 < back[0, 0, 0] < 1 / 255  # below 8-bit resolution: proves no 8-bit detour


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_save_and_read(tmp_path, channels):
    arr = _levels(np.random.default_rng(7), (4, 6, channels), levels=65536)
    save_image(arr, tmp_path / "x.png", bit_depth=16)
    np.testing.assert_allclose(read_image(tmp_path / "x.png"), arr, atol=1e-6)


def test_16bit_rgb_png_and_tiff(tmp_path):
    import cv2

    u16 = np.random.default_rng(3).integers(0, 65536, size=(5, 4, 3), dtype=np.uint16)
    for name in ("rgb16.png", "rgb16.tif", "gray16.tif"):
        data = u16[:, :, 0] if name.startswith("gray") else u16[:, :, ::-1]  # OpenCV writes BGR
        assert cv2.imwrite(str(tmp_path / name), np.ascontiguousarray(data))
        expected = u16[:, :, :1] if name.startswith("gray") else u16
        np.testing.assert_array_equal(read_image(tmp_path / name), expected.astype(np.float32) / 65535.0)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
    img = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(tmp_path / "o.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")).convert("RGB"))
    got = read_image(tmp_path / "o.png")
    np.testing.assert_array_equal(to_uint8(got), expected)
    if orientation in (5, 6, 7, 8):
        assert got.shape[:2] == (6, 4)


def _with_exif_chunk(png: bytes, orientation: int) -> bytes:
    """A PNG with an ``eXIf`` chunk (EXIF orientation) inserted after its IHDR chunk."""
    import struct
    import zlib

    exif = Image.Exif()
    exif[0x0112] = orientation
    data = exif.tobytes()[6:]  # the chunk holds the TIFF structure, without the "Exif\0\0" marker
    chunk = struct.pack(">I", len(data)) + b"eXIf" + data + struct.pack(">I", zlib.crc32(b"eXIf" + data))
    end_of_ihdr = 8 + 8 + 13 + 4
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_16bit_colour_matches_pillow(tmp_path, orientation):
    import cv2

    u16 = np.random.default_rng(orientation).integers(0, 65536, size=(4, 6, 3), dtype=np.uint16)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(u16[:, :, ::-1]))  # OpenCV writes BGR
    assert ok
    (tmp_path / "o16.png").write_bytes(_with_exif_chunk(png.tobytes(), orientation))
    with Image.open(tmp_path / "o16.png") as img:
        assert img.getexif().get(0x0112) == orientation
    # Pillow's transpose of each channel as a 16-bit gray image is the reference
    planes = [np.asarray(ImageOps.exif_transpose(_tagged(Image.fromarray(u16[:, :, c]), orientation)))
              for c in range(3)]
    expected = np.stack(planes, axis=2).astype(np.float32) / 65535.0
    got = read_image(tmp_path / "o16.png")
    np.testing.assert_array_equal(got, expected)
    assert got.shape[:2] == ((6, 4) if orientation in (5, 6, 7, 8) else (4, 6))


def _tagged(img: Image.Image, orientation: int) -> Image.Image:
    img.getexif()[0x0112] = orientation
    return img


def test_split_pair_and_its_errors():
    pair = np.arange(2 * 6 * 3, dtype=np.float32).reshape(2, 6, 3)
    a, b = split_pair(pair)
    np.testing.assert_array_equal(a, pair[:, :3])
    np.testing.assert_array_equal(b, pair[:, 3:])
    with pytest.raises(DataError, match=r"^odd_one.png: width 5 cannot be split into A\|B halves; .* must be even"):
        split_pair(pair[:, :5], name="odd_one.png")
    with pytest.raises(DataError, match=r"^width 1 cannot be split"):
        split_pair(pair[:, :1])
    with pytest.raises(DataError, match="width 0"):
        split_pair(pair[:, :0])


def test_pil_to_array_modes():
    rgb = Image.fromarray(np.full((2, 3, 3), 255, np.uint8))
    assert pil_to_array(rgb).shape == (2, 3, 3) and pil_to_array(rgb).max() == 1.0
    assert pil_to_array(rgb.convert("P")).shape == (2, 3, 3)
    assert pil_to_array(rgb.convert("CMYK")).shape == (2, 3, 3)
    gray16 = pil_to_array(Image.fromarray(np.full((2, 2), 65535, np.uint16)))
    assert gray16.shape == (2, 2, 1) and gray16.dtype == np.float32 and gray16.max() == 1.0


def test_palette_la_and_bilevel_images(tmp_path):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (6, 6, 3), dtype=np.uint8))
    rgb.convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (6, 6, 3)
    pal = rgb.convert("P")
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pt.png", transparency=0)
    assert read_image(tmp_path / "pt.png").shape == (6, 6, 4)
    Image.fromarray(np.full((3, 3, 2), 200, np.uint8)).save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png").shape == (3, 3, 2)
    assert read_image(tmp_path / "la.png", channels=3).shape == (3, 3, 3)
    Image.new("1", (5, 4), 1).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png"), np.ones((4, 5, 1), np.float32))


def test_channel_conversion():
    rgb = np.array([[[1.0, 0.0, 0.0], [0.2, 0.4, 0.6]]], dtype=np.float32)
    gray = convert_channels(rgb, 1)
    np.testing.assert_allclose(gray[0, :, 0], [0.299, 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6], rtol=1e-6)
    np.testing.assert_array_equal(convert_channels(gray, 3), np.repeat(gray, 3, axis=2))
    rgba = convert_channels(rgb, 4)
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    np.testing.assert_array_equal(rgba[..., 3], 1.0)
    rgba[..., 3] = 0.25
    np.testing.assert_array_equal(convert_channels(rgba, 3), rgb)  # alpha dropped
    with pytest.raises(DataError, match="3 channels cannot be converted to 5"):
        convert_channels(rgb, 5)


def test_read_with_channels(tmp_path):
    save_image(to_tensor(np.full((3, 4, 1), 0.5, np.float32)), tmp_path / "g.png")
    assert read_image(tmp_path / "g.png", channels=3).shape == (3, 4, 3)
    assert read_image(tmp_path / "g.png", channels=4)[..., 3].min() == 1.0


def test_corrupt_truncated_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(DataError, match="not_an_image.png"):
        read_image(bad)
    save_image(torch.rand(3, 64, 64) * 2 - 1, tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.png"):
        read_image(tmp_path / "cut.png")
    with pytest.raises(DataError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_tensor_conversions():
    arr = np.array([[[0.0, 0.5, 1.0]]], dtype=np.float32)
    t = to_tensor(arr)
    assert t.shape == (3, 1, 1) and t.dtype == torch.float32
    assert t.flatten().tolist() == [-1.0, 0.0, 1.0]
    assert to_uint8(t).tolist() == [[[0, 128, 255]]]
    assert to_uint8(t[None]).shape == (1, 1, 3)
    assert to_uint8(arr).tolist() == [[[0, 128, 255]]]
    assert to_uint8(torch.tensor([[[3.0]]])).tolist() == [[[255]]]  # clipped


def test_save_image_is_atomic_and_overwrites(tmp_path):
    out = tmp_path / "sub" / "x.png"
    save_image(torch.zeros(3, 4, 4), out)
    save_image(torch.ones(1, 2, 2), out)
    assert read_image(out).shape == (2, 2, 1)
    assert [p.name for p in out.parent.iterdir()] == ["x.png"]  # no temp file left behind


def test_list_images(tmp_path):
    for name in ("b.png", "a.JPG", "c.txt", ".hidden.png", "sub/d.tif"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png"]
    assert [p.name for p in list_images(tmp_path, recursive=True)] == ["a.JPG", "b.png", "d.tif"]
    with pytest.raises(DataError, match="nowhere"):
        list_images(tmp_path / "nowhere")
