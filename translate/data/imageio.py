"""Reading and writing images: one place for bit depths, channel counts and EXIF orientation.

Conventions used throughout translate:

- *image space*: ``numpy`` arrays ``(H, W, C)`` float32 in [0, 1] (what :func:`read_image` returns);
- *model space*: ``torch`` tensors ``(C, H, W)`` float32 in [-1, 1] (what :func:`to_tensor` returns
  and what :func:`save_image` takes).

8-bit files are scaled by 255 and 16-bit files (PNG ``I;16``, 16-bit RGB/RGBA PNG, uint16 TIFF)
by 65535, so 16-bit precision survives. Channel conversion (:func:`convert_channels`):
1 -> 3 replicates; 3 -> 1 is ITU-R 601 luminance (as Pillow's ``convert("L")``); 4 -> 3 drops
the alpha channel (as Pillow's ``convert("RGB")`` and the pix2pix reference code; transparent
pixels keep whatever colour they store); 1 or 3 -> 4 adds an opaque alpha channel; more than 4 (N-channel
TIFFs, :mod:`translate.data.tiff`) are used as they are. EXIF orientation: Pillow's :func:`PIL.ImageOps.exif_transpose`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..errors import DataError
from ..utils.atomic import write_bytes_atomic
from .tiff import MAX_CHANNELS, encode_tiff, is_tiff, needs_tifffile, read_tiff

if TYPE_CHECKING:  # pragma: no cover
    import torch

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
"""File name endings (case-insensitive) that :func:`list_images` picks up."""

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def list_images(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """Sorted image files (by :data:`IMAGE_EXTENSIONS`) in ``folder``; hidden files are skipped.

    Raises:
        DataError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    candidates = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        p
        for p in candidates
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )


def read_image(path: str | os.PathLike[str], channels: int | None = None) -> np.ndarray:
    """Read an image file as ``(H, W, C)`` float32 in [0, 1], EXIF orientation applied.

    Args:
        path: the file.
        channels: 1, 2 (luminance + alpha), 3 or 4 to convert to, or an N-channel TIFF's own count; ``None``
            keeps the file's own count (palette images become RGB, or RGBA when they carry transparency).

    Raises:
        DataError: the file is missing, corrupt, truncated or not an image, or its channel count does not
            convert to ``channels`` (the message names it).
    """
    path = Path(path)
    if is_tiff(path) and needs_tifffile(path):  # N-channel, planar or multi-page TIFF
        return read_tiff(path) if channels is None else convert_channels(read_tiff(path), channels, name=path)
    try:
        with Image.open(path) as img:
            if _is_16bit_color(img):  # before getexif(), which may load the image and drop img.tile
                orientation = int(img.getexif().get(ExifTags.Base.Orientation, 1) or 1)
                arr = _orient_planes(_read_16bit_color(path), orientation)
            else:
                ImageOps.exif_transpose(img, in_place=True)  # loads the image
                arr = pil_to_array(img)
    except FileNotFoundError:
        raise DataError(f"image file not found: {path}") from None
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"cannot read image {path}: not an image format Pillow recognises") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"cannot read image {path}: {_without_path(str(err), path)}") from None
    return convert_channels(arr, channels, name=path) if channels is not None else arr


def _without_path(message: str, path: Path) -> str:
    """Pillow's ``message`` with the file name it may repeat taken out (the caller names the file once)."""
    for name in (f"'{path}'", f'"{path}"', str(path)):
        message = message.replace(name, "").replace("  ", " ")
    return message.strip(" :") or "unreadable"


