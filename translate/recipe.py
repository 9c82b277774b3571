"""Recipes: TOML files that describe a run, validated strictly before anything is built.

Validation has two stages. The skeleton (the sections below) is a strict pydantic
model. Then each component table (``method``, ``generator``, ``discriminator``,
``losses.<role>``, ``data``, and the metrics of ``eval``) is looked up in the registry and
its ``options`` table is validated with the plugin's own options model; a ``[losses.<role>]``
table must name a role the method declares (``loss_roles`` on its options model). All problems are reported
together as ``dotted.key: message`` lines naming the recipe file.

Longer than 300 lines because it holds the whole recipe schema in one place (the recipe
reference page is generated from it).
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import PluginError, RecipeError
from .options import add_key_hints, error_lines
from .registry import Component, OptionsInvalid, Registry, UnknownComponent

_STRICT = ConfigDict(extra="forbid", strict=True)

MAX_SEED = 2**32 - 1
"""The largest seed (what NumPy and PyTorch seeding accept)."""
MAX_BATCH_SIZE = 4096
MAX_WORKERS = 128


class ComponentSpec(BaseModel):
    """A component chosen by registry name, with its options table."""

    model_config = _STRICT
    name: str = Field(description="Registered component name (see `translate plugins`).")
    options: dict[str, Any] = Field(default_factory=dict, description="Options of that component.")


class DataSpec(ComponentSpec):
    """The training data set and how it is loaded."""

    batch_size: int = Field(1, ge=1, le=MAX_BATCH_SIZE, description="Images per batch per process.")
    num_workers: int = Field(0, ge=0, le=MAX_WORKERS, description="DataLoader worker processes.")
    shuffle: bool = Field(True, description="Shuffle the training set each epoch (order is reproducible from the seed).")
    on_bad_file: Literal["stop", "skip"] = Field(
        "stop",
        description="An unreadable or inconsistent data file: `stop` ends the run with an error naming the file; "
        "`skip` serves another item in its place (the same one on every run) and counts the skipped files.",
    )


class TrainSpec(BaseModel):
    """How long to train and how the learning rate evolves."""

    model_config = _STRICT
    #: What ``_length`` enforces, in plain words, for the generated recipe reference.
    validation_rules: ClassVar[tuple[str, ...]] = (
        "Give exactly one of `epochs` and `steps`.",
        "`decay` must not be longer than the run (`epochs` or `steps`).",
    )

    epochs: int | None = Field(None, ge=1, description="Length in epochs (give this or `steps`).")
    steps: int | None = Field(None, ge=1, description="Length in optimizer steps (give this or `epochs`).")
    decay: int = Field(
        0,
        ge=0,
        description="Linear learning-rate decay to zero over the last `decay` epochs (or steps); "
        "the rest is constant, as in the reference code.",
    )
    gradient_accumulation_steps: int = Field(1, ge=1, description="Batches accumulated per optimizer step.")
    speed: Literal["reference", "fast"] = Field(
        "fast",
        description="`fast` turns on the levers measured to help on the device (bf16 autocast where the device "
        "computes bf16 natively, channels_last activations (and on GPUs parameters), small convolutions as GEMMs on "
        "the CPU; see docs/performance.md); `reference` is the plain fp32 eager "
        "computation, operation for operation the authors' code (the papers' recipes use it). "
        "`mixed_precision`, `channels_last`, `gemm_convs` and `compile` override the preset one by one.",
    )
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto",
        description="Autocast precision; `auto` follows `speed` (bf16 when fast and the device computes bf16 "
        "natively, else no); fp16 needs a CUDA device.",
    )
    channels_last: bool | None = Field(
        None, description="Batches, hence activations, in channels_last (NHWC) memory format, and on a CUDA GPU the "
        "networks' parameters too (on the CPU they stay contiguous: measured faster); unset: on when `speed` is fast "
        "and the device is a CUDA GPU or computes bf16 on the CPU (measured 1.33x faster for CycleGAN there, level "
        "for pix2pix; docs/performance.md)."
    )
    gemm_convs: bool | None = Field(
        None, description="Convolutions whose output has few positions (a U-Net's innermost layers) computed as one "
        "matrix product instead of by the convolution library; unset: on when `speed` is fast and the device is the "
        "CPU (measured there; docs/performance.md)."
    )
    compile: Literal["off", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] | None = Field(
        None,
        description="torch.compile the networks with this mode (compiled once per run, cached by torch's "
        "inductor cache); unset: off (see docs/performance.md for when it pays).",
    )
    sync_batchnorm: bool = Field(False, description="Convert BatchNorm to SyncBatchNorm for multi-GPU runs.")
    cpu: bool = Field(False, description="Force the CPU even when a GPU is present.")
    init_from: str | None = Field(
        None, min_length=1,
        description="Start from the generators of this model (a model folder or model.safetensors, e.g. one made "
        "by `translate convert` from the authors' checkpoints): fine-tuning. Discriminators and optimizers start "
        "fresh; ignored when resuming (the checkpoint has the weights).",
    )

    @model_validator(mode="after")
    def _length(self) -> "TrainSpec":
        if (self.epochs is None) == (self.steps is None):
            raise ValueError("give exactly one of train.epochs or train.steps")
        total = self.epochs if self.epochs is not None else self.steps
        if self.decay > total:  # type: ignore[operator]
            raise ValueError(f"train.decay ({self.decay}) is longer than the run ({total})")
        return self


class OutputSpec(BaseModel):
    """The run folder and what is written into it."""

    model_config = _STRICT
    dir: str = Field("runs/{recipe}", description="Run folder; `{recipe}` is the recipe file's stem.")
    log_every: int = Field(50, ge=1, description="Write metrics every N steps.")
    sample_every: int = Field(500, ge=1, description="Write a sample grid every N steps.")
    checkpoint_every: int = Field(1000, ge=1, description="Write a resumable checkpoint every N steps.")
    keep_checkpoints: int = Field(3, ge=1, description="How many recent checkpoints to keep.")
    num_samples: int = Field(4, ge=1, le=64, description="Images in each sample grid.")
    tensorboard: bool = Field(True, description="Also log to TensorBoard when it is installed.")
    progress: bool = Field(True, description="Show a progress bar.")


class EvalSpec(BaseModel):
    """Evaluation during training: metrics on a data split every N steps and at the end of training."""

    model_config = _STRICT
    #: What stage 2 checks, in plain words, for the generated recipe reference.
    validation_rules: ClassVar[tuple[str, ...]] = (
        "Every name in `metrics` must be an installed metric; each `[eval.options.<metric>]` table is "
        "validated by that metric's options model and must belong to a metric in `metrics`.",
        "`best` must be a value of a listed metric: its name (e.g. `psnr`), or `<direction>/<name>` "
        "(e.g. `AtoB/psnr`) when the method exports several generators.",
    )

    metrics: list[str] = Field(min_length=1, description="Metric names (see `translate plugins`), e.g. "
                               "`[\"psnr\", \"ssim\"]`.")
    every: int = Field(0, ge=0, description="Evaluate every N optimizer steps; 0: only at the end of training "
                       "(there is always an evaluation at the end).")
    split: str = Field("test", min_length=1, description="The data set's split to evaluate on.")
    num_images: int | None = Field(None, ge=1, description="Evaluate the first N images of the split "
                                   "(not set: the whole split).")
    batch_size: int = Field(8, ge=1, le=MAX_BATCH_SIZE, description="Images per forward pass (a generator "
                            "tested in `train` mode runs images one by one).")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="Precision of the generators' forward "
                                               "pass during evaluation (bf16: autocast; recorded).")
    best: str | None = Field(None, min_length=1, description="A value to select the best checkpoint by (e.g. "
                             "`psnr`, `AtoB/fid`): it is kept beside the last `keep_checkpoints` ones and "
                             "written as `model-best.safetensors` and `best.json`.")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Options of each metric, "
                                               "as `[eval.options.<metric>]` tables.")


class Recipe(BaseModel):
    """A whole recipe."""

    model_config = _STRICT
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed for weights, data order, augmentation and dropout.")
    method: ComponentSpec = Field(description="Training method (e.g. pix2pix).")
    generator: ComponentSpec | None = Field(None, description="Generator network.")
    discriminator: ComponentSpec | None = Field(None, description="Discriminator network.")
    losses: dict[str, ComponentSpec] = Field(
        default_factory=dict, description="Loss components by role (e.g. `adversarial`, `reconstruction`)."
    )
    data: DataSpec = Field(description="Training data set.")
    train: TrainSpec = Field(description="Length, schedule, precision.")
    output: OutputSpec = Field(default_factory=OutputSpec, description="Run folder and logging.")
    eval: EvalSpec | None = Field(None, description="Evaluation during training (not set: none).")


COMPONENT_SECTIONS: dict[str, str] = {
    "method": "method",
    "generator": "generator",
    "discriminator": "discriminator",
    "data": "dataset",
}


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``dotted.key=value``; the value is read as a TOML value, else as a plain string."""
    if "=" not in text:
        raise RecipeError("--set", [f"{text!r}: expected dotted.key=value"])
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise RecipeError("--set", [f"{text!r}: invalid key {key!r}"])
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``--set dotted.key=value`` overrides applied."""
    out = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise RecipeError("--set", [f"{'.'.join(parts)}: {where} is a value, not a table"])
            node = child
        node[parts[-1]] = value
    return out


def read_recipe_file(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a recipe file, following ``extends = "other.toml"`` (a path relative to the file).

    The file's tables are merged over the base recipe's, key by key. A component table
    (one with ``name``) that names a different component than the base replaces the
    base's ``options`` instead of merging into them.
    """
    path = Path(path)
    data = read_toml(path)
    base_ref = data.pop("extends", None)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str):
        raise RecipeError(str(path), [f"extends: expected a file path string (got {base_ref!r})"])
    base_path = (path.parent / base_ref).resolve()
    if base_path in _seen:
        raise RecipeError(str(path), [f"extends: {base_ref!r} extends itself (cycle)"])
    if not base_path.is_file():
        raise RecipeError(str(path), [f"extends: base recipe {base_path} not found"])
    return _merge(read_recipe_file(base_path, _seen + (path.resolve(),)), data)


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            if "name" in value and value["name"] != old.get("name"):
                old = {k: v for k, v in old.items() if k != "options"}
            out[key] = _merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; syntax errors name the file and line."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise RecipeError(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(str(path), [f"not valid TOML: {err}"]) from None


