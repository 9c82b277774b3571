"""Setting a run up: the run folder, the Accelerator, the data set and the method, prepared together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from ..components.build import BuildContext, BuiltMethod
from ..components.method import ComponentRecord, Method
from ..data.contract import DataInfo, data_info, guard_bad_files
from ..errors import DataError, PluginError, RecipeError, TranslateError
from ..plugin.registry import Registry
from ..recipe import Recipe
from ..run.checkpoint import latest_checkpoint
from ..run.layout import RunFolder
from .distributed import check_joined, check_not_alone, wants_cpu
from .loss_device import place_losses


def resolve_run_dir(recipe: Recipe, recipe_path: Path, output_dir: str | None) -> Path:
    """The run folder: ``--output-dir``, else ``output.dir`` with ``{recipe}`` filled in."""
    return Path(output_dir or recipe.output.dir.replace("{recipe}", recipe_path.stem))


def check_precision(recipe: Recipe, source: str) -> None:
    """Refuse fp16 without a CUDA GPU (it would silently train in fp32)."""
    if recipe.train.mixed_precision == "fp16" and (recipe.train.cpu or not torch.cuda.is_available()):
        raise RecipeError(source, [
            "train.mixed_precision: 'fp16' needs a CUDA GPU (on the CPU it would silently train in fp32); "
            "use 'bf16' or 'no'"
        ])


def make_accelerator(recipe: Recipe) -> Any:
    """The run's Accelerator (precision, gradient accumulation, CPU switch), in the launcher's process group.

    Raises:
        TranslateError: a launcher asked for several processes but started one, or the Accelerator did
            not join all the processes the launcher started (see :mod:`.distributed`).
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, is_initialized

    from .speed import device_type_for, resolve_speed

    cpu = wants_cpu(recipe.train.cpu, torch.cuda.is_available())
    # Accelerate keeps one precision per process (its state is process-wide).
    wanted = resolve_speed(recipe.train, device_type_for(cpu)).precision
    if is_initialized() and AcceleratorState().mixed_precision != wanted:
        raise TranslateError(
            f"this process already set up Accelerate with mixed_precision={AcceleratorState().mixed_precision!r}; "
            f"Accelerate cannot switch to mixed_precision={wanted!r} (train.mixed_precision / train.speed) in the same "
            "process: "
            "run this recipe in a new process (for example with `translate run`)"
        )
    check_not_alone()
    accelerator = Accelerator(
        mixed_precision=wanted,
        gradient_accumulation_steps=recipe.train.gradient_accumulation_steps,
        cpu=cpu,
    )
    check_joined(accelerator)
    return accelerator


def data_options(recipe: Recipe, registry: Registry) -> BaseModel:
    """The recipe's ``data.options`` validated by the data set's own model: parsed once per run, then
    shared by every split and the device augmentation."""
    return registry.get("dataset", recipe.data.name).parse_options(recipe.data.options, "data.options")


def build_dataset(recipe: Recipe, registry: Registry, split: str, options: BaseModel | None = None) -> Any:
    """The recipe's data set for ``split``, through the registry, under the ``data.on_bad_file`` policy.

    ``options``: the parsed ``data.options`` (:func:`data_options`); None parses the table here.
    """
    comp = registry.get("dataset", recipe.data.name)
    table = options if options is not None else recipe.data.options
    dataset = comp.build(table, path="data.options", split=split)
    return guard_bad_files(dataset, recipe.data.on_bad_file)


def sample_batch(recipe: Recipe, registry: Registry, train_set: Any,
                 options: BaseModel | None = None) -> dict[str, Any]:
    """A fixed batch for sample grids: the validation split when there is one."""
    try:
        ds = build_dataset(recipe, registry, "val", options)
        if len(ds) == 0:
            raise DataError("empty")
    except DataError:
        ds = train_set
    n = min(recipe.output.num_samples, len(ds))
    from torch.utils.data import default_collate

    return default_collate([ds[(i, i)] for i in range(n)])


def check_resume_recipe(run_dir: Path, resolved: dict[str, Any], resume: bool) -> None:
    """Refuse to mix runs: a folder with checkpoints needs --resume, and the same recipe."""
    run = RunFolder(run_dir)
    if latest_checkpoint(run_dir) is not None and not resume:
        raise TranslateError(
            f"run folder {run_dir} already holds checkpoints; pass --resume to continue it, "
            "or choose another --output-dir (nothing was changed)"
        )
    before = run.saved_recipe() if resume else None
    if before is not None:
        diffs = [k for k in sorted(set(before) | set(resolved))
                 if k != "output" and before.get(k) != resolved.get(k)]
        if diffs:
            raise TranslateError(
                f"cannot resume {run_dir}: the recipe differs from the one that started the run in "
                f"{', '.join(diffs)}; resume with the same recipe (see {run.recipe_json})"
            )


