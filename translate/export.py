"""Shareable model folders: ``translate export RUN [--out DIR]`` and ``Pipeline.save_pretrained``.

A model folder holds three files, written into a temporary sibling folder and renamed into
place in one step (a reader never sees half a folder):

- ``model.safetensors``: the generators' weights (``<export>.<param>``) and the metadata JSON
  described by :class:`translate.modelfile.ModelMeta`;
- ``config.json``: ``{"format_version": "1", ...}`` with the same metadata, pretty-printed
  (component names and options, plugin distribution and version, channels, value range and
  normalisation, direction, test-time mode, preprocessing, recipe and training summaries);
- ``README.md``: a model card generated from that metadata (:func:`model_card`).

Exporting a run reads ``RUN/model.safetensors`` (fully validated by rebuilding every
generator), ``RUN/recipe.json`` (recommended input size when the model file predates it),
the latest checkpoint's ``manifest.json`` and the last record of ``RUN/metrics.jsonl``
(steps trained, last losses), and ``RUN/evaluation.json`` when present (a flat JSON object
of metric name to number, shown as the card's evaluation table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import umask, write_text_atomic
from .errors import TranslateError
from .modelfile import (
    CONFIG_FILENAME,
    MODEL_FILENAME,
    LoadedModel,
    ModelMeta,
    TrainingSummary,
    _summarize,
    config_json,
    load_model,
    preprocessing_for,
    read_config,
    read_tensors,
    write_model_file,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .registry import Registry

README_FILENAME = "README.md"
EVALUATION_FILENAME = "evaluation.json"
_MAX_RUN_JSON = 16 * 1024 * 1024
_METRIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
_NOT_LOSSES = {"step", "time", "epoch", "images_per_s"}


# --------------------------------------------------------------------------- writing a folder


def save_folder(
    out_dir: str | os.PathLike[str],
    meta: ModelMeta,
    tensors: dict[str, "torch.Tensor"],
) -> Path:
    """Write ``model.safetensors``, ``config.json`` and ``README.md`` into ``out_dir`` atomically.

    Raises:
        TranslateError: ``out_dir`` exists and is not an empty folder (nothing is written).
    """
    out = Path(out_dir)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_model_file(tmp / MODEL_FILENAME, tensors, meta)
        write_text_atomic(tmp / CONFIG_FILENAME, config_json(meta))
        write_text_atomic(tmp / README_FILENAME, model_card(meta, source=out.name))
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; a shared folder gets the usual mode
        _check_target(out)
        try:
            os.replace(tmp, out)  # POSIX: atomically replaces an empty folder
        except OSError:
            if not out.is_dir() or any(out.iterdir()):
                raise
            out.rmdir()
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def save_loaded(loaded: LoadedModel, out_dir: str | os.PathLike[str]) -> Path:
    """Write a loaded model (its current weights and metadata) as a model folder."""
    return save_folder(out_dir, loaded.meta, loaded.tensors())


def _check_target(out: Path) -> None:
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise TranslateError(f"cannot export to {out}: it exists and is not a folder (nothing was written)")
        if any(out.iterdir()):
            raise TranslateError(
                f"cannot export to {out}: the folder exists and is not empty; remove it or choose another "
                "--out (nothing was written)"
            )


# --------------------------------------------------------------------------- exporting a run


def default_out(source: str | os.PathLike[str]) -> Path:
    """``RUN/export`` for a folder, ``<file's folder>/export`` for a model file."""
    p = Path(source)
    return (p if p.is_dir() else p.parent) / "export"


def export_run(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    registry: "Registry | None" = None,
) -> Path:
    """Export a training run (or any loadable model) as a shareable model folder.

    Args:
        run_dir: a run folder holding ``model.safetensors`` (a model folder or file works too).
        out_dir: the folder to create; default ``RUN/export``. It must not exist or be empty.
        registry: the component registry used to validate the model (default: installed plugins).

    Returns:
        The folder written.

    Raises:
        ModelFileError: the run's model file is missing, malformed or cannot be rebuilt.
        TranslateError: ``out_dir`` exists and is not empty.
    """
    source = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else default_out(source)
    _check_target(out)
    if source.is_dir() and not (source / MODEL_FILENAME).is_file() and (source / "checkpoints").is_dir():
        raise TranslateError(
            f"{source}: run has checkpoints but no {MODEL_FILENAME}; training writes it when it ends: "
            "finish the run (translate run RECIPE --resume) and export again"
        )
    loaded = load_model(source, registry=registry)  # validates metadata, plugins, names, shapes, dtypes
    tensors = read_tensors(loaded.path)  # the very tensors of the run's file
    meta = loaded.meta
    folder = source if source.is_dir() else source.parent
    recipe = _read_json(folder / "recipe.json") if source.is_dir() else None
    updates: dict[str, Any] = {}
    if isinstance(recipe, dict):  # the run's resolved recipe: refresh what is derived from it
        updates["preprocessing"] = preprocessing_for(meta.generators, recipe)
        updates["recipe"] = _summarize(recipe)
    elif meta.preprocessing is None:
        updates["preprocessing"] = preprocessing_for(meta.generators, None)
    training = training_summary(folder) if source.is_dir() else None
    if training is not None:
        updates["training"] = training
    if updates:
        meta = ModelMeta.model_validate_json(meta.model_copy(update=updates).model_dump_json())
    return save_folder(out, meta, tensors)


