"""``translate eval MODEL_OR_RUN``: evaluate a trained model on a data split and write ``evaluation.json``.

What is evaluated: a run folder (its ``model.safetensors``, or ``model-best.safetensors`` with
``--best``), a model folder or ``.safetensors`` file, or a Hub model ``hf://owner/name[@rev]``
(resolved like ``translate infer`` does). Every generator of the model is evaluated (both
directions of a CycleGAN) unless ``--direction`` picks one.

Which data: ``--data RECIPE.toml`` uses that recipe's ``[data]`` table (validated like any recipe);
``--data FOLDER`` the data set the model was trained with, with the options it was trained with (the
run's recipe, else the name and options the model file records; older files without the options get
the data set's defaults, with a note) pointed at FOLDER through the data set's registered
``folder_option``; without ``--data``, the run's own recipe. ``--set data.options.KEY=VALUE`` changes
a data set option, and every option that then differs from training is printed. Settings not given on
the command line (metrics and their options, split, number of images, batch size, precision) come
from the recipe's ``[eval]`` table;
the default split is ``test`` (``val`` for a data set without one, with a note), the default
metrics of paired data are ``l1, psnr, ssim``. The result is written atomically with
the sha256 of the model file and the fingerprint of the images evaluated, and printed as a table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.contract import data_info
from ..errors import ModelFileError, TranslateError
from ..evaluation.published import check_published_images, compare_published, format_published
from ..evaluation.record import format_table, write_evaluation
from ..evaluation.reference import assign_references
from ..evaluation.runner import GeneratorUnderTest, evaluate_generators
from ..models import MODEL_FILENAME, load_model
from ..models.evaluation import BEST_EVALUATION_FILENAME, EVALUATION_FILENAME, best_model_path
from ..models.weights import statistics_file
from ..recipe import load_recipe
from ..run.layout import RunFolder
from .eval_inputs import PAIRED_DEFAULT_METRICS, EvalData, choose_data, choose_metrics, data_settings

if TYPE_CHECKING:  # pragma: no cover
    from ..plugin.registry import Registry

RECIPE_FILENAME = RunFolder.RECIPE
STATS = "stats"
"""``translate eval stats ...``: the statistics of real images instead of an evaluation (:mod:`.stats`)."""


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``translate eval``."""
    parser.add_argument("model", metavar="MODEL_OR_RUN",
                        help="a run folder, a model folder, a model.safetensors file, or hf://owner/name[@rev]; "
                        "or `stats`: write the statistics of real images (translate eval stats FOLDER --metrics fid "
                        "--out FILE.npz)")
    parser.add_argument("folder", nargs="?", metavar="FOLDER",
                        help="with `stats`: the folder of real images to summarise (or --data RECIPE.toml --split S)")
    parser.add_argument("--data", metavar="RECIPE_OR_FOLDER",
                        help="a recipe .toml whose [data] to use, or a data folder for the data set the model was "
                        "trained with (default: the run's recipe)")
    parser.add_argument("--split", help="the split to evaluate (default: the recipe's [eval].split, else test)")
    parser.add_argument("--metrics", help="comma-separated metric names, e.g. psnr,ssim,fid (default: the "
                        "recipe's [eval].metrics, else l1,psnr,ssim on paired data; see `translate plugins`)")
    parser.add_argument("--set", dest="metric_options", action="append", default=[], metavar="METRIC.KEY=VALUE",
                        help="a metric option, e.g. --set fid.weights=/path/pt_inception.pth, or a data set option, "
                        "e.g. --set data.options.crop_size=256 (what differs from training is printed); value "
                        "parsed as TOML")
    parser.add_argument("--out", metavar="FILE",
                        help="where to write the result (default: evaluation.json next to the model; "
                        "evaluation-best.json with --best)")
    parser.add_argument("--batch-size", type=int, help="images per forward pass (default: [eval].batch_size or 8)")
    parser.add_argument("--num-images", type=int, help="evaluate the first N images of the split (default: all)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], help="forward-pass precision (default: fp32)")
    parser.add_argument("--direction", help="evaluate only this generator (e.g. AtoB); default: all of them")
    parser.add_argument("--best", action="store_true",
                        help="evaluate the run's best checkpoint (model-best.safetensors) instead of its last model")
    parser.add_argument("--seed", type=int, default=0, help="seed for dropout of generators tested in train mode")
    parser.add_argument("--reference", action="append", default=[], metavar="[GENERATOR=]FILE",
                        help="compare with these statistics of real images (an .npz from `translate eval stats` or "
                        "clean-fid: a path, a file name in the weights folders, hf://... or a URL) instead of the "
                        "split's real images, in the metrics that take them (FID, KID); GENERATOR= (a name or "
                        "direction) when several generators are evaluated; repeatable")


@dataclass
class Target:
    """What ``MODEL_OR_RUN`` names: the model to load, its run folder (if any), and the default output."""

    load_from: Path
    run: Path | None
    out: Path | None


def resolve_target(spec: str, *, best: bool = False) -> Target:
    """Resolve ``MODEL_OR_RUN`` (see the module docstring).

    Raises:
        ModelFileError: nothing loadable there (or a bad Hub id).
        TranslateError: ``--best`` on something that is not a run with a best checkpoint.
    """
    from ..models.hub import HUB_PREFIX
    from ..models.source import resolve_source

    path = resolve_source(spec)
    hub = spec.startswith(HUB_PREFIX)
    if not path.exists():
        raise ModelFileError(f"{spec}: no such run folder, model folder or model file")
    run = path if path.is_dir() else path.parent
    run = run if (run / RECIPE_FILENAME).is_file() and not hub else None
    if best:
        model = best_model_path(run if run is not None else path)
        return Target(model, run, model.parent / BEST_EVALUATION_FILENAME)
    if path.is_dir() and RunFolder(path).unfinished():
        raise ModelFileError(f"{path}: run has checkpoints but no {MODEL_FILENAME}; training writes it when it "
                             "ends: finish the run (translate run RECIPE --resume) and evaluate again")
    folder = path if path.is_dir() else path.parent
    return Target(path, run, None if hub else folder / EVALUATION_FILENAME)


def eval_cli(args: argparse.Namespace, registry: "Registry") -> int:
    """``translate eval``: evaluate, write ``evaluation.json`` (atomically), print the table; returns 0."""
    from ..inference.translator import resolve_device
    from ..models.export import training_summary
    from ..models.weights import file_sha256

    if str(args.model) == STATS:
        from .stats import stats_cli

        return stats_cli(args, registry)
    if getattr(args, "folder", None) is not None:
        raise TranslateError(f"translate eval {args.model} {args.folder}: a second folder is only for "
                             f"`translate eval stats FOLDER`")
    target = resolve_target(str(args.model), best=bool(getattr(args, "best", False)))
    out = Path(args.out) if getattr(args, "out", None) else target.out
    if out is None:
        raise TranslateError(f"{args.model}: a Hub model has no folder of its own to write into; "
                             "pass --out FILE (e.g. --out evaluation.json)")
    if out.is_dir():
        raise TranslateError(f"--out {out}: is a folder; give the path of the JSON file to write")
    loaded = load_model(target.load_from, registry=registry)
    run_recipe = load_recipe(target.run / RECIPE_FILENAME, registry=registry)[0] if target.run is not None else None
    data_set, metric_set = data_settings(list(getattr(args, "metric_options", []) or []))
    data = choose_data(getattr(args, "data", None), run_recipe, loaded, getattr(args, "split", None), registry,
                       overrides=data_set)
    spec = data.eval
    specs = choose_metrics(getattr(args, "metrics", None), metric_set, spec, data_info(data.dataset).aligned, registry)
    names = [loaded.generator(args.direction)[1].name] if getattr(args, "direction", None) else loaded.names
    generators = [GeneratorUnderTest(n, loaded.meta.generators[n].direction, loaded.modules[n],
                                     loaded.meta.generators[n].test_mode) for n in names]
    batch_size, num_images = _positive(args, "batch_size"), _positive(args, "num_images")
    published = [p.model_dump() for p in spec.published] if spec is not None else []
    check_published_images(published, len(data.dataset), "eval.published")
    flags = list(getattr(args, "reference", None) or [])
    references = assign_references(flags or (spec.reference if spec else None),
                                   [(g.name, g.direction) for g in generators], statistics_file,
                                   where="--reference" if flags else "eval.reference")
    result = evaluate_generators(
        generators, data.dataset, specs, registry, device=resolve_device(getattr(args, "device", "auto")),
        batch_size=batch_size if batch_size is not None else (spec.batch_size if spec else 8),
        num_images=num_images if num_images is not None else (spec.num_images if spec else None),
        precision=getattr(args, "precision", None) or (spec.precision if spec else "fp32"),
        seed=int(getattr(args, "seed", 0) or 0), where="eval", progress=True, split=data.describe["split"],
        references=references)
    counts = {g["num_images"] for g in result.protocol.get("generators", {}).values()}
    model = {"path": str(loaded.path), "sha256": file_sha256(loaded.path), "source": str(args.model),
             "method": loaded.meta.method, "best": bool(getattr(args, "best", False)),
             "generators": {n: loaded.meta.generators[n].direction for n in names}}
    if model["best"] and target.run is not None:
        step = _best_step(target.run)
    elif target.run is not None:
        step = getattr(training_summary(target.run), "steps", None)
    else:
        step = loaded.meta.training.steps if loaded.meta.training is not None else None
    if step is not None:
        model["step"] = step
    describe = {**data.describe, "fingerprint": result.protocol.get("inputs_sha256"),
                "num_images": min(counts) if counts else None}
    comparisons = compare_published(published, result.values, result.protocol)
    write_evaluation(out, result, model=model, data=describe, published=comparisons)
    print(format_table(result))
    if comparisons:
        print(format_published(comparisons))
    print(f"wrote {out}")
    return 0


def _positive(args: argparse.Namespace, name: str) -> int | None:
    value = getattr(args, name, None)
    if value is not None and value < 1:
        raise TranslateError(f"--{name.replace('_', '-')} {value}: must be at least 1")
    return value


def _best_step(run: Path) -> int | None:
    best = RunFolder(run).best()
    return best["step"] if best is not None else None


__all__ = ["PAIRED_DEFAULT_METRICS", "EvalData", "Target", "add_eval_arguments", "choose_data", "choose_metrics",
           "eval_cli", "resolve_target"]