def prepare(accelerator: Any, built: BuiltMethod) -> None:
    """Prepare every network and optimizer in one call (ENGINE_NOTES 1), in a fixed order; place the losses."""
    method = built.method
    nets, opts = list(method.networks), list(method.optimizers)
    objs = [method.networks[n] for n in nets] + [method.optimizers[n] for n in opts]
    prepared = accelerator.prepare(*objs)
    if len(objs) == 1:
        prepared = (prepared,)
    for i, name in enumerate(nets):
        method.networks[name] = prepared[i]
    for j, name in enumerate(opts):
        method.optimizers[name] = prepared[len(nets) + j]
    place_losses(built.losses, accelerator.device)  # weights of losses: on the device, frozen


def build_method(recipe: Recipe, registry: Registry, train_set: Any, source: str) -> BuiltMethod:
    """The recipe's method, built with a :class:`BuildContext` on the training set, with its build records,
    its losses and the set's :class:`DataInfo`.

    Raises:
        RecipeError: the data set lacks image keys the method needs.
    """
    info = data_info(train_set)
    ctx = BuildContext(recipe=recipe, registry=registry, channels=dict(train_set.channels), data=info, source=source)
    comp = registry.get("method", recipe.method.name)
    method: Method = comp.build(recipe.method.options, path="method.options", ctx=ctx)
    built = ctx.finish(method)
    try:
        built.exports()  # every exported generator was built through the context: known now, not at the end
    except PluginError as err:
        raise PluginError(f"method {recipe.method.name!r}: {err}") from None
    missing = [k for k in method.data_keys if k not in train_set.channels]
    if missing:
        raise RecipeError(source, [
            f"data.name: data set {recipe.data.name!r} provides {sorted(train_set.channels)}, "
            f"but method {recipe.method.name!r} needs {list(method.data_keys)}"
        ])
    problems = size_problems(method, info, recipe.data.batch_size, built.records)
    if problems:
        raise RecipeError(source, problems)
    for opt in method.optimizers.values():
        for group in opt.param_groups:
            group.setdefault("initial_lr", group["lr"])
    return built


MAX_BATCH_PIXELS = 2**30
"""Images x height x width of one batch above this are refused (3 float32 channels: 12 GiB of input alone)."""


def size_problems(method: Method, info: DataInfo, batch_size: int,
                  records: dict[str, ComponentRecord] | None = None) -> list[str]:
    """What does not fit between the data's image sizes and the networks, with scale taken into account.

    A generator (a network whose build record in ``records`` says so, or that declares a ``scale_factor``)
    reads the data set's inputs, ``info.input_size`` (``image_size // scale``) a side: its
    ``scale_factor`` must equal ``info.scale`` and its ``size_multiple`` must divide the input side.
    Other networks (discriminators) see target-sized images, ``info.image_size`` a side: their
    ``size_multiple`` must divide it. One batch of targets must stay below :data:`MAX_BATCH_PIXELS`."""
    from ..nn.traits import scale_factor, size_multiple

    problems = []
    for name, network in method.networks.items():
        record = (records or {}).get(name)
        what = f"{record.kind} {record.name!r}" if record is not None else f"network {name!r}"
        scale = scale_factor(network, what)
        generator = record.kind == "generator" if record is not None else scale != 1
        if generator and scale != info.scale:
            times = "the size" if info.scale == 1 else f"{info.scale} times the size"
            problems.append(f"data.name: {what} outputs images {scale} times the size of its inputs "
                            f"(scale_factor {scale}), but the data set serves targets {times} of its inputs "
                            f"(DataInfo.scale {info.scale}): use a data set of scale {scale}, or a generator of "
                            f"scale_factor {info.scale}")
            continue
        size = info.input_size if generator else info.image_size
        multiple = size_multiple(network, what)
        if size is not None and size % multiple:  # None: images keep their own sizes, checked per image
            side = ("input " if generator else "target ") if info.scale != 1 else ""
            problems.append(f"data.options: the data set serves {size}x{size} {side}images, but {what} needs "
                            f"heights and widths that are multiples of {multiple}: give the data set a crop size "
                            f"that is a multiple of {multiple}" + (f" on the input side ({multiple * info.scale} "
                            f"on the target side)" if generator and info.scale != 1 else "") +
                            f", or choose a network made for {size}x{size} images")
    size = info.image_size
    if size is not None and batch_size * size * size > MAX_BATCH_PIXELS:
        problems.append(f"data.batch_size: {batch_size} images of {size}x{size} are {batch_size * size * size:,} "
                        f"pixels per batch (limit {MAX_BATCH_PIXELS:,}); lower the batch size or the image size")
    return problems