def training_summary(run_dir: Path) -> TrainingSummary | None:
    """Steps, epoch and last losses of a run (checkpoint manifest, metrics log, evaluation file)."""
    from .engine.checkpoint import latest_checkpoint

    steps = epoch = None
    losses: dict[str, float] = {}
    record = _last_metrics_record(run_dir / "metrics.jsonl")
    if record is not None:
        steps, epoch = _count(record.get("step")), _count(record.get("epoch"))
        losses = {k: float(v) for k, v in record.items()
                  if k not in _NOT_LOSSES and not k.startswith("lr_") and _finite(v) and _METRIC.match(k)}
    ckpt = latest_checkpoint(run_dir) if (run_dir / "checkpoints").is_dir() else None
    manifest = _read_json(ckpt / "manifest.json") if ckpt is not None else None
    progress = manifest.get("progress") if isinstance(manifest, dict) else None
    if isinstance(progress, dict) and _count(progress.get("step")) is not None:
        if steps is None or progress["step"] >= steps:
            steps, epoch = progress["step"], _count(progress.get("epoch"))
    evaluation = _read_json(run_dir / EVALUATION_FILENAME)
    metrics = {k: float(v) for k, v in evaluation.items() if _finite(v) and _METRIC.match(k)} \
        if isinstance(evaluation, dict) else {}
    if steps is None and not losses and not metrics:
        return None
    return TrainingSummary(steps=steps, epoch=epoch, losses=dict(list(losses.items())[:64]),
                           evaluation=dict(list(metrics.items())[:64]))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_json(path: Path) -> Any:
    """A run's own JSON file, or None when it is missing, too large or unreadable."""
    try:
        if not path.is_file() or path.stat().st_size > _MAX_RUN_JSON:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None


