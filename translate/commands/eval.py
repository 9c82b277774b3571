"""``translate eval MODEL_OR_RUN``: evaluate a trained model on a data split and write ``evaluation.json``.

What is evaluated: a run folder (its ``model.safetensors``, or ``model-best.safetensors`` with
``--best``), a model folder or ``.safetensors`` file, or a Hub model ``hf://owner/name[@rev]``
(resolved like ``translate infer`` does). Every generator of the model is evaluated (both
directions of a CycleGAN) unless ``--direction`` picks one.

Which data: ``--data RECIPE.toml`` uses that recipe's ``[data]`` table (validated like any recipe);
``--data FOLDER`` the data set the model was trained with (the run's recipe, else the model's
recorded data set name) pointed at FOLDER through the data set's registered ``folder_option``;
without ``--data``, the run's own recipe. Settings not given on the command line (metrics and their
options, split, number of images, batch size, precision) come from the recipe's ``[eval]`` table;
the default split is ``test`` (``val`` for a data set without one, with a note), the default
metrics of paired data are ``l1, psnr, ssim``. The result is written atomically with
the sha256 of the model file and the fingerprint of the images evaluated, and printed as a table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.contract import data_info, guard_bad_files
from ..errors import DataError, ModelFileError, OptionsInvalid, RecipeError, TranslateError, UnknownComponent
from ..evaluation.record import format_table, write_evaluation
from ..evaluation.runner import EvaluationError, GeneratorUnderTest, MetricSpec, evaluate_generators
from ..models import MODEL_FILENAME, LoadedModel, load_model
from ..models.evaluation import BEST_EVALUATION_FILENAME, EVALUATION_FILENAME, best_model_path
from ..recipe import EvalSpec, Recipe, load_recipe, parse_override
from ..run.layout import RunFolder

if TYPE_CHECKING:  # pragma: no cover
    from ..plugin.registry import Registry

PAIRED_DEFAULT_METRICS = ("l1", "psnr", "ssim")
"""The metrics of ``translate eval`` on paired (aligned) data when neither ``--metrics`` nor a recipe names any."""
FALLBACK_SPLIT = "val"
"""The split evaluated when none was asked for and the data set has no ``test`` split."""
RECIPE_FILENAME = RunFolder.RECIPE


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``translate eval``."""
    parser.add_argument("model", metavar="MODEL_OR_RUN",
                        help="a run folder, a model folder, a model.safetensors file, or hf://owner/name[@rev]")
    parser.add_argument("--data", metavar="RECIPE_OR_FOLDER",
                        help="a recipe .toml whose [data] to use, or a data folder for the data set the model was "
                        "trained with (default: the run's recipe)")
    parser.add_argument("--split", help="the split to evaluate (default: the recipe's [eval].split, else test)")
    parser.add_argument("--metrics", help="comma-separated metric names, e.g. psnr,ssim,fid (default: the "
                        "recipe's [eval].metrics, else l1,psnr,ssim on paired data; see `translate plugins`)")
    parser.add_argument("--set", dest="metric_options", action="append", default=[], metavar="METRIC.KEY=VALUE",
                        help="a metric option, e.g. --set fid.weights=/path/pt_inception.pth (value parsed as TOML)")
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


@dataclass
class EvalData:
    """The data set to evaluate on, how it was chosen, and the recipe ``[eval]`` table that goes with it."""

    dataset: Any
    describe: dict[str, Any]
    eval: EvalSpec | None


def choose_data(data: str | None, run_recipe: Recipe | None, loaded: LoadedModel, split_flag: str | None,
                registry: "Registry") -> EvalData:
    """The data set of ``--data`` (a recipe or a folder) or of the run's recipe, for the split to evaluate."""
    recipe_eval = run_recipe.eval if run_recipe is not None else None
    on_bad_file = run_recipe.data.on_bad_file if run_recipe is not None else "stop"
    source = "the run's recipe"
    if data is not None and (data.endswith(".toml") or Path(data).is_file()):
        other, _ = load_recipe(data, registry=registry)
        name, options, on_bad_file = other.data.name, dict(other.data.options), other.data.on_bad_file
        recipe_eval, source = other.eval or recipe_eval, f"recipe {data}"
    elif data is not None:
        if not Path(data).is_dir():
            raise DataError(f"--data {data}: no such recipe file or data folder")
        if run_recipe is not None:
            name, options = run_recipe.data.name, dict(run_recipe.data.options)
        elif loaded.meta.recipe is not None and loaded.meta.recipe.data:
            name, options = loaded.meta.recipe.data, {}
        else:
            raise DataError(f"--data {data}: the model does not record which data set it was trained with; pass a "
                            "recipe instead (--data RECIPE.toml) whose [data] table names the data set")
        comp = _get(registry, "dataset", name, "--data")
        if comp.folder_option is None:
            raise DataError(f"--data {data}: data set {name!r} (plugin {comp.plugin.name!r}) does not say which option "
                            "names its folder; pass a recipe instead (--data RECIPE.toml)")
        options[comp.folder_option] = data
        source = f"folder {data} (option {comp.folder_option} of {name})"
    elif run_recipe is not None:
        name, options = run_recipe.data.name, dict(run_recipe.data.options)
    else:
        raise DataError(f"{loaded.path}: not a run folder, so there is no recipe to take the data from; pass "
                        "--data RECIPE.toml (a recipe whose [data] to use) or --data FOLDER (the data set the "
                        "model was trained with, in that folder)")
    split = split_flag or (recipe_eval.split if recipe_eval is not None else "test")
    comp = _get(registry, "dataset", name, "--data")
    try:
        parsed = comp.parse_options(options, "data.options")
    except OptionsInvalid as err:
        raise RecipeError(f"--data ({source})", err.lines) from None
    try:
        built = comp.build(parsed, split=split)
    except DataError as err:
        if split_flag or recipe_eval is not None:
            raise DataError(f"{err} (split {split!r}: choose another with --split)") from None
        split = FALLBACK_SPLIT  # no split asked for: a data set without a test split is evaluated on val
        try:
            built = comp.build(parsed, split=split)
        except DataError:
            raise DataError(f"{err} (no {split!r} split either: choose one with --split)") from None
        print(f"note: data set {name!r} has no 'test' split ({err}); evaluating its {split!r} split "
              "(choose with --split)", file=sys.stderr)
    dataset = guard_bad_files(built, on_bad_file)
    folder = getattr(parsed, comp.folder_option) if comp.folder_option else None
    describe = {"name": name, "split": split, "folder": None if folder is None else str(folder),
                "source": source, "options": parsed.model_dump(mode="json"), "size": len(dataset)}
    return EvalData(dataset, describe, recipe_eval)


