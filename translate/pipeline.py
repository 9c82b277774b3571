"""``translate.load(source)``: a trained model as a callable that takes and returns images.

Example::

    import translate

    pipe = translate.load("runs/facades/export")        # or a model.safetensors, or "hf://owner/name@rev"
    pipe("photo.png").save("out.png")                   # path -> PIL image
    out = pipe(np.zeros((4, 256, 256, 3), np.uint8))    # batch of uint8 arrays -> same dtype and layout
    pipe.save_pretrained("shared/facades")              # model.safetensors + config.json + README.md

What each input kind returns (every output has its input's height and width; channels are the
generator's output channels):

==============================================  ===============================================
input                                           output
==============================================  ===============================================
``str`` / ``os.PathLike`` (an image file)       ``PIL.Image`` (``L``, ``LA``, ``RGB`` or ``RGBA``)
``PIL.Image`` (any mode)                        ``PIL.Image`` (mode from the output channels)
``np.ndarray`` ``HxW``, ``HxWxC``, ``NxHxWxC``  same dtype and layout; ``uint8`` (0..255),
                                                ``uint16`` (0..65535) or floats in [0, 1]; ``HxW``
                                                stays ``HxW`` when the output has one channel
``torch.Tensor`` ``CxHxW`` or ``NxCxHxW``        same layout, dtype and device; values in [-1, 1]
``list`` / ``tuple`` of the above               a list, translated as one batch
==============================================  ===============================================

Inputs are converted to the generator's input channels like image files are (see
:func:`translate.imageio.convert_channels`). In ``train`` test-time mode dropout is seeded from
``seed`` and, for files, the file name (as ``translate infer`` does), so results are reproducible.
PIL images are used as they are (no EXIF rotation; files given by path are rotated).
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .errors import ModelFileError, TranslateError
from .hub import HUB_PREFIX, parse_hub_id
from .modelfile import GeneratorInfo, LoadedModel, ModelMeta, load_model

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

    from .inference import Translator
    from .registry import Registry

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_DTYPES = {
    "float32": "fp32", "fp32": "fp32", "float": "fp32",
    "bfloat16": "bf16", "bf16": "bf16",
    "float16": "fp16", "fp16": "fp16", "half": "fp16",
}


def resolve_source(source: str | os.PathLike[str]) -> Path:
    """A local model folder or file for ``source``; ``hf://`` ids are downloaded by :mod:`translate.hub`."""
    text = os.fspath(source)
    if isinstance(text, str) and text.startswith(HUB_PREFIX):
        repo, revision = parse_hub_id(text)
        try:
            hub = importlib.import_module("translate.hub")
        except ImportError as err:
            raise TranslateError(f"{text}: loading from the Hugging Face Hub is not available: {err}") from None
        return Path(hub.download(repo, revision))
    path = Path(text)
    if not path.exists() and isinstance(text, str) and _REPO.match(text) and not text.endswith(".safetensors"):
        raise ModelFileError(f"{text}: no such model folder or file (for a Hugging Face Hub model use hf://{text})")
    return path


def _precision(dtype: Any) -> str:
    key = str(dtype).removeprefix("torch.")
    if key not in _DTYPES:
        raise TranslateError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    return _DTYPES[key]


def load(
    source: str | os.PathLike[str],
    *,
    device: str = "auto",
    dtype: Any = "float32",
    direction: str | None = None,
    mode: str = "model",
    seed: int = 0,
    batch_size: int = 4,
    registry: "Registry | None" = None,
) -> "Pipeline":
    """Load a model as a :class:`Pipeline`.

    Args:
        source: a model folder (``translate export`` / ``save_pretrained``), a run folder, a
            ``model.safetensors`` file, or a Hub id ``hf://owner/name[@revision]``.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``, ...
        dtype: compute precision: ``float32``, ``bfloat16`` (autocast, CPU or GPU) or ``float16``
            (autocast, CUDA only); weights stay float32. ``torch`` dtypes are accepted too.
        direction: the generator to run by default, by name or direction (``AtoB`` / ``BtoA``);
            None: the model's default.
        mode: test-time mode: ``model`` (recorded in the model), ``eval`` or ``train``.
        seed: seeds dropout in ``train`` mode.
        batch_size: images per forward pass in ``eval`` mode.
        registry: the component registry (default: installed plugins).

    Raises:
        ModelFileError: the model is missing, malformed, tampered with, or needs a plugin.
        TranslateError: an invalid option (device, dtype, mode).
    """
    loaded = load_model(resolve_source(source), registry=registry)
    return Pipeline(loaded, device=device, dtype=dtype, direction=direction, mode=mode, seed=seed,
                    batch_size=batch_size, source=str(source))


