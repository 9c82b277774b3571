"""N-channel TIFF files (tifffile): what Pillow and OpenCV cannot hold.

Pillow has no mode for more than 4 channels nor for 16-bit colour, and OpenCV writes TIFF only
with 1, 3 or 4 channels, so multispectral, medical and depth images go through ``tifffile``
(pure Python on NumPy):

- :func:`read_tiff` reads what :mod:`translate.data.imageio` hands it: multi-sample TIFFs (one page
  of ``H x W x C`` samples, interleaved or planar), multi-page TIFFs whose pages are the channels
  (each an ``H x W`` page of one size and type; reduced-resolution pages such as thumbnails are
  skipped), and 2-channel files. Plain grey, RGB and RGBA TIFFs stay with Pillow (:func:`needs_tifffile`
  says which). ``uint8`` samples are scaled by 255, ``uint16`` by 65535, floats are taken as values in
  [0, 1] (clipped, as Pillow's float mode ``F``); other sample types are refused. The EXIF/TIFF
  orientation tag is applied as for other images.
- :func:`encode_tiff` writes one page of interleaved samples (``uint8`` or ``uint16``, deflate
  compressed): grey for 1 channel, RGB and RGBA (unassociated alpha) for 3 and 4, and
  ``minisblack`` with extra samples otherwise (what GDAL, QGIS and tifffile read as bands).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

TIFF_SUFFIXES: tuple[str, ...] = (".tif", ".tiff")
"""File name endings (lower case) read and written as TIFF."""
MAX_CHANNELS = 64
"""The most channels an image may have (a model file's generators declare at most this many)."""

_SCALES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def is_tiff(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is named as a TIFF file (``.tif`` or ``.tiff``, any case)."""
    return Path(path).suffix.lower() in TIFF_SUFFIXES


def needs_tifffile(path: str | os.PathLike[str]) -> bool:
    """Whether the TIFF file ``path`` is one that Pillow cannot read exactly: more than one channel
    other than RGB or RGBA, planar samples, several pages as channels, or float colour samples.

    A file tifffile cannot parse is left to Pillow (whose error names what is wrong with it).
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes, dtype = tuple(series.shape), series.axes, np.dtype(series.dtype)
            pages = _full_pages(tif)
    except (tifffile.TiffFileError, ValueError, IndexError, OSError):
        return False
    if len(shape) == 2:
        return len(pages) > 1
    return not (len(shape) == 3 and axes.endswith("S") and shape[2] in (3, 4) and dtype in _SCALES)


def read_tiff(path: str | os.PathLike[str]) -> np.ndarray:
    """A TIFF file as ``(H, W, C)`` float32 in [0, 1] (see the module docstring for the layouts).

    Raises:
        DataError: the file cannot be read, holds more than one image that is not a stack of
            channels, more than :data:`MAX_CHANNELS` channels, or samples of an unsupported type.
    """
    import tifffile

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes = tuple(series.shape), series.axes
            pages = _full_pages(tif)
            orientation = _orientation(pages[0] if pages else tif.pages[0])
            if len(shape) == 2 and len(pages) > 1:
                arr = _stack_pages(pages, path)
            elif len(shape) == 2:
                arr = series.asarray()[:, :, None]
            elif len(shape) == 3:
                arr = series.asarray()
                arr = arr if axes.endswith("S") else np.moveaxis(arr, 0, 2)  # planar samples, or pages
            else:
                raise DataError(f"cannot read image {path}: a TIFF of shape {shape} (axes {axes}) holds more than one "
                                "image; translate reads one image per file: H x W, H x W x C, or C pages of H x W")
    except FileNotFoundError:
        raise DataError(f"image file not found: {path}") from None
    except DataError:
        raise
    except (tifffile.TiffFileError, ValueError, IndexError, OSError, MemoryError) as err:
        raise DataError(f"cannot read image {path}: {err}") from None
    return _orient(_unit(arr, path), orientation)


def encode_tiff(samples: np.ndarray) -> bytes:
    """The bytes of a TIFF holding ``(H, W, C)`` ``uint8`` or ``uint16`` samples (see the module docstring)."""
    import tifffile

    if samples.ndim != 3 or samples.dtype not in _SCALES:
        raise ValueError(f"expected (H, W, C) uint8 or uint16 samples, got {samples.dtype} of shape {samples.shape}")
    channels = samples.shape[2]
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"cannot save an image with {channels} channels (at most {MAX_CHANNELS})")
    options: dict[str, Any] = {"photometric": "minisblack", "compression": "zlib", "metadata": None}
    data = np.ascontiguousarray(samples[:, :, 0] if channels == 1 else samples)
    if channels in (3, 4):
        options["photometric"] = "rgb"
        if channels == 4:
            options["extrasamples"] = ["unassalpha"]
    elif channels > 1:
        options["planarconfig"] = "contig"
    buf = io.BytesIO()
    tifffile.imwrite(buf, data, **options)
    return buf.getvalue()


def _full_pages(tif: Any) -> list[Any]:
    """The pages of ``tif`` that are full images (reduced-resolution ones, thumbnails and pyramid levels, left out)."""
    return [p for p in tif.pages if not getattr(p, "is_reduced", False)]


def _stack_pages(pages: list[Any], path: Path) -> np.ndarray:
    first = pages[0]
    for i, page in enumerate(pages):
        if tuple(page.shape) != tuple(first.shape) or page.dtype != first.dtype:
            raise DataError(
                f"cannot read image {path}: its pages are read as channels and must share one size and sample type, "
                f"but page 1 is {first.shape} {first.dtype} and page {i + 1} is {page.shape} {page.dtype}")
        if len(page.shape) != 2:
            raise DataError(f"cannot read image {path}: page {i + 1} has shape {page.shape}; pages read as channels "
                            "must each hold one channel (H x W)")
    if len(pages) > MAX_CHANNELS:
        raise DataError(f"cannot read image {path}: {len(pages)} pages, more than the {MAX_CHANNELS} channels "
                        "an image may have")
    return np.stack([page.asarray() for page in pages], axis=2)


def _unit(arr: np.ndarray, path: Path) -> np.ndarray:
    """Samples -> float32 in [0, 1] (integers scaled by their type's maximum, floats clipped)."""
    if arr.shape[2] > MAX_CHANNELS:
        raise DataError(f"cannot read image {path}: {arr.shape[2]} channels, more than the {MAX_CHANNELS} an image "
                        "may have")
    dtype = np.dtype(arr.dtype)
    if dtype in _SCALES:
        unit = arr.astype(np.float32) / _SCALES[dtype]
    elif dtype.kind == "f":
        unit = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    else:
        raise DataError(f"cannot read image {path}: its samples are {dtype}; translate reads uint8, uint16 and "
                        "float TIFFs (floats as values in [0, 1]): convert it to one of them")
    return np.ascontiguousarray(np.clip(unit, 0.0, 1.0), dtype=np.float32)


def _orientation(page: Any) -> int:
    tag = page.tags.get("Orientation") if hasattr(page, "tags") else None
    try:
        return int(tag.value) if tag is not None else 1
    except (TypeError, ValueError):
        return 1


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply a TIFF/EXIF orientation (1 to 8) to an ``(H, W, C)`` array."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: a[::-1].transpose(1, 0, 2),
           7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: a[:, ::-1].transpose(1, 0, 2)}
    op = ops.get(orientation)
    return arr if op is None else np.ascontiguousarray(op(arr))


__all__ = ["MAX_CHANNELS", "TIFF_SUFFIXES", "encode_tiff", "is_tiff", "needs_tifffile", "read_tiff"]