def validate(data: dict[str, Any], registry: Registry, source: str = "<recipe>") -> Recipe:
    """Validate a recipe dict: skeleton, component names, then each component's options."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(source, add_key_hints(error_lines(err), known_keys(data, registry))) from None
    problems: list[str] = []
    for section, kind in COMPONENT_SECTIONS.items():
        spec = getattr(recipe, section)
        if spec is not None:
            problems += _check_component(registry, kind, spec, section)
    problems += loss_role_problems(registry, recipe)
    for role, spec in recipe.losses.items():
        problems += _check_component(registry, "loss", spec, f"losses.{role}")
    if recipe.eval is not None:
        problems += _check_eval(registry, recipe.eval)
    if problems:
        raise RecipeError(source, add_key_hints(problems, known_keys(data, registry)))
    return recipe


_SKELETON: dict[str, type[BaseModel]] = {
    "": Recipe, "method": ComponentSpec, "generator": ComponentSpec, "discriminator": ComponentSpec,
    "data": DataSpec, "train": TrainSpec, "output": OutputSpec, "eval": EvalSpec,
}


def known_keys(data: Any, registry: Registry) -> dict[str, list[str]]:
    """The keys each table of a recipe accepts, by dotted table path (``""`` is the top level).

    Component ``options`` tables are included when the component's name is registered, so a key
    given in the wrong table can be pointed to the table that has it.
    """
    tables = {path: list(model.model_fields) for path, model in _SKELETON.items()}
    data = data if isinstance(data, dict) else {}
    losses = data.get("losses")
    components = [(section, kind, data.get(section)) for section, kind in COMPONENT_SECTIONS.items()]
    if isinstance(losses, dict):
        for role, table in losses.items():
            tables[f"losses.{role}"] = list(ComponentSpec.model_fields)
            components.append((f"losses.{role}", "loss", table))
    for path, kind, table in components:
        name = table.get("name") if isinstance(table, dict) else None
        if isinstance(name, str) and name in registry.names(kind):
            tables[f"{path}.options"] = list(registry.get(kind, name).options.model_fields)
    return tables


def declared_loss_roles(method: Component) -> tuple[str, ...] | None:
    """The loss roles a method accepts (``loss_roles`` on its options model), or None when it declares none."""
    roles = getattr(method.options, "loss_roles", None)
    if roles is None:
        return None
    if not isinstance(roles, (tuple, list)) or not all(isinstance(r, str) and r for r in roles):
        raise PluginError(f"method {method.name!r} (plugin {method.plugin.name!r}): loss_roles must be a tuple of "
                          f"role names, e.g. ('adversarial', 'reconstruction'), got {roles!r}")
    return tuple(roles)


def loss_role_problems(registry: Registry, recipe: Recipe) -> list[str]:
    """Stage 2 of ``[losses.<role>]``: each role must be one the method declares (when it declares them)."""
    if recipe.method.name not in registry.names("method"):
        return []
    roles = declared_loss_roles(registry.get("method", recipe.method.name))
    if roles is None:
        return []
    accepted = ", ".join(roles) if roles else "none"
    return [f"losses.{role}: method {recipe.method.name!r} uses no loss role {role!r}; it accepts {accepted}"
            + _close_hint(role, roles)
            for role in recipe.losses if role not in roles]


def _close_hint(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_component(registry: Registry, kind: str, spec: ComponentSpec, path: str) -> list[str]:
    try:
        comp = registry.get(kind, spec.name)
    except UnknownComponent as err:
        return [f"{path}.name: {err}"]
    try:
        spec.options = comp.parse_options(spec.options, f"{path}.options").model_dump(mode="json")
    except OptionsInvalid as err:
        return err.lines
    return []


def _check_eval(registry: Registry, spec: EvalSpec) -> list[str]:
    """Stage 2 of ``[eval]``: metric names, each metric's options, and ``best``."""
    problems: list[str] = []
    for name in spec.metrics:
        try:
            registry.get("metric", name)
        except UnknownComponent as err:
            problems.append(f"eval.metrics: {err}")
    for name, table in spec.options.items():
        if name not in spec.metrics:
            problems.append(f"eval.options.{name}: options for metric {name!r}, which eval.metrics does not list "
                            f"({', '.join(spec.metrics)})")
        elif name in registry.names("metric"):
            try:
                parsed = registry.get("metric", name).parse_options(table, f"eval.options.{name}")
                spec.options[name] = parsed.model_dump(mode="json")
            except OptionsInvalid as err:
                problems += err.lines
    if spec.best is not None:  # value names are known once a metric has run: the trainer checks them exactly
        value = spec.best.split("/", 1)[-1]
        if not any(value.startswith(name) or value.split("_")[0] == name.split("_")[0] for name in spec.metrics):
            problems.append(f"eval.best: {spec.best!r} is not a value of the listed metrics ({', '.join(spec.metrics)});"
                            " name a metric's value, e.g. 'psnr', or 'AtoB/psnr' when several generators are "
                            "evaluated")
    return problems


def load_recipe(
    path: str | Path, overrides: list[str] | None = None, registry: Registry | None = None
) -> tuple[Recipe, dict[str, Any]]:
    """Read, override and validate a recipe file. Returns the recipe and the resolved dict."""
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    path = Path(path)
    data = apply_overrides(read_recipe_file(path), overrides or [])
    source = str(path) + (" (with --set overrides)" if overrides else "")
    recipe = validate(data, registry, source)
    return recipe, resolved_dict(recipe)


def resolved_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe with every default filled in (what is written to the run folder).

    Unset (None) values are left out at every depth, component options included, as
    TOML has no null: the dict then equals what ``to_toml`` writes and reads back.
    """
    return _drop_none(recipe.model_dump(mode="json", exclude_none=True))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def to_toml(data: dict[str, Any]) -> str:
    """Serialise a resolved recipe dict as TOML with ``tomli_w`` (None values are left out: TOML has no null)."""
    return tomli_w.dumps(_drop_none(data))