class Pipeline:
    """A loaded model that translates images; see the module docstring for input and output kinds."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        device: str = "auto",
        dtype: Any = "float32",
        direction: str | None = None,
        mode: str = "model",
        seed: int = 0,
        batch_size: int = 4,
        source: str | None = None,
    ) -> None:
        self.loaded = loaded
        self.source = source if source is not None else str(loaded.path)
        self._settings = {"device": str(device), "precision": _precision(dtype), "mode": mode, "seed": seed,
                          "batch_size": batch_size}
        self._translators: dict[str, "Translator"] = {}
        self.direction = loaded._resolve(direction)  # export name of the default generator
        self._translator(None)  # check the settings now, not at the first image

    # ------------------------------------------------------------------ description

    @property
    def meta(self) -> ModelMeta:
        """The model's validated metadata (what ``config.json`` holds)."""
        return self.loaded.meta

    @property
    def generators(self) -> list[str]:
        """Export names of the generators, the model's default first."""
        return self.loaded.names

    @property
    def info(self) -> GeneratorInfo:
        """Name and metadata of the generator that runs when no direction is given."""
        return self._translator(None).info

    @property
    def device(self) -> "torch.device":
        return self._translator(None).device

    def __repr__(self) -> str:
        t = self._translator(None)
        g = t.meta
        return (f"Pipeline({self.source!r}, method={self.meta.method!r}, generator={t.info.name!r} "
                f"({g.input_domain}->{g.output_domain}), device={str(t.device)!r}, precision={t.precision!r}, "
                f"mode={t.mode!r})")

    def _translator(self, direction: str | None) -> "Translator":
        from .inference import Translator

        name = self.direction if direction is None else self.loaded._resolve(direction)
        if name not in self._translators:
            module, info = self.loaded.generator(name)
            s = self._settings
            self._translators[name] = Translator(
                module, info, device=s["device"], precision=s["precision"], mode=s["mode"], seed=s["seed"],
                batch_size=s["batch_size"],
            )
        return self._translators[name]

    # ------------------------------------------------------------------ translating

    def __call__(self, image: Any, *, direction: str | None = None) -> Any:
        """Translate ``image`` (a path, PIL image, array, tensor, or a list of them) with the chosen generator.

        Args:
            image: see the module docstring.
            direction: a generator name or direction for this call (default: the pipeline's).
        """
        t = self._translator(direction)
        cin, cout = t.meta.in_channels, t.meta.out_channels
        if isinstance(image, (list, tuple)):
            if not image:
                return []
            parts = [_prepare(x, cin, cout) for x in image]
        else:
            parts = [_prepare(image, cin, cout)]
        arrays = [a for p in parts for a in p[0]]
        keys = [k for p in parts for k in p[1]]
        outs = t.translate_batch(arrays, keys)
        results, start = [], 0
        for items, _, finish in parts:
            results.append(finish(outs[start:start + len(items)]))
            start += len(items)
        return results if isinstance(image, (list, tuple)) else results[0]

    def save_pretrained(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write the model folder (``model.safetensors``, ``config.json``, ``README.md``), as ``translate export``.

        Raises:
            TranslateError: ``out_dir`` exists and is not an empty folder.
        """
        from .export import save_loaded

        return save_loaded(self.loaded, out_dir)


# --------------------------------------------------------------------------- input and output kinds

_Finish = Callable[[list[np.ndarray]], Any]


def _prepare(image: Any, cin: int, cout: int) -> tuple[list[np.ndarray], list[str], _Finish]:
    """``(images (H, W, cin) float32 in [0, 1], dropout keys, finish(outputs) -> result of the input's kind)``."""
    from PIL import Image

    from .imageio import convert_channels, read_image

    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if path.is_dir():
            raise TranslateError(f"{path} is a folder; pass image files (or use `translate infer` for folders)")
        arr = read_image(path, channels=cin)
        return [arr], [path.stem + ".png"], lambda outs: _to_pil(outs[0])
    if isinstance(image, Image.Image):
        from .imageio import _pil_to_array

        image.load()
        arr = convert_channels(_pil_to_array(image), cin)
        return [arr], [""], lambda outs: _to_pil(outs[0])
    if isinstance(image, np.ndarray):
        return _prepare_array(image, cin, cout)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None  # type: ignore[assignment]
    if torch is not None and isinstance(image, torch.Tensor):
        return _prepare_tensor(image, cin)
    raise TranslateError(
        f"cannot translate a {type(image).__name__}: pass an image path, a PIL image, a NumPy array "
        "(HxW, HxWxC or NxHxWxC), a tensor (CxHxW or NxCxHxW in [-1, 1]) or a list of them"
    )


def _to_pil(unit: np.ndarray) -> "Image.Image":
    from PIL import Image

    u8 = np.round(unit * 255.0).astype(np.uint8)
    return Image.fromarray(u8[:, :, 0] if u8.shape[2] == 1 else u8)  # L, LA, RGB or RGBA


def _check_size(height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise TranslateError(f"cannot translate an empty image ({height}x{width})")


def _prepare_array(a: np.ndarray, cin: int, cout: int) -> tuple[list[np.ndarray], list[str], _Finish]:
    from .imageio import convert_channels

    if a.dtype == np.uint8:
        unit, scale = a.astype(np.float32) / 255.0, 255.0
    elif a.dtype == np.uint16:
        unit, scale = a.astype(np.float32) / 65535.0, 65535.0
    elif np.issubdtype(a.dtype, np.floating):
        unit, scale = a.astype(np.float32), None
        if unit.size and not np.isfinite(unit).all():
            raise TranslateError("the float array holds NaN or infinite values")
        lo, hi = (float(unit.min()), float(unit.max())) if unit.size else (0.0, 1.0)
        if lo < -1e-3 or hi > 1.0 + 1e-3:
            raise TranslateError(
                f"float arrays must hold values in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
                "(pass uint8 for 0-255 images; map [-1, 1] data with (x + 1) / 2, or pass a tensor)"
            )
        unit = np.clip(unit, 0.0, 1.0)
    else:
        raise TranslateError(f"unsupported array dtype {a.dtype}: use uint8, uint16 or float in [0, 1]")
    if a.ndim == 2:
        images, layout = [unit[:, :, None]], "HW"
    elif a.ndim == 3 and 1 <= a.shape[2] <= 4:
        images, layout = [unit], "HWC"
    elif a.ndim == 4 and 1 <= a.shape[3] <= 4:
        if a.shape[0] == 0:
            raise TranslateError("cannot translate an empty batch (N = 0)")
        images, layout = list(unit), "NHWC"
    else:
        raise TranslateError(
            f"cannot translate an array of shape {a.shape}: expected HxW, HxWxC or NxHxWxC with C in 1..4 "
            "(channels last; for a batch of grayscale images add a channel axis: x[..., None])"
        )
    _check_size(*images[0].shape[:2])
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

    return images, [""] * len(images), finish


def _prepare_tensor(t: "torch.Tensor", cin: int) -> tuple[list[np.ndarray], list[str], _Finish]:
    import torch

    from .imageio import convert_channels

    if not t.is_floating_point():
        raise TranslateError(f"tensor inputs must be floating point in [-1, 1], got {t.dtype}")
    if t.ndim == 3:
        batch, single = t[None], True
    elif t.ndim == 4:
        batch, single = t, False
    else:
        raise TranslateError(f"cannot translate a tensor of shape {tuple(t.shape)}: expected CxHxW or NxCxHxW")
    n, c, h, w = batch.shape
    if not 1 <= c <= 4:
        raise TranslateError(f"cannot translate a tensor with {c} channels (shape {tuple(t.shape)}; channels "
                             "first, 1 to 4)")
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

    return images, [""] * len(images), finish


__all__ = ["HUB_PREFIX", "Pipeline", "load", "parse_hub_id", "resolve_source"]
