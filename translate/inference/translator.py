"""The :class:`Translator`: one generator run on image-space arrays (sizes, test-time mode, precision, batches).

Sizes. Every output is ``scale_factor`` times its input's height and width (the generator's
recorded ``scale_factor``, :mod:`translate.nn.traits`: 1 for image-to-image translation, 4 for a 4x
super-resolution model). By default an image whose size is not a multiple of the network's
``size_multiple`` is padded (reflect, or replicate when the image is smaller than the padding),
translated and cropped back (on the output side: ``scale_factor`` times the input's size), so
the network sees the pixels unscaled. With ``size=(H, W)`` (``--size N`` or ``--size WxH``) the
image is instead resized (bicubic, antialiased; aspect ratio not kept, like the pix2pix test
script's ``--load_size``) to that size for the network, which then outputs ``scale_factor`` times
it, and the output is resized back to ``scale_factor`` times the original size: use it for a
model that only works at its training resolution, at the price of resampling blur. ``size`` and
``tile`` are always input-side sizes. Images are batched by the size they run at; images larger
than ``tile`` run in tiles (:mod:`translate.inference.tiling`).

Test-time mode: ``eval`` (the usual: dropout off, BatchNorm running statistics, images
batched by size) or ``train`` (the pix2pix paper: dropout on, BatchNorm statistics of
the image itself, so each image runs alone; dropout is seeded per image from ``seed`` and the
image's key, e.g. its relative name, which makes outputs reproducible and independent of batch
order). The module's mode and buffers (BatchNorm statistics) are restored after each call.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..data.tiff import MAX_CHANNELS
from ..errors import PluginError, TranslateError
from ..models import GeneratorInfo
from ..nn.test_mode import dropout_seed, in_test_mode
from ..nn.traits import scale_factor
from .inputs import parse_size, resize_image
from .tiling import translate_tiles

if TYPE_CHECKING:  # pragma: no cover
    import torch

MODES = ("model", "eval", "train")
PRECISIONS = ("fp32", "bf16", "fp16")


def resolve_device(device: str) -> "torch.device":
    """``auto`` -> ``cuda`` when available, else ``cpu``; anything else is checked.

    Raises:
        TranslateError: not a device name, or CUDA requested but not available.
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise TranslateError(f"invalid device {device!r} (use auto, cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TranslateError(f"device {device!r} requested but CUDA is not available")
    return dev


class Translator:
    """Runs one generator on images in image space (``(H, W, C)`` float32 in [0, 1]).

    Args:
        module: the generator (e.g. from :meth:`translate.models.LoadedModel.generator`).
        info: its metadata (channels, normalisation, value range, size multiple, test mode).
        device: ``auto``, ``cpu``, ``cuda``, ...
        precision: ``fp32``, ``bf16`` (autocast) or ``fp16`` (autocast, CUDA only).
        mode: ``model`` (the mode recorded in the model file), ``eval`` or ``train``.
        seed: seeds dropout in train mode.
        batch_size: images (or tiles) per forward pass in eval mode (train mode always uses 1).
        size: ``(height, width)`` (or an int, or ``"N"`` / ``"WxH"``) to resize images to for the
            network, the output being resized back (to ``scale_factor`` times the image's size);
            ``None``: pad to the size multiple instead.
        tile: run images larger than ``tile x tile`` as overlapping tiles (a multiple of the
            generator's ``size_multiple``); ``None``: never tile.
        tile_overlap: minimum overlap between neighbouring tiles, in pixels (``0 <= M < tile``);
            ``None``: ``min(32, tile // 4)``.
        channels_last: run the module and its inputs in ``torch.channels_last`` memory format
            (converts ``module`` in place; much faster on CPUs with oneDNN, above all in bf16).
        fast: run a fast copy of the module (:func:`translate.inference.fast.fast_generator`: BatchNorm
            folded in eval mode, bf16 weights where the device computes bf16 natively, fp32 output layer,
            channels_last); ``precision`` is then ignored (the copy has its own weight precision).
        backend: ``torch``, or ``onnx`` when ``module`` is an ONNX Runtime session
            (:class:`translate.inference.onnx_backend.OnnxGenerator`: eval mode, CPU, fp32 only).

    Raises:
        TranslateError: an invalid option (the message names it and what is allowed).
    """

    def __init__(
        self,
        module: "torch.nn.Module",
        info: GeneratorInfo,
        *,
        device: str = "auto",
        precision: str = "fp32",
        mode: str = "model",
        seed: int = 0,
        batch_size: int = 4,
        size: int | tuple[int, int] | str | None = None,
        tile: int | None = None,
        tile_overlap: int | None = None,
        channels_last: bool = False,
        fast: bool = False,
        backend: str = "torch",
    ) -> None:
        import torch

        from .onnx_backend import check_backend

        if mode not in MODES:
            raise TranslateError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if precision not in PRECISIONS:
            raise TranslateError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if batch_size < 1:
            raise TranslateError(f"batch size must be at least 1, got {batch_size}")
        self.info = info
        self.meta = info.meta
        if not 1 <= self.meta.in_channels <= MAX_CHANNELS or not 1 <= self.meta.out_channels <= MAX_CHANNELS:
            raise TranslateError(
                f"generator {info.name!r} maps {self.meta.in_channels} to {self.meta.out_channels} channels; "
                f"image inference supports 1 to {MAX_CHANNELS} channels"
            )
        m = self.meta.size_multiple
        try:
            declared = scale_factor(module, f"generator {info.name!r}")
        except PluginError as err:
            raise TranslateError(str(err)) from None
        if declared != self.meta.scale_factor:
            raise TranslateError(f"generator {info.name!r}: the module declares scale_factor {declared}, but its "
                                 f"metadata records {self.meta.scale_factor}")
        self.scale = self.meta.scale_factor
        if tile is not None:
            tile_overlap = min(32, tile // 4) if tile_overlap is None else tile_overlap
            if tile < 1 or tile % m:
                raise TranslateError(f"tile size must be a positive multiple of {m} (the generator "
                                     f"{info.name!r} needs sides that are multiples of {m}), got {tile}")
            if not 0 <= tile_overlap < tile:
                raise TranslateError(f"tile overlap must be from 0 to {tile - 1} (less than the tile), "
                                     f"got {tile_overlap}")
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise TranslateError("fp16 inference needs a CUDA device; use --precision bf16 or fp32 on the CPU")
        self.precision = precision
        self.mode = self.meta.test_mode if mode == "model" else mode
        self.seed = seed
        self.batch_size = 1 if self.mode == "train" else batch_size
        self.size = parse_size(size)
        self.tile = tile
        self.tile_overlap = tile_overlap if tile is not None else None
        check_backend(backend, mode=self.mode, device=self.device, precision=precision, fast=fast, name=info.name)
        self.backend = backend
        self.channels_last = channels_last and backend == "torch"
        self.fast = fast
        if backend == "onnx":
            self.module = module
            self.precision = "fp32 (ONNX Runtime)"
        elif fast:
            from .fast import fast_generator

            self.module = fast_generator(module, self.device, eval_mode=self.mode == "eval")
            self.precision = "bf16 weights" if self.module.dtype == torch.bfloat16 else "fp32"
            self.channels_last = False  # the fast module formats its own inputs
        else:
            self.module = module.to(self.device)
        if self.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)

    @property
    def title(self) -> str:
        """``"<generator>: <input domain> -> <output domain>"``, e.g. for a page heading."""
        return f"{self.info.name}: {self.meta.input_domain} -> {self.meta.output_domain}"

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size an image is padded to: each side rounded up to the network's size multiple."""
        m = self.meta.size_multiple
        return -(-height // m) * m, -(-width // m) * m

    def network_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The size an image of this size runs at as one batch item, or ``None`` when it runs in tiles."""
        h, w = self.size or (height, width)
        if self.tile is not None and (h > self.tile or w > self.tile):
            return None
        return self.padded_size(h, w)

    def __call__(self, image: np.ndarray, key: str = "") -> np.ndarray:
        """Translate one image; ``key`` (e.g. its file name) seeds dropout in train mode."""
        return self.translate_batch([image], [key])[0]

    def translate_batch(self, images: list[np.ndarray], keys: list[str] | None = None) -> list[np.ndarray]:
        """Translate images; in eval mode those sharing a network size run as one batch, large ones in tiles."""
        import torch

        keys = keys if keys is not None else [""] * len(images)
        out: list[np.ndarray | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        tiled: list[int] = []
        for i, img in enumerate(images):
            size = self.network_size(*img.shape[:2])
            if size is None:
                tiled.append(i)
            else:
                groups.setdefault(size, []).append(i)
        with in_test_mode(self.module, self.mode), torch.no_grad():
            for size, idx in groups.items():
                for start in range(0, len(idx), self.batch_size):
                    chunk = idx[start : start + self.batch_size]
                    results = self._forward([self._to_network(images[i]) for i in chunk], size, keys[chunk[0]])
                    for i, res in zip(chunk, results):
                        out[i] = self._from_network(res, images[i].shape[:2])
            for i in tiled:
                out[i] = self._from_network(self._tiled(self._to_network(images[i]), keys[i]), images[i].shape[:2])
        return out  # type: ignore[return-value]

    def _to_network(self, image: np.ndarray) -> np.ndarray:
        return image if self.size is None else resize_image(image, self.size)

    def _from_network(self, result: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The output at ``scale`` times the input image's ``shape`` (resized back when ``size`` was set)."""
        s = self.scale
        return result if self.size is None else resize_image(result, (int(shape[0]) * s, int(shape[1]) * s))

    def _tiled(self, image: np.ndarray, key: str) -> np.ndarray:
        """Translate one image in overlapping tiles, each padded to the size multiple."""
        assert self.tile is not None and self.tile_overlap is not None
        return translate_tiles(
            image, lambda crops, k: self._forward(crops, self.padded_size(*crops[0].shape[:2]), k),
            tile=self.tile, overlap=self.tile_overlap, batch_size=self.batch_size,
            out_channels=self.meta.out_channels, key=key, scale=self.scale,
        )

    def _forward(self, images: list[np.ndarray], size: tuple[int, int], key: str) -> list[np.ndarray]:
        """Pad images to ``size``, run them as one batch and crop the outputs back (``scale`` times each
        image's size), in image space."""
        import torch

        norm = self.meta.normalization
        batch = torch.stack([self._pad(torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))), size)
                             for im in images]).to(self.device)
        batch.sub_(norm.mean).div_(norm.std)  # in place: the stacked batch is this call's own copy
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with self._seeded(key), self._autocast():
            y = self.module(batch)
        lo, hi = self.meta.value_range
        s = self.scale
        want = (len(images), self.meta.out_channels, size[0] * s, size[1] * s)
        if tuple(y.shape) != want:
            raise TranslateError(f"generator {self.info.name!r} returned shape {tuple(y.shape)} for an input of "
                                 f"{tuple(batch.shape)}; expected {want} (scale_factor {s})")
        y = y.float() if y.dtype != torch.float32 else y  # the module's fresh output: changed in place below
        y = y.sub_(lo).div_(hi - lo).clamp_(0.0, 1.0).cpu().numpy()
        return [np.ascontiguousarray(y[i, :, : im.shape[0] * s, : im.shape[1] * s].transpose(1, 2, 0))
                for i, im in enumerate(images)]

    @staticmethod
    def _pad(chw: "torch.Tensor", size: tuple[int, int]) -> "torch.Tensor":
        import torch.nn.functional as F

        ph, pw = size[0] - chw.shape[1], size[1] - chw.shape[2]
        if ph == 0 and pw == 0:
            return chw
        mode = "reflect" if ph < chw.shape[1] and pw < chw.shape[2] else "replicate"
        return F.pad(chw[None], (0, pw, 0, ph), mode=mode)[0]

    @contextlib.contextmanager
    def _seeded(self, key: str) -> Iterator[None]:
        """In train mode, seed dropout from ``seed`` and ``key`` (the global RNG state is restored after)."""
        import torch

        if self.mode != "train":
            yield
            return
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type=self.device.type):
            torch.manual_seed(dropout_seed(self.seed, key))
            yield

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        import torch

        if self.precision.startswith("fp32") or self.fast:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)


__all__ = ["MODES", "PRECISIONS", "Translator", "resolve_device"]
