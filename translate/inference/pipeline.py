"""``translate.load(source)``: a trained model as a callable that takes and returns images.

Example::

    import translate

    pipe = translate.load("runs/facades/export")        # or a model.safetensors, or "hf://owner/name@rev"
    pipe("photo.png").save("out.png")                   # path -> PIL image
    out = pipe(np.zeros((4, 256, 256, 3), np.uint8))    # batch of uint8 arrays -> same dtype and layout
    pipe.save_pretrained("shared/facades")              # model.safetensors + config.json + README.md

What each input kind returns (every output has its input's height and width, times the
generator's ``scale_factor`` for a super-resolution model; channels are the generator's output
channels):

==============================================  ===============================================
input                                           output
==============================================  ===============================================
``str`` / ``os.PathLike`` (an image file)       ``PIL.Image`` (``L``, ``LA``, ``RGB`` or ``RGBA``); for
                                                a 16-bit model or more than 4 output channels an
                                                ``HxWxC`` array (``uint16`` for 16-bit, else ``uint8``)
``PIL.Image`` (any mode)                        ``PIL.Image`` (mode from the output channels), or an
                                                array as for a file
``np.ndarray`` ``HxW``, ``HxWxC``, ``NxHxWxC``  same dtype and layout (C up to 64); ``uint8`` (0..255),
                                                ``uint16`` (0..65535) or floats in [0, 1]; ``HxW``
                                                stays ``HxW`` when the output has one channel
``torch.Tensor`` ``CxHxW`` or ``NxCxHxW``        same layout, dtype and device; values in [-1, 1]
``list`` / ``tuple`` of the above               a list, translated as one batch
==============================================  ===============================================

Inputs are converted to the generator's input channels like image files are (see
:func:`translate.data.imageio.convert_channels`). In ``train`` test-time mode dropout is seeded from
``seed`` and, for files, the file name (as ``translate infer`` does), so results are reproducible.
PIL images are used as they are (no EXIF rotation; files given by path are rotated).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import TranslateError
from ..models import GeneratorInfo, LoadedModel, ModelMeta, load_model
from ..models.source import resolve_source
from .input_kinds import prepare_input
from .translator import Translator, resolve_device

if TYPE_CHECKING:  # pragma: no cover
    from typing import Unpack

    import torch

    from ..plugin.registry import Registry

_DTYPES = {
    "float32": "fp32", "fp32": "fp32", "float": "fp32",
    "bfloat16": "bf16", "bf16": "bf16",
    "float16": "fp16", "fp16": "fp16", "half": "fp16",
}


class PipelineOptions(TypedDict, total=False):
    """The keyword options of :func:`load`, passed on to :class:`Pipeline` (defaults there)."""

    device: str
    dtype: Any
    direction: str | None
    mode: str
    seed: int
    batch_size: int
    fast: bool
    backend: str


def _precision(dtype: Any) -> str:
    key = str(dtype).removeprefix("torch.")
    if key not in _DTYPES:
        raise TranslateError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    return _DTYPES[key]


def load(
    source: str | os.PathLike[str], *, registry: "Registry | None" = None, **options: "Unpack[PipelineOptions]"
) -> "Pipeline":
    """Load a model as a :class:`Pipeline`.

    Args:
        source: a model folder (``translate export`` / ``save_pretrained``), a run folder, a
            ``model.safetensors`` file, or a Hub id ``hf://owner/name[@revision]``.
        registry: the component registry (default: installed plugins).
        device: ``auto`` (CUDA when available, the default), ``cpu``, ``cuda``, ``cuda:1``, ...
        dtype: compute precision: ``float32`` (the default), ``bfloat16`` (autocast, CPU or GPU)
            or ``float16`` (autocast, CUDA only); weights stay float32. ``torch`` dtypes are
            accepted too.
        direction: the generator to run by default, by name or direction (``AtoB`` / ``BtoA``);
            None: the model's default.
        mode: test-time mode: ``model`` (recorded in the model; the default), ``eval`` or ``train``.
        seed: seeds dropout in ``train`` mode (default 0).
        batch_size: images per forward pass in ``eval`` mode (default 4).
        fast: the inference fast path (:mod:`translate.inference.fast`: BatchNorm folded, bf16 weights
            where the device computes bf16 natively, fp32 output layer, channels_last); outputs within
            ``FAST_TOLERANCE`` of fp32. Default False.
        backend: ``torch`` (the default), ``onnx``: ONNX Runtime on the CPU in fp32 and eval mode, from the
            ONNX file ``translate export --onnx`` wrote beside the model or one exported (and checked) on
            first use into ``~/.cache/translate/onnx`` (:mod:`translate.inference.onnx_backend`), or ``auto``:
            ONNX Runtime where it can run as asked and measured faster for this model on this machine (measured
            once, cached: :mod:`translate.inference.backend_choice`), else PyTorch. ``translate infer`` and
            ``translate serve`` use ``auto`` by default; a library call keeps ``torch`` unless asked, so that
            loading a model never times or exports anything by itself.

    Raises:
        ModelFileError: the model is missing, malformed, tampered with, or needs a plugin.
        TranslateError: an invalid option (device, dtype, mode).
    """
    loaded = load_model(resolve_source(source), registry=registry)
    return Pipeline(loaded, source=str(source), **options)


class Pipeline:
    """A loaded model that translates images; see the module docstring for input and output kinds.

    Args:
        loaded: the model (from :func:`translate.models.load_model`).
        device, dtype, direction, mode, seed, batch_size, fast, backend: as for :func:`load`.
        source: how the model was named, for ``repr`` (default: its path).

    Raises:
        ModelFileError: ``direction`` names no generator of the model.
        TranslateError: an invalid option (device, dtype, mode, batch size).
    """

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
        fast: bool = False,
        backend: str = "torch",
        source: str | None = None,
    ) -> None:
        self.loaded = loaded
        self.source = source if source is not None else str(loaded.path)
        self._settings: dict[str, Any] = {"device": str(device), "precision": _precision(dtype), "mode": mode,
                                          "seed": seed, "batch_size": batch_size, "fast": bool(fast),
                                          "backend": backend}
        self._translators: dict[str, Translator] = {}
        self.backend_choice: Any = None  # with backend="auto": the BackendChoice of the last generator set up
        self.direction = loaded.generator(direction)[1].name  # export name of the default generator
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
    def scale_factor(self) -> int:
        """How many times larger than its input each output of the default generator is (1: same size)."""
        return self._translator(None).scale

    @property
    def device(self) -> "torch.device":
        """The device the default generator runs on."""
        return self._translator(None).device

    def __repr__(self) -> str:
        t = self._translator(None)
        g = t.meta
        return (f"Pipeline({self.source!r}, method={self.meta.method!r}, generator={t.info.name!r} "
                f"({g.input_domain}->{g.output_domain}), device={str(t.device)!r}, precision={t.precision!r}, "
                f"mode={t.mode!r})")

    def _translator(self, direction: str | None) -> Translator:
        """The translator of one generator (by name or direction; ``None``: the default), made once."""
        module, info = self.loaded.generator(self.direction if direction is None else direction)
        if info.name not in self._translators:
            settings = dict(self._settings)
            mode = info.meta.test_mode if settings["mode"] == "model" else settings["mode"]
            if settings["backend"] == "auto":  # PyTorch or ONNX Runtime, whichever measured faster (cached)
                from .backend_choice import resolve_backend

                self.backend_choice = resolve_backend("auto", self.loaded, info.name, mode=mode,
                                                      device=resolve_device(settings["device"]),
                                                      precision=settings["precision"], fast=settings["fast"])
                settings["backend"] = self.backend_choice.backend
            if settings["backend"] == "onnx":
                from .onnx_backend import check_backend, onnx_generator

                # checked before an export on first use, which takes seconds
                check_backend("onnx", mode=mode, device=resolve_device(settings["device"]),
                              precision=settings["precision"], fast=settings["fast"], name=info.name)
                module = onnx_generator(self.loaded, info.name, echo=None)
            self._translators[info.name] = Translator(module, info, **settings)
        return self._translators[info.name]

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
            parts = [prepare_input(x, cin, cout, bit_depth=t.meta.bit_depth) for x in image]
        else:
            parts = [prepare_input(image, cin, cout, bit_depth=t.meta.bit_depth)]
        outs = t.translate_batch([a for p in parts for a in p.images], [k for p in parts for k in p.keys])
        results, start = [], 0
        for part in parts:
            results.append(part.finish(outs[start:start + len(part.images)]))
            start += len(part.images)
        return results if isinstance(image, (list, tuple)) else results[0]

    def save_pretrained(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write the model folder (``model.safetensors``, ``config.json``, ``README.md``), as ``translate export``.

        Raises:
            TranslateError: ``out_dir`` exists and is not an empty folder.
        """
        from ..models.export import save_loaded

        return save_loaded(self.loaded, out_dir)


__all__ = ["Pipeline", "PipelineOptions", "load", "resolve_source"]
