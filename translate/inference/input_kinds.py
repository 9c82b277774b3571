"""The input kinds ``translate.load(...)`` accepts, to image-space arrays and back.

:func:`prepare_input` turns an image path, a PIL image, a NumPy array or a tensor into
image-space arrays (``(H, W, C)`` float32 in [0, 1], converted to the generator's input
channels) and a ``finish`` function that turns the generator's outputs back into the input's
kind; the table in :mod:`translate.inference.pipeline` says what each kind returns. A file or
PIL image comes back as a PIL image when the model writes 8-bit images of 1 to 4 channels, and as
an ``HxWxC`` NumPy array otherwise (``uint16`` for a 16-bit model, as :func:`translate.data.imageio.save_image`
would write it; Pillow has no 16-bit colour mode and no mode of more than 4 channels).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import numpy as np

from ..data.imageio import MAX_CHANNELS, convert_channels, pil_to_array, read_image
from ..errors import TranslateError
from .outputs import output_suffix

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

Finish = Callable[[list[np.ndarray]], Any]
"""``finish(outputs) -> result``: image-space outputs, in input order, to the input's kind."""


class Prepared(NamedTuple):
    """One input made ready: its images, their dropout keys, and how to return the outputs."""

    images: list[np.ndarray]
    keys: list[str]
    finish: Finish


def prepare_input(image: Any, in_channels: int, out_channels: int, *, bit_depth: int = 8) -> Prepared:
    """Image-space arrays (``in_channels``), dropout keys and ``finish`` for one input of any kind.

    Args:
        image: an image file path, a PIL image, an ``HxW`` / ``HxWxC`` / ``NxHxWxC`` array, or a
            ``CxHxW`` / ``NxCxHxW`` tensor in [-1, 1].
        in_channels: the generator's input channels (inputs are converted to them).
        out_channels: its output channels (an ``HxW`` array stays ``HxW`` for one channel).
        bit_depth: the model's (8 or 16): what a file or PIL image input gets back (see the module docstring).

    Raises:
        TranslateError: an unsupported kind, shape, dtype or value range (the message says which).
        DataError: an image file cannot be read.
    """
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if path.is_dir():
            raise TranslateError(f"{path} is a folder; pass image files (or use `translate infer` for folders)")
        arr = read_image(path, channels=in_channels)
        key = path.stem + output_suffix(out_channels, bit_depth)  # the name translate infer writes
        return Prepared([arr], [key], lambda outs: _to_image(outs[0], bit_depth))
    if isinstance(image, Image.Image):
        image.load()
        arr = convert_channels(pil_to_array(image), in_channels)
        return Prepared([arr], [""], lambda outs: _to_image(outs[0], bit_depth))
    if isinstance(image, np.ndarray):
        return _prepare_array(image, in_channels, out_channels)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None  # type: ignore[assignment]
    if torch is not None and isinstance(image, torch.Tensor):
        return _prepare_tensor(image, in_channels)
    raise TranslateError(
        f"cannot translate a {type(image).__name__}: pass an image path, a PIL image, a NumPy array "
        "(HxW, HxWxC or NxHxWxC), a tensor (CxHxW or NxCxHxW in [-1, 1]) or a list of them"
    )


def _to_image(unit: np.ndarray, bit_depth: int) -> "Image.Image | np.ndarray":
    """A PIL image for 8-bit outputs of 1 to 4 channels; else an ``HxWxC`` array (``uint16`` at 16 bits)."""
    if bit_depth == 16:
        return np.round(unit * 65535.0).astype(np.uint16)
    if unit.shape[2] > 4:
        return np.round(unit * 255.0).astype(np.uint8)
    return _to_pil(unit)


def _to_pil(unit: np.ndarray) -> "Image.Image":
    from PIL import Image

    u8 = np.round(unit * 255.0).astype(np.uint8)
    return Image.fromarray(u8[:, :, 0] if u8.shape[2] == 1 else u8)  # L, LA, RGB or RGBA


