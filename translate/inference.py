"""Running a trained generator on image files: ``translate infer MODEL INPUT... --out DIR``.

Inputs are plain images given as files, folders (searched recursively) or glob patterns
(``"photos/*.jpg"``, ``"scans/**/*.png"``; ``**`` matches any depth; quote them so that the shell
does not expand them first). Each output is written as ``DIR/<path relative to its input folder,
or to the folder part of its glob before the first wildcard, same stem>.png``; a file given
directly is written as ``DIR/<stem>.png``. A glob that matches nothing is an error naming it.

Sizes. By default an image whose size is not a multiple of the network's ``size_multiple`` is
padded (reflect, or replicate when the image is smaller than the padding), translated and
cropped back, so every output has its input's size and the network sees the pixels unscaled.
With ``size=(H, W)`` (``--size N`` or ``--size WxH``) the image is instead resized (bicubic,
antialiased; aspect ratio not kept, like the pix2pix test script's ``--load_size``) to that size
for the network and the output is resized back to the original size: use it for a model that
only works at its training resolution, at the price of resampling blur. Images are batched by
the size they run at.

Large images (``tile=N``, ``--tile N --tile-overlap M``): an image larger than one ``N x N``
tile runs as overlapping tiles, at most ``batch_size`` of them per forward pass, so the
network's memory is bounded by the tile size whatever the image size (the image itself and
the output accumulator stay in host memory). Tiles are spread evenly over the image, inside
it, with at least ``M`` pixels of overlap (default ``min(32, N // 4)``); an axis shorter than a
tile gets one tile, padded as above. Each tile's output is weighted by a separable cosine
window that ramps up across the overlap with each neighbour (not at the image border) and
the weighted sum is normalised, so seams are blended smoothly and a pointwise network gives
exactly the untiled result. A network whose receptive field is wider than the overlap (a
U-Net's bottleneck sees its whole input) gives a different result per tile than on the whole
image, as it sees less context: use the largest tile memory allows (or the training crop size,
which reproduces the training conditions). An image that fits in one tile runs untiled
(identical results).
In ``train`` mode each tile is normalised with its own BatchNorm statistics (a different result
from the whole image's statistics; small tiles make it worse) and its dropout is seeded from
the image and the tile's position.

Paired inputs (``pairs=True``, ``--pairs``): each file holds A on the left half and B on the
right (even width, as the paired training data). The half on the generator's input side (A for
``AtoB``, B for ``BtoA``) is translated; the other half is the target, shown in the HTML page.

Comparison page (``html=True``, ``--html``): ``DIR/index.html`` (written atomically) with one row
per input: name | input | output (| target), links relative to ``DIR``, the inputs (as the network
saw them: EXIF-oriented, channel-converted, the input half of a pair) copied as PNG under
``DIR/inputs/`` and targets under ``DIR/targets/``, so the folder is self-contained.

Test-time mode: ``eval`` (the usual: dropout off, BatchNorm running statistics, images
batched by size) or ``train`` (the pix2pix paper: dropout on, BatchNorm statistics of
the image itself, so each image runs alone; dropout is seeded per image from ``--seed`` and the
image's relative name, which makes outputs reproducible and independent of batch order).

Tests inject plugins into the CLI path by setting ``translate.plugins._CACHE`` (what
:func:`translate.plugins.get_plugins` returns) with ``monkeypatch``; :func:`infer_cli` also
takes an explicit ``registry``.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import html as htmllib
import math
import re
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator
from urllib.parse import quote

import numpy as np

from .atomic import write_text_atomic
from .errors import DataError, TranslateError
from .imageio import IMAGE_EXTENSIONS, list_images, read_image, save_image
from .modelfile import GeneratorInfo, load_model

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .registry import Registry

MODES = ("model", "eval", "train")
PRECISIONS = ("fp32", "bf16", "fp16")
HTML_INPUTS = "inputs"
HTML_TARGETS = "targets"
_GLOB_MAGIC = re.compile(r"[*?[]")


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
    html: Path | None = None

    @property
    def ms_per_image(self) -> float:
        return 1000.0 * self.seconds / max(1, len(self.written))


# --------------------------------------------------------------------------- inputs


def collect_inputs(inputs: Iterable[str | Path]) -> list[InputImage]:
    """Expand files, folders (recursively) and glob patterns into images with their output names.

    A path that exists is taken literally (even if its name holds ``*``, ``?`` or ``[``);
    otherwise a string with one of those is a glob (``**`` recursive). Glob matches that are
    folders are searched recursively; matched files without an image extension are skipped,
    as in folders. The same file reached twice under the same output name is kept once.

    Raises:
        DataError: an input does not exist, a glob matches no image, nothing to translate was
            found, or two inputs would write the same output file.
    """
    inputs = list(inputs)
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
        elif _GLOB_MAGIC.search(str(raw)):
            items += _expand_glob(str(raw))
        else:
            raise DataError(f"input not found: {path}")
    if not items:
        raise DataError("no images to translate in " + ", ".join(str(i) for i in inputs))
    unique: list[InputImage] = []
    seen: dict[Path, Path] = {}
    clashes = []
    for item in items:
        if item.relative in seen:
            if _same_file(seen[item.relative], item.source):
                continue
            clashes.append(f"{seen[item.relative]} and {item.source} -> {item.relative}")
        seen[item.relative] = item.source
        unique.append(item)
    if clashes:
        raise DataError("inputs would overwrite each other's output: " + "; ".join(clashes))
    return unique


def _expand_glob(pattern: str) -> list[InputImage]:
    """Images matched by a glob, named relative to the pattern's folder part before the first wildcard."""
    parts = Path(pattern).parts
    fixed = 0
    while fixed < len(parts) and not _GLOB_MAGIC.search(parts[fixed]):
        fixed += 1
    base = Path(*parts[:fixed]) if fixed else Path(".")
    matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True))
    if not matches:
        raise DataError(f"no files match the pattern {pattern!r}")
    items: list[InputImage] = []
    for m in matches:
        if m.is_dir():
            items += [InputImage(p, p.relative_to(base).with_suffix(".png")) for p in list_images(m, recursive=True)]
        elif m.suffix.lower() in IMAGE_EXTENSIONS and m.is_file():
            items.append(InputImage(m, m.relative_to(base).with_suffix(".png")))
    if not items:
        raise DataError(f"the pattern {pattern!r} matches {len(matches)} path(s) but no images "
                        f"({', '.join(IMAGE_EXTENSIONS)})")
    return items


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:  # pragma: no cover
        return False


