"""A model as a service: loaded once, described as JSON, translating images through one batcher.

:class:`ModelService` is what both ``translate serve`` (HTTP) and ``translate demo`` (Gradio)
run: it loads the model with :func:`translate.load` (so outputs are the Python API's), picks the
generator a request asks for, decodes request bodies within the :class:`~.limits.Limits`, and
sends every image through one :class:`~.batching.Batcher`, whose single worker thread is the
only one that runs the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelFileError
from .batching import Batcher
from .decode import decode_image, encode_png, read_upload
from .limits import Limits, RequestError


def model_label(source: str | os.PathLike[str]) -> str:
    """How the service names its model: a Hub id as given, a local model by its folder's name (no server paths)."""
    text = os.fspath(source)
    if text.startswith("hf://"):
        return text
    path = Path(text)
    if path.name == "model.safetensors" or path.suffix == ".safetensors":
        return path.parent.resolve().name or path.stem
    return path.resolve().name or text


class ModelService:
    """A loaded model that translates decoded images and request bodies, batching concurrent calls.

    Args:
        source: a model folder, run folder, ``model.safetensors`` or ``hf://owner/name[@rev]``.
        limits: request limits and batching settings.
        device, dtype, mode, seed, backend: as for :func:`translate.load`.

    Raises:
        ModelFileError: the model cannot be loaded.
        TranslateError: an invalid option.
    """

    def __init__(self, source: str | os.PathLike[str], *, limits: Limits | None = None, device: str = "auto",
                 dtype: Any = "float32", mode: str = "model", seed: int = 0, backend: str = "torch") -> None:
        from ...inference.pipeline import load

        self.limits = limits or Limits()
        self.source = os.fspath(source)
        self.name = model_label(source)
        self.pipeline = load(source, device=device, dtype=dtype, mode=mode, seed=seed,
                             batch_size=self.limits.max_batch, backend=backend)
        self.batcher = Batcher(self._run, max_batch=self.limits.max_batch, max_wait_ms=self.limits.max_wait_ms,
                               max_queue=self.limits.max_queue, deadline_ms=self.limits.deadline_ms)

    def _run(self, images: list[np.ndarray], generator: str) -> list[np.ndarray]:
        return self.pipeline(images, direction=generator)

    def close(self) -> None:
        """Stop the batch worker (after the requests already queued)."""
        self.batcher.close()

    # ------------------------------------------------------------------ choosing and translating

    def generator(self, direction: str | None) -> str:
        """The export name of the generator for ``direction`` (a direction such as ``BtoA``, or a name; None: default).

        Raises:
            RequestError: 400 naming the available directions when none matches.
        """
        try:
            return self.pipeline.loaded.generator(direction)[1].name
        except ModelFileError:
            available = ", ".join(f"{g.direction} ({n}: {g.input_domain} -> {g.output_domain})"
                                  for n, g in self.pipeline.meta.generators.items())
            raise RequestError(400, "unknown_direction",
                               f"direction {direction!r} is not one of this model's: {available}") from None

    def translate(self, image: np.ndarray, direction: str | None = None) -> np.ndarray:
        """Translate one ``(H, W, C)`` image-space array (float32 in [0, 1]); returns the output array."""
        with self.batcher.expecting():
            return self.batcher.submit(image, self.generator(direction))

    def translate_body(self, body: bytes, content_type: str | None,
                       direction: str | None = None) -> tuple[bytes, str]:
        """Translate a request body (raw PNG/JPEG or multipart); returns the PNG bytes and the generator's name.

        Raises:
            RequestError: a body that is too large, not an image, malformed, too many pixels, a bad direction.
        """
        with self.batcher.expecting():
            return self._translate_body(body, content_type, direction)

    def _translate_body(self, body: bytes, content_type: str | None, direction: str | None) -> tuple[bytes, str]:
        if len(body) > self.limits.max_bytes:
            raise RequestError(413, "body_too_large",
                               f"the body is {len(body)} bytes, more than the {self.limits.max_bytes} accepted")
        upload = read_upload(body, content_type)
        if direction is not None and upload.direction is not None and direction != upload.direction:
            raise RequestError(400, "conflicting_direction",
                               f"the query says direction={direction!r} but the form says {upload.direction!r}")
        generator = self.generator(direction if direction is not None else upload.direction)
        image = decode_image(upload.data, self.limits.max_pixels)
        return encode_png(self.batcher.submit(image, generator)), generator

    # ------------------------------------------------------------------ description

    def describe(self) -> dict[str, Any]:
        """The JSON description of the model: name, domains, directions, input rules, channels, limits."""
        meta = self.pipeline.meta
        pre = meta.preprocessing
        default = meta.generators[meta.default]
        directions = [
            {"generator": name, "direction": g.direction, "input_domain": g.input_domain,
             "output_domain": g.output_domain, "in_channels": g.in_channels, "out_channels": g.out_channels,
             "size_multiple": g.size_multiple, "scale_factor": g.scale_factor,
             "test_mode": g.test_mode, "default": name == meta.default}
            for name, g in ((n, meta.generators[n]) for n in self.pipeline.generators)
        ]
        domains = list(dict.fromkeys(d for g in meta.generators.values() for d in (g.input_domain, g.output_domain)))
        multiple = pre.size_multiple if pre else default.size_multiple
        return {
            "name": self.name,
            "method": meta.method,
            "translate_version": meta.translate_version,
            "data": meta.recipe.data if meta.recipe else None,
            "domains": domains,
            "default_direction": default.direction,
            "directions": directions,
            "input": {
                "formats": ["image/png", "image/jpeg"],
                "max_bytes": self.limits.max_bytes,
                "max_pixels": self.limits.max_pixels,
                "size_multiple": multiple,
                "recommended_size": pre.recommended_size if pre else None,
                "sizes": f"any height and width: images are padded to a multiple of {multiple} and cropped back",
            },
            "output": {"format": "image/png", "bit_depth": 8,
                       "size": "the input's height and width times the generator's scale_factor"},
            "batching": {"max_batch": self.limits.max_batch, "max_wait_ms": self.limits.max_wait_ms,
                         "max_queue": self.limits.max_queue, "deadline_ms": self.limits.deadline_ms},
            "limitations": list(meta.limitations),
        }

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", ...}`` with the queue and what the batch worker has done."""
        s = self.batcher.stats
        return {"status": "ok", "model": self.name, "waiting": self.batcher.waiting,
                "batches": s.batches, "images": s.images, "largest_batch": s.largest}


__all__ = ["ModelService", "model_label"]