def _check_size(height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise TranslateError(f"cannot translate an empty image ({height}x{width})")


def _unit_array(a: np.ndarray) -> tuple[np.ndarray, float | None]:
    """An array as float32 in [0, 1] and the scale its integer dtype had (``None`` for floats)."""
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0, 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0, 65535.0
    if not np.issubdtype(a.dtype, np.floating):
        raise TranslateError(f"unsupported array dtype {a.dtype}: use uint8, uint16 or float in [0, 1]")
    unit = a.astype(np.float32)
    if unit.size and not np.isfinite(unit).all():
        raise TranslateError("the float array holds NaN or infinite values")
    lo, hi = (float(unit.min()), float(unit.max())) if unit.size else (0.0, 1.0)
    if lo < -1e-3 or hi > 1.0 + 1e-3:
        raise TranslateError(
            f"float arrays must hold values in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
            "(pass uint8 for 0-255 images; map [-1, 1] data with (x + 1) / 2, or pass a tensor)"
        )
    return np.clip(unit, 0.0, 1.0), None


def _prepare_array(a: np.ndarray, cin: int, cout: int) -> Prepared:
    unit, scale = _unit_array(a)
    if a.ndim == 2:
        images, layout = [unit[:, :, None]], "HW"
    elif a.ndim == 3 and 1 <= a.shape[2] <= MAX_CHANNELS:
        images, layout = [unit], "HWC"
    elif a.ndim == 4 and 1 <= a.shape[3] <= MAX_CHANNELS:
        if a.shape[0] == 0:
            raise TranslateError("cannot translate an empty batch (N = 0)")
        images, layout = list(unit), "NHWC"
    else:
        raise TranslateError(
            f"cannot translate an array of shape {a.shape}: expected HxW, HxWxC or NxHxWxC with C in "
            f"1..{MAX_CHANNELS} "
            "(channels last; for a batch of grayscale images add a channel axis: x[..., None])"
        )
    _check_size(*images[0].shape[:2])
    if images[0].shape[2] > 4 and images[0].shape[2] != cin:
        raise TranslateError(
            f"cannot translate an array of shape {a.shape} read as {layout}: {images[0].shape[2]} channels, but the "
            f"generator takes {cin} (channels last; for a batch of grayscale images add a channel axis: x[..., None])")
    images = [convert_channels(im, cin) for im in images]
    dtype = a.dtype

    def finish(outs: list[np.ndarray]) -> np.ndarray:
        y = np.stack(outs)
        if layout == "HW" and cout == 1:
            y = y[..., 0]
        if layout != "NHWC":
            y = y[0]
        if scale is not None:
            return np.round(y * scale).astype(dtype)
        return y.astype(dtype, copy=False)

    return Prepared(images, [""] * len(images), finish)


def _prepare_tensor(t: "torch.Tensor", cin: int) -> Prepared:
    import torch

    if not t.is_floating_point():
        raise TranslateError(f"tensor inputs must be floating point in [-1, 1], got {t.dtype}")
    if t.ndim == 3:
        batch, single = t[None], True
    elif t.ndim == 4:
        batch, single = t, False
    else:
        raise TranslateError(f"cannot translate a tensor of shape {tuple(t.shape)}: expected CxHxW or NxCxHxW")
    n, c, h, w = batch.shape
    if not 1 <= c <= MAX_CHANNELS:
        raise TranslateError(f"cannot translate a tensor with {c} channels (shape {tuple(t.shape)}; channels "
                             f"first, 1 to {MAX_CHANNELS})")
    if n == 0:
        raise TranslateError("cannot translate an empty batch (N = 0)")
    _check_size(h, w)
    x = batch.detach().to("cpu", torch.float32).numpy()
    if not np.isfinite(x).all():
        raise TranslateError("the tensor holds NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.0 - 1e-3 or hi > 1.0 + 1e-3:
        raise TranslateError(f"tensor inputs must hold values in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]")
    unit = np.clip((x.transpose(0, 2, 3, 1) + 1.0) / 2.0, 0.0, 1.0)
    images = [convert_channels(im, cin) for im in unit]
    dtype, device = t.dtype, t.device

    def finish(outs: list[np.ndarray]) -> "torch.Tensor":
        y = np.stack(outs).transpose(0, 3, 1, 2) * 2.0 - 1.0
        out = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).to(device=device, dtype=dtype)
        return out[0] if single else out

    return Prepared(images, [""] * len(images), finish)


__all__ = ["Finish", "Prepared", "prepare_input"]