def parse_size(value: str | int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"256"`` -> ``(256, 256)``; ``"320x240"`` (width x height) -> ``(240, 320)`` as ``(height, width)``.

    An int is a square side; a tuple is taken as ``(height, width)``; ``None`` stays ``None``.

    Raises:
        TranslateError: not ``N`` or ``WxH`` with sides from 1 to 65536.
    """
    if value is None:
        return None
    if isinstance(value, int):
        hw = (value, value)
    elif isinstance(value, tuple):
        hw = (int(value[0]), int(value[1]))
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", str(value))
        if not m:
            raise TranslateError(f"size must be N or WxH (e.g. 256 or 512x256), got {value!r}")
        w = int(m.group(1))
        hw = (int(m.group(2)) if m.group(2) else w, w)
    if not all(1 <= s <= 65536 for s in hw):
        raise TranslateError(f"size sides must be from 1 to 65536, got {value!r}")
    return hw


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


# --------------------------------------------------------------------------- tiles


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``, spread evenly, overlapping by >= ``overlap``.

    A length up to ``tile`` gets one tile at 0 (the caller pads it).
    """
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _ramp(k: int) -> np.ndarray:
    """A rising cosine ramp of ``k`` strictly positive weights; ``ramp + ramp[::-1] == 1``."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)).astype(np.float32)


def tile_windows(starts: list[int], extent: int) -> list[np.ndarray]:
    """One weight vector per tile: 1, ramping over the overlap with each neighbour (not at the borders)."""
    windows = []
    for i, s in enumerate(starts):
        w = np.ones(extent, dtype=np.float32)
        if i > 0:
            k = starts[i - 1] + extent - s
            if k > 0:
                w[:k] *= _ramp(k)
        if i + 1 < len(starts):
            k = s + extent - starts[i + 1]
            if k > 0:
                w[extent - k :] *= _ramp(k)[::-1]
        windows.append(w)
    return windows


# --------------------------------------------------------------------------- translator


class Translator:
    """Runs one generator on images in image space (``(H, W, C)`` float32 in [0, 1]).

    Args:
        module: the generator (e.g. from :meth:`translate.modelfile.LoadedModel.generator`).
        info: its metadata (channels, normalisation, value range, size multiple, test mode).
        device: ``auto``, ``cpu``, ``cuda``, ...
        precision: ``fp32``, ``bf16`` (autocast) or ``fp16`` (autocast, CUDA only).
        mode: ``model`` (the mode recorded in the model file), ``eval`` or ``train``.
        seed: seeds dropout in train mode.
        batch_size: images (or tiles) per forward pass in eval mode (train mode always uses 1).
        size: ``(height, width)`` (or an int, or ``"N"`` / ``"WxH"``) to resize images to for the
            network, the output being resized back; ``None``: pad to the size multiple instead.
        tile: run images larger than ``tile x tile`` as overlapping tiles (a multiple of the
            generator's ``size_multiple``); ``None``: never tile.
        tile_overlap: minimum overlap between neighbouring tiles, in pixels (``0 <= M < tile``);
            ``None``: ``min(32, tile // 4)``.
        channels_last: run the module and its inputs in ``torch.channels_last`` memory format
            (converts ``module`` in place; much faster on CPUs with oneDNN, above all in bf16).
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
    ) -> None:
        import torch

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
        m = self.meta.size_multiple
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
        self.channels_last = channels_last
        self.module = module.to(self.device)
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ arrays

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
        with self._test_mode(), torch.no_grad():
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
        return image if self.size is None else _resize(image, self.size)

    def _from_network(self, result: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return result if self.size is None else _resize(result, (int(shape[0]), int(shape[1])))

    def _tiled(self, image: np.ndarray, key: str) -> np.ndarray:
        """Translate one image in overlapping tiles, blended with cosine windows (see the module doc)."""
        assert self.tile is not None
        height, width = image.shape[:2]
        th, tw = min(height, self.tile), min(width, self.tile)  # the tile's extent in the image
        size = self.padded_size(th, tw)  # th, tw <= tile, a multiple of size_multiple
        ys, xs = tile_starts(height, self.tile, self.tile_overlap), tile_starts(width, self.tile, self.tile_overlap)
        wy, wx = tile_windows(ys, th), tile_windows(xs, tw)
        norm_y, norm_x = np.zeros(height, np.float32), np.zeros(width, np.float32)
        for y, w in zip(ys, wy):
            norm_y[y : y + th] += w
        for x, w in zip(xs, wx):
            norm_x[x : x + tw] += w
        acc = np.zeros((height, width, self.meta.out_channels), np.float32)
        jobs = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start : start + self.batch_size]
            crops = [image[ys[i] : ys[i] + th, xs[j] : xs[j] + tw] for i, j in chunk]
            results = self._forward(crops, size, f"{key}@tile{ys[chunk[0][0]]},{xs[chunk[0][1]]}")
            for (i, j), res in zip(chunk, results):
                acc[ys[i] : ys[i] + th, xs[j] : xs[j] + tw] += res * (wy[i][:, None] * wx[j][None, :])[:, :, None]
        acc /= (norm_y[:, None] * norm_x[None, :])[:, :, None]
        return acc

    def _forward(self, images: list[np.ndarray], size: tuple[int, int], key: str) -> list[np.ndarray]:
        import torch

        norm = self.meta.normalization
        batch = torch.stack([self._pad(torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))), size)
                             for im in images]).to(self.device)
        batch = (batch - norm.mean) / norm.std
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
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

    def run(
        self,
        items: list[InputImage],
        out_dir: str | Path,
        *,
        progress: bool = True,
        pairs: bool = False,
        html: bool = False,
    ) -> InferenceReport:
        """Translate image files into ``out_dir``; unreadable inputs are reported on stderr and skipped.

        Args:
            items: from :func:`collect_inputs`.
            out_dir: the output folder (created).
            progress: show a progress bar on stderr.
            pairs: inputs are A|B pairs; translate the half on the generator's input side.
            html: write ``out_dir/index.html`` comparing inputs, outputs (and targets).

        Raises:
            DataError: with ``html``, an output would overwrite an input or target copy.
        """
        from tqdm import tqdm

        out = Path(out_dir)
        if html:
            _check_html_names(items, pairs)
        report = InferenceReport()
        rows: dict[Path, str] = {}  # relative name -> error message ("" when written)
        start = time.perf_counter()
        pending: dict[Any, list[tuple[InputImage, np.ndarray]]] = {}
        limit = max(4 * self.batch_size, 16)  # images held while waiting for a full batch
        with tqdm(total=len(items), unit="img", desc="translate", disable=not progress, file=sys.stderr) as bar:

            def fail(item: InputImage, message: str) -> None:
                rows[item.relative] = message
                self._fail(report, bar, item, message)

            def flush(group_key: Any) -> None:
                group = pending.pop(group_key)
                results = self.translate_batch([a for _, a in group], [str(i.relative) for i, _ in group])
                for (item, _), result in zip(group, results):
                    try:
                        report.written.append(save_image(result, out / item.relative))
                        rows[item.relative] = ""
                    except (OSError, ValueError) as err:
                        fail(item, f"cannot write {out / item.relative}: {err}")
                    bar.update(1)

            for item in items:
                try:
                    image, target = self._read(item, pairs)
                    if html:
                        save_image(image, out / HTML_INPUTS / item.relative)
                        if target is not None:
                            save_image(target, out / HTML_TARGETS / item.relative)
                except DataError as err:
                    fail(item, str(err))
                    bar.update(1)
                    continue
                except (OSError, ValueError) as err:
                    fail(item, f"cannot write the comparison copies: {err}")
                    bar.update(1)
                    continue
                size = self.network_size(*image.shape[:2])
                group_key: Any = size if size is not None else ("tiled", item)
                pending.setdefault(group_key, []).append((item, image))
                if len(pending[group_key]) >= self.batch_size or size is None:
                    flush(group_key)
                elif sum(len(g) for g in pending.values()) > limit:
                    flush(max(pending, key=lambda s: len(pending[s])))
            for group_key in list(pending):
                flush(group_key)
        report.seconds = time.perf_counter() - start
        if html:
            report.html = write_html(out, items, rows, pairs=pairs, title=self._title())
        return report

    def _read(self, item: InputImage, pairs: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The image to translate and, for a pair, the target half (both channel-converted)."""
        from .imageio import convert_channels

        if not pairs:
            return read_image(item.source, channels=self.meta.in_channels), None
        both = read_image(item.source)
        width = both.shape[1]
        if width < 2 or width % 2:
            raise DataError(f"{item.source}: width {width} cannot be split into A|B halves; a paired file "
                            "holds A on the left and B on the right, so its width must be even")
        a, b = both[:, : width // 2], both[:, width // 2 :]
        src, dst = (b, a) if self.meta.direction == "BtoA" else (a, b)
        return convert_channels(src, self.meta.in_channels), convert_channels(dst, self.meta.out_channels)

    def _title(self) -> str:
        g = self.meta
        return f"{self.info.name}: {g.input_domain} -> {g.output_domain}"

    @staticmethod
    def _fail(report: InferenceReport, bar: Any, item: InputImage, message: str) -> None:
        report.failed.append((item.source, message))
        bar.write(f"error: skipping {item.source}: {message}", file=sys.stderr)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``(H, W, C)`` image-space array to ``(height, width)``: bicubic, antialiased, clipped to [0, 1]."""
    import torch
    import torch.nn.functional as F

    if tuple(image.shape[:2]) == tuple(size):
        return image
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    y = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)
    return np.ascontiguousarray(y[0].clamp_(0.0, 1.0).numpy().transpose(1, 2, 0))


