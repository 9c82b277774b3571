"""What an evaluation reads: the data set and split (``--data``, the run's recipe) and the metrics with their
options (``--metrics``, ``--set``, the recipe's ``[eval]`` table); shared by ``translate eval`` and
``translate eval stats``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.contract import guard_bad_files
from ..errors import DataError, OptionsInvalid, RecipeError, UnknownComponent
from ..evaluation.runner import EvaluationError, MetricSpec
from ..models import LoadedModel
from ..recipe import EvalSpec, Recipe, apply_overrides, load_recipe, parse_override

if TYPE_CHECKING:  # pragma: no cover
    from ..plugin.registry import Registry

PAIRED_DEFAULT_METRICS = ("l1", "psnr", "ssim")
"""The metrics of ``translate eval`` on paired (aligned) data when neither ``--metrics`` nor a recipe names any."""
FALLBACK_SPLIT = "val"
"""The split evaluated when none was asked for and the data set has no ``test`` split."""


@dataclass
class EvalData:
    """The data set to evaluate on, how it was chosen, and the recipe ``[eval]`` table that goes with it."""

    dataset: Any
    describe: dict[str, Any]
    eval: EvalSpec | None


DATA_SETTING = "data.options."
"""``--set data.options.KEY=VALUE`` changes an option of the data set evaluated on (other ``--set`` are metrics')."""


def data_settings(settings: list[str]) -> tuple[list[str], list[str]]:
    """``--set`` values split: the data set's (``data.options.KEY=VALUE``), the metrics' (``METRIC.KEY=VALUE``)."""
    data = [s for s in settings if s.strip().startswith(DATA_SETTING)]
    return data, [s for s in settings if s not in data]


def trained_data(run_recipe: Recipe | None, loaded: LoadedModel | None) -> tuple[str, dict[str, Any] | None] | None:
    """The data set the model was trained on: its name and options (None: not recorded), from the run's recipe or
    the model file; None when neither says."""
    if run_recipe is not None:
        return run_recipe.data.name, dict(run_recipe.data.options)
    summary = loaded.meta.recipe if loaded is not None else None
    if summary is not None and summary.data:
        return summary.data, dict(summary.data_options) if summary.data_options is not None else None
    return None


def choose_data(data: str | None, run_recipe: Recipe | None, loaded: LoadedModel | None, split_flag: str | None,
                registry: "Registry", overrides: list[str] | None = None) -> EvalData:
    """The data set of ``--data`` (a recipe or a folder) or of the run's recipe, for the split to evaluate.

    ``--data FOLDER`` rebuilds the data set the model was trained on with the options it was trained with
    (the run's recipe, else the model file's record; a file written before translate recorded them gets the
    data set's defaults, with a note), pointed at FOLDER. ``overrides`` (``data.options.KEY=VALUE``) change
    options; every option that then differs from training is printed.
    """
    recipe_eval = run_recipe.eval if run_recipe is not None else None
    on_bad_file = run_recipe.data.on_bad_file if run_recipe is not None else "stop"
    source = "the run's recipe"
    trained = trained_data(run_recipe, loaded)
    folder_flag = False
    if data is not None and (data.endswith(".toml") or Path(data).is_file()):
        other, _ = load_recipe(data, registry=registry)
        name, options, on_bad_file = other.data.name, dict(other.data.options), other.data.on_bad_file
        recipe_eval, source = other.eval or recipe_eval, f"recipe {data}"
    elif data is not None:
        if not Path(data).is_dir():
            raise DataError(f"--data {data}: no such recipe file or data folder")
        if trained is None:
            raise DataError(f"--data {data}: the model does not record which data set it was trained with; pass a "
                            "recipe instead (--data RECIPE.toml) whose [data] table names the data set")
        name, recorded = trained
        if recorded is None:
            print(f"note: {loaded.path if loaded is not None else 'the model'} does not record the options of its data "
                  f"set (written by an older translate): data set {name!r} is built with its default options; pass "
                  "--data RECIPE.toml, or --set data.options.KEY=VALUE, to give the ones it was trained with",
                  file=sys.stderr)
        options = dict(recorded or {})
        comp = _get(registry, "dataset", name, "--data")
        if comp.folder_option is None:
            raise DataError(f"--data {data}: data set {name!r} (plugin {comp.plugin.name!r}) does not say which option "
                            "names its folder; pass a recipe instead (--data RECIPE.toml)")
        options[comp.folder_option] = data
        source, folder_flag = f"folder {data} (option {comp.folder_option} of {name})", True
    elif run_recipe is not None:
        name, options = run_recipe.data.name, dict(run_recipe.data.options)
    else:
        raise DataError(f"{loaded.path}: not a run folder, so there is no recipe to take the data from; pass "
                        "--data RECIPE.toml (a recipe whose [data] to use) or --data FOLDER (the data set the "
                        "model was trained with, in that folder)")
    if overrides:
        options = apply_overrides({"data": {"options": options}}, list(overrides))["data"]["options"]
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
    if trained is not None and trained[0] == name and trained[1] is not None:
        skip = {comp.folder_option} if folder_flag else set()
        _say_differences(name, trained[1], parsed.model_dump(mode="json"), skip)
    folder = getattr(parsed, comp.folder_option) if comp.folder_option else None
    describe = {"name": name, "split": split, "folder": None if folder is None else str(folder),
                "source": source, "options": parsed.model_dump(mode="json"), "size": len(dataset)}
    return EvalData(dataset, describe, recipe_eval)


def _say_differences(name: str, trained: dict[str, Any], used: dict[str, Any], skip: set[str | None]) -> None:
    """Print the options of data set ``name`` that differ from training (keys in ``skip`` were meant to). A key
    the record lacks was None (model files leave None values out)."""
    changed = [f"{key} = {used.get(key)!r} (trained with {trained.get(key)!r})" for key in sorted({*trained, *used})
               if key not in skip and used.get(key) != trained.get(key)]
    if changed:
        print(f"note: data set {name!r} is evaluated with options that differ from the ones the model was trained "
              f"with: {'; '.join(changed)}", file=sys.stderr)


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
                                  f"({', '.join(names)}), or {DATA_SETTING}KEY=VALUE for the data set")
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


__all__ = ["DATA_SETTING", "FALLBACK_SPLIT", "PAIRED_DEFAULT_METRICS", "EvalData", "choose_data", "choose_metrics",
           "data_settings", "trained_data"]