def choose_metrics(flag: str | None, settings: list[str], recipe_eval: EvalSpec | None, aligned: bool,
                   registry: "Registry") -> list[MetricSpec]:
    """The metrics of ``--metrics`` (else ``[eval].metrics``, else the paired default), options validated."""
    if flag is not None:
        names, where = [n.strip() for n in flag.split(",") if n.strip()], "--metrics"
        if not names:
            raise EvaluationError(f"--metrics {flag!r}: name at least one metric (e.g. --metrics psnr,ssim)")
    elif recipe_eval is not None:
        names, where = list(recipe_eval.metrics), "[eval].metrics of the recipe"
    elif aligned:
        names, where = list(PAIRED_DEFAULT_METRICS), "--metrics (default for paired data: l1,psnr,ssim)"
    else:
        raise EvaluationError("the data set is unpaired and no metrics were named: pass --metrics (e.g. --metrics "
                              "fid,kid; FID and KID need Inception weights, see docs/metrics.md)")
    options = {n: dict(recipe_eval.options.get(n, {})) if recipe_eval is not None else {} for n in names}
    for text in settings:
        parts, value = parse_override(text)
        if len(parts) < 2 or parts[0] not in options:
            raise EvaluationError(f"--set {text}: expected METRIC.KEY=VALUE with METRIC one of the metrics evaluated "
                                  f"({', '.join(names)})")
        node = options[parts[0]]
        for part in parts[1:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise EvaluationError(f"--set {text}: {part} is a value, not a table")
        node[parts[-1]] = value
    specs = []
    for name in dict.fromkeys(names):
        comp = _get(registry, "metric", name, where)
        try:
            parsed = comp.parse_options(options[name], f"--set {name}")
        except OptionsInvalid as err:
            raise EvaluationError("invalid metric options: " + "; ".join(err.lines)) from None
        specs.append(MetricSpec(name, parsed.model_dump(mode="json")))
    return specs


def _get(registry: "Registry", kind: str, name: str, where: str) -> Any:
    try:
        return registry.get(kind, name)
    except UnknownComponent as err:
        raise EvaluationError(f"{where}: {err}") from None


def eval_cli(args: argparse.Namespace, registry: "Registry") -> int:
    """``translate eval``: evaluate, write ``evaluation.json`` (atomically), print the table; returns 0."""
    from ..inference.translator import resolve_device
    from ..models.export import training_summary
    from ..models.weights import file_sha256

    target = resolve_target(str(args.model), best=bool(getattr(args, "best", False)))
    out = Path(args.out) if getattr(args, "out", None) else target.out
    if out is None:
        raise TranslateError(f"{args.model}: a Hub model has no folder of its own to write into; "
                             "pass --out FILE (e.g. --out evaluation.json)")
    if out.is_dir():
        raise TranslateError(f"--out {out}: is a folder; give the path of the JSON file to write")
    loaded = load_model(target.load_from, registry=registry)
    run_recipe = load_recipe(target.run / RECIPE_FILENAME, registry=registry)[0] if target.run is not None else None
    data = choose_data(getattr(args, "data", None), run_recipe, loaded, getattr(args, "split", None), registry)
    spec = data.eval
    specs = choose_metrics(getattr(args, "metrics", None), list(getattr(args, "metric_options", []) or []), spec,
                           data_info(data.dataset).aligned, registry)
    names = [loaded.generator(args.direction)[1].name] if getattr(args, "direction", None) else loaded.names
    generators = [GeneratorUnderTest(n, loaded.meta.generators[n].direction, loaded.modules[n],
                                     loaded.meta.generators[n].test_mode) for n in names]
    batch_size, num_images = _positive(args, "batch_size"), _positive(args, "num_images")
    result = evaluate_generators(
        generators, data.dataset, specs, registry, device=resolve_device(getattr(args, "device", "auto")),
        batch_size=batch_size if batch_size is not None else (spec.batch_size if spec else 8),
        num_images=num_images if num_images is not None else (spec.num_images if spec else None),
        precision=getattr(args, "precision", None) or (spec.precision if spec else "fp32"),
        seed=int(getattr(args, "seed", 0) or 0), where="eval", progress=True, split=data.describe["split"])
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
    write_evaluation(out, result, model=model, data=describe)
    print(format_table(result))
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
