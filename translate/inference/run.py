"""A run over image files: read each input, batch by network size, write the outputs (and the comparison page).

An unreadable input (or one whose output cannot be written) is reported on stderr, recorded in
the :class:`InferenceReport` and skipped; the others still run. At most
``max(4 * batch_size, 16)`` images are held while waiting for a full batch.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.imageio import save_image
from ..errors import DataError
from .comparison import HTML_INPUTS, HTML_TARGETS, check_html_names, write_html
from .inputs import InputImage, read_input
from .outputs import output_items
from .translator import Translator


@dataclass
class InferenceReport:
    """What a run did: outputs written, inputs that failed (with why), and the time taken."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0
    html: Path | None = None

    @property
    def ms_per_image(self) -> float:
        """Milliseconds per written image (the whole run's time, reading and writing included)."""
        return 1000.0 * self.seconds / max(1, len(self.written))


def translate_files(
    translator: Translator,
    items: list[InputImage],
    out_dir: str | Path,
    *,
    progress: bool = True,
    pairs: bool = False,
    html: bool = False,
) -> InferenceReport:
    """Translate image files into ``out_dir``; unreadable inputs are reported on stderr and skipped.

    Args:
        translator: the generator to run.
        items: from :func:`translate.inference.collect_inputs`.
        out_dir: the output folder (created).
        progress: show a progress bar on stderr.
        pairs: inputs are A|B pairs; translate the half on the generator's input side.
        html: write ``out_dir/index.html`` comparing inputs, outputs (and targets).

    Outputs are written at the model's bit depth, as PNG or (more than 4 channels) TIFF (:func:`output_items`).

    Raises:
        DataError: with ``html``, an output would overwrite an input or target copy, or the images have more
            than 4 channels.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    items = output_items(items, translator.meta, html=html)
    if html:
        check_html_names(items, pairs)
    report = InferenceReport()
    rows: dict[Path, str] = {}  # relative name -> error message ("" when written)
    start = time.perf_counter()
    pending: dict[Any, list[tuple[InputImage, np.ndarray]]] = {}
    limit = max(4 * translator.batch_size, 16)  # images held while waiting for a full batch
    with tqdm(total=len(items), unit="img", desc="translate", disable=not progress, file=sys.stderr) as bar:

        def fail(item: InputImage, message: str) -> None:
            rows[item.relative] = message
            report.failed.append((item.source, message))
            named = message if str(item.source) in message else f"{item.source}: {message}"
            bar.write(f"error: {named} (skipped)", file=sys.stderr)

        def flush(group_key: Any) -> None:
            group = pending.pop(group_key)
            results = translator.translate_batch([a for _, a in group], [str(i.relative) for i, _ in group])
            for (item, _), result in zip(group, results):
                try:
                    report.written.append(save_image(result, out / item.relative, bit_depth=translator.meta.bit_depth))
                    rows[item.relative] = ""
                except (OSError, ValueError) as err:
                    fail(item, f"cannot write {out / item.relative}: {err}")
                bar.update(1)

        for item in items:
            try:
                image, target = read_input(item, translator.meta, pairs=pairs)
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
            size = translator.network_size(*image.shape[:2])
            group_key: Any = size if size is not None else ("tiled", item)
            pending.setdefault(group_key, []).append((item, image))
            if len(pending[group_key]) >= translator.batch_size or size is None:
                flush(group_key)
            elif sum(len(g) for g in pending.values()) > limit:
                flush(max(pending, key=lambda s: len(pending[s])))
        for group_key in list(pending):
            flush(group_key)
    report.seconds = time.perf_counter() - start
    if html:
        report.html = write_html(out, items, rows, pairs=pairs, title=translator.title)
    return report


__all__ = ["InferenceReport", "translate_files"]