# --------------------------------------------------------------------------- HTML


def _check_html_names(items: list[InputImage], pairs: bool) -> None:
    outputs = {item.relative for item in items}
    copies = {Path(HTML_INPUTS) / item.relative for item in items}
    if pairs:
        copies |= {Path(HTML_TARGETS) / item.relative for item in items}
    clash = sorted(outputs & copies)
    if clash:
        raise DataError(
            f"--html copies inputs to {HTML_INPUTS}/ (and targets to {HTML_TARGETS}/) in the output folder, "
            f"but these outputs would take the same names: {', '.join(p.as_posix() for p in clash[:5])}; "
            "rename the input subfolder or run without --html"
        )


def _href(*parts: str | Path) -> str:
    return htmllib.escape(quote("/".join(Path(p).as_posix() for p in parts)), quote=True)


def write_html(
    out_dir: str | Path, items: list[InputImage], rows: dict[Path, str], *, pairs: bool = False, title: str = ""
) -> Path:
    """Write ``out_dir/index.html`` atomically: name | input | output (| target), one row per item.

    Args:
        rows: relative output name -> ``""`` when written, else the error message.
    """
    out = Path(out_dir)
    heads = ["name", "input", "output"] + (["target"] if pairs else [])
    esc = htmllib.escape
    body = []
    for item in items:
        rel = item.relative
        error = rows.get(rel)
        name = esc(rel.with_suffix("").as_posix())
        source = esc(str(item.source))
        cells = [f'<td class="name" title="{source}">{name}</td>']
        if error:
            cells.append(f'<td class="error" colspan="{len(heads) - 1}">failed: {esc(error)}</td>')
        else:
            for folder in [HTML_INPUTS, "", HTML_TARGETS][: len(heads) - 1]:
                link = _href(folder, rel) if folder else _href(rel)
                cells.append(f'<td><a href="{link}"><img src="{link}" alt="{name}" loading="lazy"></a></td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    failed = sum(1 for m in rows.values() if m)
    page = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(title or 'translate infer')}</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
        "img{max-width:320px;max-height:320px;image-rendering:pixelated}.error{color:#b00}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title or 'translate infer')}</h1>",
        f"<p>{len(items) - failed} translated, {failed} failed.</p>",
        "<table>",
        "<tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>",
        *body,
        "</table>",
        "</body>",
        "</html>",
        "",
    ])
    path = out / "index.html"
    write_text_atomic(path, page)
    return path


