"""Running a trained generator on image files: ``translate infer MODEL INPUT... --out DIR``.

Inputs are plain images (not A|B pairs), given as files or folders (searched recursively).
Each output is written as ``DIR/<path relative to its input folder, same stem>.png``; a file
given directly is written as ``DIR/<stem>.png``. Images whose size is not a multiple of the
network's ``size_multiple`` are padded (reflect, or replicate when the image is smaller than
the padding), translated and cropped back, so every output has its input's size.

Test-time mode: ``eval`` (the usual: dropout off, BatchNorm running statistics, images
batched by padded size) or ``train`` (the pix2pix paper: dropout on, BatchNorm statistics of
the image itself, so each image runs alone; dropout is seeded per image from ``--seed`` and the
image's relative name, which makes outputs reproducible and independent of batch order).

Tests inject plugins into the CLI path by setting ``translate.plugins._CACHE`` (what
:func:`translate.plugins.get_plugins` returns) with ``monkeypatch``; :func:`infer_cli` also
takes an explicit ``registry``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from .errors import DataError, TranslateError
from .imageio import list_images, read_image, save_image
from .modelfile import GeneratorInfo, load_model

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .registry import Registry

MODES = ("model", "eval", "train")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class InputImage:
    """One image to translate: where it is read from and its output path relative to the output folder."""

    source: Path
    relative: Path


@dataclass
class InferenceReport:
    """What a run did: outputs written, inputs that failed (with why), and the time taken."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ms_per_image(self) -> float:
        return 1000.0 * self.seconds / max(1, len(self.written))


def collect_inputs(inputs: Iterable[str | Path]) -> list[InputImage]:
    """Expand files and folders (recursively) into images with their output names.

    Raises:
        DataError: an input does not exist, nothing to translate was found, or two inputs
            would write the same output file.
    """
    items: list[InputImage] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = list_images(path, recursive=True)
            if not found:
                print(f"warning: no images in folder {path}", file=sys.stderr)
            items += [InputImage(p, p.relative_to(path).with_suffix(".png")) for p in found]
        elif path.is_file():
            items.append(InputImage(path, Path(path.stem + ".png")))
        else:
            raise DataError(f"input not found: {path}")
    if not items:
        raise DataError("no images to translate in " + ", ".join(str(i) for i in inputs))
    seen: dict[Path, Path] = {}
    clashes = []
    for item in items:
        if item.relative in seen:
            clashes.append(f"{seen[item.relative]} and {item.source} -> {item.relative}")
        seen[item.relative] = item.source
    if clashes:
        raise DataError("inputs would overwrite each other's output: " + "; ".join(clashes))
    return items