def convert_channels(arr: np.ndarray, channels: int, *, name: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Convert an ``(H, W, C)`` image-space array with C in 1..4 to ``channels`` (see module doc); an image of
    more than 4 channels is taken only as it is. Raises DataError (naming ``name``) for counts that do not convert."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    have = arr.shape[2]
    if have == channels and 1 <= have <= MAX_CHANNELS:
        return np.ascontiguousarray(arr, dtype=np.float32)
    if not (1 <= have <= 4 and channels in (1, 2, 3, 4)):
        where = f"{os.fspath(name)}: " if name is not None else ""
        raise DataError(f"{where}an image with {have} channels cannot be converted to {channels}: 1 to 4 channels "
                        "convert into one another (grey, grey + alpha, RGB, RGBA); more than 4 (at most "
                        f"{MAX_CHANNELS}) are used as they are, so the channel option must be {have}")
    color = arr[:, :, :3] if have >= 3 else arr[:, :, :1]
    alpha = arr[:, :, have - 1 :] if have in (2, 4) else np.ones_like(arr[:, :, :1])
    if channels in (1, 2):
        luma = (color @ _LUMA)[:, :, None] if color.shape[2] == 3 else color
        out = luma if channels == 1 else np.concatenate([luma, alpha], axis=2)
    else:
        rgb = color if color.shape[2] == 3 else np.repeat(color, 3, axis=2)
        out = rgb if channels == 3 else np.concatenate([rgb, alpha], axis=2)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def to_tensor(arr: np.ndarray) -> "torch.Tensor":
    """Image-space ``(H, W, C)`` (or ``(H, W)``) array in [0, 1] -> model-space ``(C, H, W)`` in [-1, 1]."""
    import torch

    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(chw).mul(2.0).sub_(1.0)  # mul copies: chw may share memory with arr


def to_uint8(image: Any) -> np.ndarray:
    """``(H, W, C)`` uint8 from a model-space tensor ``(C, H, W)`` in [-1, 1] or an image-space array.

    A ``torch.Tensor`` is read as model space (``(C, H, W)``, or ``(1, C, H, W)``, in [-1, 1]);
    a ``numpy`` array as image space (``(H, W, C)`` or ``(H, W)`` in [0, 1]).
    """
    return np.round(_unit_hwc(image) * 255.0).astype(np.uint8)


def save_image(image: Any, path: str | os.PathLike[str], bit_depth: int = 8) -> Path:
    """Write an image atomically (temp file + ``os.replace``): a TIFF when ``path`` ends in ``.tif``/``.tiff``
    (up to :data:`MAX_CHANNELS` channels, :mod:`translate.data.tiff`), else a PNG (1 to 4 channels).

    Args:
        image: model-space tensor ``(C, H, W)`` in [-1, 1] (or an image-space array, see :func:`to_uint8`).
        path: destination; parent folders are created.
        bit_depth: 8, or 16 for 16-bit samples (a 16-bit PNG holds 1, 3 or 4 channels; a TIFF any count).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unit = _unit_hwc(image)
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    samples = np.round(unit * (2.0**bit_depth - 1)).astype(np.uint8 if bit_depth == 8 else np.uint16)
    if is_tiff(path):
        data = encode_tiff(samples)
    elif unit.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"cannot save {unit.shape[2]} channels as PNG ({path}): name the file .tif to write a TIFF")
    elif bit_depth == 8:
        data = _encode_png8(samples)
    else:
        data = _encode_png16(samples)
    write_bytes_atomic(path, data, fsync=False)  # many outputs: no fsync per image (as before)
    return path


def split_pair(
    image: np.ndarray, *, name: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split an A|B side-by-side image (``(H, W, ...)``) into its left (A) and right (B) halves.

    Args:
        image: the pair, A on the left half and B on the right.
        name: where it was read from (a file), named in the error message.

    Raises:
        DataError: the width is odd or under 2, so there are no two equal halves.
    """
    width = image.shape[1]
    if width < 2 or width % 2:
        where = f"{os.fspath(name)}: " if name is not None else ""
        raise DataError(
            f"{where}width {width} cannot be split into A|B halves; a paired file holds A on the "
            "left and B on the right, so its width must be even"
        )
    return image[:, : width // 2], image[:, width // 2 :]


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A loaded Pillow image (any mode) -> ``(H, W, C)`` float32 in [0, 1] (palette, bilevel and
    other colour spaces become L, LA, RGB or RGBA; 16-bit ``I;16`` keeps its precision)."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(img).astype(np.float32) / 65535.0
    elif mode == "F":
        a = np.asarray(img, dtype=np.float32)
    else:
        if mode == "1":
            img = img.convert("L")
        elif mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif mode == "PA":
            img = img.convert("RGBA")
        elif mode not in ("L", "LA", "RGB", "RGBA"):
            img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
        a = np.asarray(img).astype(np.float32) / 255.0
    a = a[:, :, None] if a.ndim == 2 else a
    return np.ascontiguousarray(np.clip(a, 0.0, 1.0), dtype=np.float32)


# --------------------------------------------------------------------------- helpers


def _unit_hwc(image: Any) -> np.ndarray:
    """Any supported image -> ``(H, W, C)`` float32 in [0, 1], clipped."""
    if isinstance(image, np.ndarray):
        arr = image.astype(np.float32, copy=False)
        arr = arr[:, :, None] if arr.ndim == 2 else arr
    else:  # a torch tensor in model space
        t = image.detach().to("cpu").float()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3:
            raise ValueError(f"expected a (C, H, W) tensor, got shape {tuple(t.shape)}")
        arr = (t.numpy().transpose(1, 2, 0) + 1.0) / 2.0
    if arr.ndim != 3:
        raise ValueError(f"expected an (H, W, C) array, got shape {arr.shape}")
    return np.clip(np.nan_to_num(arr), 0.0, 1.0)


def _is_16bit_color(img: Image.Image) -> bool:
    """True for 16-bit-per-channel RGB(A) files, which Pillow would silently read as 8-bit."""
    if img.mode not in ("RGB", "RGBA") or not getattr(img, "tile", None):
        return False
    args = img.tile[0].args
    raw = args[0] if isinstance(args, tuple) and args else args
    return isinstance(raw, str) and ";16" in raw


def _read_16bit_color(path: Path) -> np.ndarray:
    """Decode a 16-bit RGB(A) PNG or TIFF with OpenCV (no EXIF handling: done by the caller)."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise DataError(f"cannot read image {path}: unsupported 16-bit colour layout")
    arr = arr[:, :, [2, 1, 0, 3][: arr.shape[2]]]  # BGR(A) -> RGB(A)
    scale = 65535.0 if arr.dtype == np.uint16 else 255.0
    return np.ascontiguousarray(arr.astype(np.float32) / scale)


def _orient_planes(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to a decoded ``(H, W, C)`` array with :func:`PIL.ImageOps.exif_transpose`,
    one float plane (Pillow mode ``F``, exact for 16-bit values) per channel: Pillow has no 16-bit colour mode."""
    if orientation == 1:
        return arr
    planes = []
    for c in range(arr.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(arr[:, :, c]))
        plane.getexif()[ExifTags.Base.Orientation] = orientation
        ImageOps.exif_transpose(plane, in_place=True)
        planes.append(np.asarray(plane))
    return np.ascontiguousarray(np.stack(planes, axis=2))


def _encode_png8(u8: np.ndarray) -> bytes:
    import io

    img = Image.fromarray(u8[:, :, 0] if u8.shape[2] == 1 else u8)  # L, LA, RGB or RGBA
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _encode_png16(u16: np.ndarray) -> bytes:
    import cv2

    c = u16.shape[2]
    if c == 2:
        raise ValueError("16-bit PNG output supports 1, 3 or 4 channels, not 2")
    bgr = u16[:, :, [2, 1, 0, 3][:c]] if c >= 3 else u16[:, :, 0]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:  # pragma: no cover
        raise OSError("OpenCV failed to encode a 16-bit PNG")
    return buf.tobytes()


__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_CHANNELS",
    "list_images",
    "read_image",
    "convert_channels",
    "pil_to_array",
    "split_pair",
    "to_tensor",
    "to_uint8",
    "save_image",
]