# --------------------------------------------------------------------------- CLI


def infer_cli(args: argparse.Namespace, registry: "Registry | None" = None) -> int:
    """``translate infer``: returns 0, or 1 when some inputs failed (each reported on stderr).

    Options added after the first release are read with defaults (``getattr``), so a namespace
    without them (an older parser) still works.
    """
    from .pipeline import resolve_source  # hf:// ids are downloaded through the Hub cache

    loaded = load_model(resolve_source(args.model), registry=registry)
    module, info = loaded.generator(getattr(args, "direction", None))
    items = collect_inputs(args.inputs)
    pairs = bool(getattr(args, "pairs", False))
    html = bool(getattr(args, "html", False))
    translator = Translator(
        module,
        info,
        device=getattr(args, "device", "auto"),
        precision=getattr(args, "precision", "fp32"),
        mode=getattr(args, "mode", "model"),
        seed=getattr(args, "seed", 0),
        batch_size=getattr(args, "batch_size", 4),
        size=getattr(args, "size", None),
        tile=getattr(args, "tile", None),
        tile_overlap=getattr(args, "tile_overlap", None),
        channels_last=bool(getattr(args, "channels_last", False)),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = translator.run(items, out, progress=True, pairs=pairs, html=html)
    n = len(report.written)
    extras = []
    if translator.size is not None:
        extras.append(f"resized to {translator.size[1]}x{translator.size[0]}")
    if translator.tile is not None:
        extras.append(f"tiles {translator.tile} overlap {translator.tile_overlap}")
    if translator.channels_last:
        extras.append("channels_last")
    print(
        f"{n} image{'' if n == 1 else 's'} -> {out} ({report.ms_per_image:.1f} ms/image; "
        f"generator {info.name} {info.meta.input_domain}->{info.meta.output_domain}, "
        f"{translator.mode} mode, {translator.device}, {translator.precision}"
        + "".join(f", {e}" for e in extras) + ")"
    )
    if report.html is not None:
        print(f"comparison page: {report.html}")
    if report.failed:
        print(f"error: {len(report.failed)} of {len(items)} inputs failed (listed above)", file=sys.stderr)
        return 1
    return 0


__all__ = [
    "InferenceReport",
    "InputImage",
    "Translator",
    "collect_inputs",
    "infer_cli",
    "parse_size",
    "resolve_device",
    "tile_starts",
    "tile_windows",
    "write_html",
]