def _last_metrics_record(path: Path, tail: int = 65536) -> dict[str, Any] | None:
    """The last complete JSON line of a metrics log (reads only the end of the file)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - tail))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            return record
    return None


# --------------------------------------------------------------------------- model card


def model_card(meta: ModelMeta, *, source: str = "MODEL_DIR") -> str:
    """A Markdown model card for ``meta``; ``source`` is what users pass to load it (folder or ``hf://`` id)."""
    r = meta.recipe
    t = meta.training
    pre = meta.preprocessing
    default = meta.generators[meta.default]
    data = r.data if r and r.data else "unknown"
    data_label = f"`{_md(data)}`"
    if r and r.data_folder and r.data_folder != data:
        data_label += f" (folder `{_md(r.data_folder)}`)"
    tags = sorted({"translate", "image-to-image", meta.method})
    lines = [
        "---",
        "library_name: translate",
        "pipeline_tag: image-to-image",
        "tags:",
        *[f"- {tag}" for tag in tags],
        "---",
        "",
        f"# {_md(meta.method)}: {_md(default.input_domain)} -> {_md(default.output_domain)} ({_md(data)})",
        "",
        f"A {_md(meta.method)} model trained with [translate](https://pypi.org/project/translate-i2i/) "
        f"{_md(meta.translate_version)} on the {data_label} data set. "
        f"By default it translates {_md(default.input_domain)} images into {_md(default.output_domain)} images.",
        "",
        "## Generators",
        "",
        "| name | direction | input -> output | channels | network | plugin | test-time mode | size multiple |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, g in meta.generators.items():
        mark = " (default)" if name == meta.default else ""
        lines.append(
            f"| {_md(name)}{mark} | {_md(g.direction)} | {_md(g.input_domain)} -> {_md(g.output_domain)} | "
            f"{g.in_channels} -> {g.out_channels} | `{g.component}` | {_md(g.plugin.distribution)} "
            f"{_md(g.plugin.version)} | {g.test_mode} | {g.size_multiple} |"
        )
    norm = default.normalization
    lines += [
        "",
        f"Inputs: pixels in [0, 1] are normalised as (x - {norm.mean}) / {norm.std}; outputs lie in "
        f"[{default.value_range[0]}, {default.value_range[1]}]. Any size works: images are padded to a multiple "
        f"of {pre.size_multiple if pre else default.size_multiple} and cropped back.",
    ]
    if pre and pre.recommended_size:
        lines.append(f"It was trained on {pre.recommended_size}x{pre.recommended_size} crops; inputs of about "
                     "that scale work best.")
    lines += ["", "## Training", ""]
    rows = [("method", f"`{_md(meta.method)}`"), ("data set", data_label)]
    if r:
        rows += [("seed", r.seed), ("planned length", f"{r.epochs} epochs" if r.epochs else
                                    (f"{r.steps} steps" if r.steps else None)), ("batch size", r.batch_size)]
    if t:
        rows += [("steps trained", t.steps), ("last epoch", t.epoch)]
    lines += [f"- {k}: {v}" for k, v in rows if v is not None]
    if t and t.losses:
        lines += ["", "Last logged losses:", "", "| loss | value |", "|---|---|"]
        lines += [f"| {_md(k)} | {v:.4g} |" for k, v in t.losses.items()]
    lines += ["", "## Evaluation", ""]
    if t and t.evaluation:
        lines += ["| metric | value |", "|---|---|", *[f"| {_md(k)} | {v:.4g} |" for k, v in t.evaluation.items()]]
    else:
        lines.append("Not evaluated: no held-out metrics were computed for this model. Look at its outputs "
                     "on your own images before relying on it.")
    lines += _usage(meta, source) + _limits(meta)
    return "\n".join(lines) + "\n"


def _usage(meta: ModelMeta, source: str) -> list[str]:
    plugins = sorted({g.plugin.distribution for g in meta.generators.values()
                      if g.plugin.distribution not in ("translate-i2i", "(in-process)")})
    other = next((n for n in meta.generators if n != meta.default), None)
    lines = [
        "",
        "## How to use",
        "",
        "```bash",
        "pip install translate-i2i" + "".join(f" {p}" for p in plugins),
        f"translate infer {source} INPUT --out OUT",
    ]
    if other:
        lines.append(f"translate infer {source} INPUT --out OUT --direction {meta.generators[other].direction}")
    lines += [
        "```",
        "",
        "INPUT is an image file or a folder of images; outputs are written as PNG files to OUT with the "
        "inputs' sizes.",
        "",
        "```python",
        "import translate",
        f'pipe = translate.load("{source}")',
        'pipe("input.png").save("output.png")  # also PIL images, NumPy arrays and tensors',
        "```",
    ]
    return lines


def _limits(meta: ModelMeta) -> list[str]:
    r, t = meta.recipe, meta.training
    items = []
    data = (r.data or "") if r else ""
    if data.startswith("synthetic"):
        items.append(f"It was trained on synthetic data (`{_md(data)}`): a demonstration and test model, "
                     "not meant for real images.")
    else:
        items.append("It works on images like its training data; other content, styles, sizes or capture "
                     "conditions give unreliable results.")
    if t and t.steps is not None and t.steps < 1000:
        items.append(f"It was trained for only {t.steps} steps: outputs show what the pipeline does, not what "
                     "the method can do.")
    items.extend(meta.limitations)  # what the training method says about itself
    items.append("Outputs are synthetic images; do not present them as real photographs, and check the "
                 "training data's licence before commercial use.")
    return ["", "## Intended use and limits", "", *[f"- {item}" for item in items]]


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or paragraph."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


# --------------------------------------------------------------------------- CLI


def export_cli(args: argparse.Namespace, registry: "Registry | None" = None) -> int:
    """``translate export RUN [--out DIR]``: write the folder and print what it holds."""
    out = export_run(args.run, args.out, registry=registry)
    meta = read_config(out / CONFIG_FILENAME)
    names = ", ".join(f"{n} ({g.input_domain}->{g.output_domain})" for n, g in meta.generators.items())
    print(f"exported {args.run} -> {out}: {MODEL_FILENAME}, {CONFIG_FILENAME}, {README_FILENAME} "
          f"({meta.method}; generators {names})")
    if getattr(args, "onnx", False):
        from .onnx_export import export_onnx

        export_onnx(out)
    print(f"run it: translate infer {out} INPUT --out OUT")
    return 0


__all__ = ["default_out", "export_cli", "export_run", "model_card", "save_folder", "save_loaded",
           "training_summary"]