def resolve_device(device: str) -> "torch.device":
    """``auto`` -> ``cuda`` when available, else ``cpu``; anything else is checked."""
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
        module: the generator (e.g. from :meth:`translate.modelfile.LoadedModel.generator`).
        info: its metadata (channels, normalisation, value range, size multiple, test mode).
        device: ``auto``, ``cpu``, ``cuda``, ...
        precision: ``fp32``, ``bf16`` (autocast) or ``fp16`` (autocast, CUDA only).
        mode: ``model`` (the mode recorded in the model file), ``eval`` or ``train``.
        seed: seeds dropout in train mode.
        batch_size: images per forward pass in eval mode (train mode always uses 1).
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
    ) -> None:
        if mode not in MODES:
            raise TranslateError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if precision not in PRECISIONS:
            raise TranslateError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if batch_size < 1:
            raise TranslateError(f"batch size must be at least 1, got {batch_size}")
        self.info = info
        self.meta = info.meta
        if not 1 <= self.meta.in_channels <= 4 or not 1 <= self.meta.out_channels <= 4:
            raise TranslateError(
                f"generator {info.name!r} maps {self.meta.in_channels} to {self.meta.out_channels} channels; "
                "image inference supports 1 to 4 channels"
            )
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise TranslateError("fp16 inference needs a CUDA device; use --precision bf16 or fp32 on the CPU")
        self.precision = precision
        self.mode = self.meta.test_mode if mode == "model" else mode
        self.seed = seed
        self.batch_size = 1 if self.mode == "train" else batch_size
        self.module = module.to(self.device)

    # ------------------------------------------------------------------ arrays

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size an image is padded to: each side rounded up to the network's size multiple."""
        m = self.meta.size_multiple
        return -(-height // m) * m, -(-width // m) * m

    def __call__(self, image: np.ndarray, key: str = "") -> np.ndarray:
        """Translate one image; ``key`` (e.g. its file name) seeds dropout in train mode."""
        return self.translate_batch([image], [key])[0]

    def translate_batch(self, images: list[np.ndarray], keys: list[str] | None = None) -> list[np.ndarray]:
        """Translate images; in eval mode those sharing a padded size run as one batch."""
        import torch

        keys = keys if keys is not None else [""] * len(images)
        out: list[np.ndarray | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault(self.padded_size(*img.shape[:2]), []).append(i)
        with self._test_mode(), torch.no_grad():
            for size, idx in groups.items():
                for start in range(0, len(idx), self.batch_size):
                    chunk = idx[start : start + self.batch_size]
                    results = self._forward([images[i] for i in chunk], size, keys[chunk[0]])
                    for i, res in zip(chunk, results):
                        out[i] = res
        return out  # type: ignore[return-value]

    def _forward(self, images: list[np.ndarray], size: tuple[int, int], key: str) -> list[np.ndarray]:
        import torch

        norm = self.meta.normalization
        batch = torch.stack([self._pad(torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))), size)
                             for im in images]).to(self.device)
        batch = (batch - norm.mean) / norm.std
        with self._seeded(key), self._autocast():
            y = self.module(batch)
        lo, hi = self.meta.value_range
        y = ((y.float() - lo) / (hi - lo)).clamp_(0.0, 1.0).cpu().numpy()
        return [np.ascontiguousarray(y[i, :, : im.shape[0], : im.shape[1]].transpose(1, 2, 0))
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
    def _test_mode(self) -> Iterator[None]:
        """Put the module in eval or train mode; restore its mode and buffers (BatchNorm statistics) after."""
        was_training = self.module.training
        saved = {k: v.detach().clone() for k, v in self.module.named_buffers()}
        self.module.train(self.mode == "train")
        try:
            yield
        finally:
            self.module.train(was_training)
            buffers = dict(self.module.named_buffers())
            for k, v in saved.items():
                buffers[k].copy_(v)

    @contextlib.contextmanager
    def _seeded(self, key: str) -> Iterator[None]:
        import torch

        if self.mode != "train":
            yield
            return
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type=self.device.type):
            torch.manual_seed((self.seed * 1_000_003 + zlib.crc32(key.encode("utf-8"))) % (2**63))
            yield

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    # ------------------------------------------------------------------ files

    def run(self, items: list[InputImage], out_dir: str | Path, *, progress: bool = True) -> InferenceReport:
        """Translate image files into ``out_dir``; unreadable inputs are reported on stderr and skipped."""
        from tqdm import tqdm

        out = Path(out_dir)
        report = InferenceReport()
        start = time.perf_counter()
        pending: dict[tuple[int, int], list[tuple[InputImage, np.ndarray]]] = {}
        limit = max(4 * self.batch_size, 16)  # images held while waiting for a full batch
        with tqdm(total=len(items), unit="img", desc="translate", disable=not progress, file=sys.stderr) as bar:

            def flush(size: tuple[int, int]) -> None:
                group = pending.pop(size)
                results = self.translate_batch([a for _, a in group], [str(i.relative) for i, _ in group])
                for (item, _), result in zip(group, results):
                    try:
                        report.written.append(save_image(result, out / item.relative))
                    except (OSError, ValueError) as err:
                        self._fail(report, bar, item, f"cannot write {out / item.relative}: {err}")
                    bar.update(1)

            for item in items:
                try:
                    image = read_image(item.source, channels=self.meta.in_channels)
                except DataError as err:
                    self._fail(report, bar, item, str(err))
                    bar.update(1)
                    continue
                size = self.padded_size(*image.shape[:2])
                pending.setdefault(size, []).append((item, image))
                if len(pending[size]) >= self.batch_size:
                    flush(size)
                elif sum(len(g) for g in pending.values()) > limit:
                    flush(max(pending, key=lambda s: len(pending[s])))
            for size in list(pending):
                flush(size)
        report.seconds = time.perf_counter() - start
        return report

    @staticmethod
    def _fail(report: InferenceReport, bar: Any, item: InputImage, message: str) -> None:
        report.failed.append((item.source, message))
        bar.write(f"error: skipping {item.source}: {message}", file=sys.stderr)


def infer_cli(args: argparse.Namespace, registry: "Registry | None" = None) -> int:
    """``translate infer``: returns 0, or 1 when some inputs failed (each reported on stderr)."""
    loaded = load_model(args.model, registry=registry)
    module, info = loaded.generator(args.direction)
    items = collect_inputs(args.inputs)
    translator = Translator(
        module,
        info,
        device=args.device,
        precision=args.precision,
        mode=args.mode,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = translator.run(items, out, progress=True)
    n = len(report.written)
    print(
        f"{n} image{'' if n == 1 else 's'} -> {out} ({report.ms_per_image:.1f} ms/image; "
        f"generator {info.name} {info.meta.input_domain}->{info.meta.output_domain}, "
        f"{translator.mode} mode, {translator.device}, {translator.precision})"
    )
    if report.failed:
        print(f"error: {len(report.failed)} of {len(items)} inputs failed (listed above)", file=sys.stderr)
        return 1
    return 0


__all__ = ["InferenceReport", "InputImage", "Translator", "collect_inputs", "infer_cli", "resolve_device"]
