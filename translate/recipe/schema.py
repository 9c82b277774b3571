"""The recipe schema: the strict pydantic skeleton of a recipe (``method``, ``generator``,
``discriminator``, ``losses``, ``data``, ``train``, ``output``, ``eval``) and its limits.

Component tables hold a registered ``name`` and an ``options`` table that the component's own
options model validates (:mod:`translate.recipe.validation`). The recipe reference page is
generated from these models.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
        "networks' parameters too (on the CPU they stay contiguous: measured faster); unset with `speed` fast: on "
        "for a CUDA GPU; on the CPU timed against the plain layout before training (`calibrate`; measured 1.17x "
        "for CycleGAN in bf16, slower in fp32; docs/performance.md), or with `calibrate = false` on where the CPU "
        "computes bf16."
    )
    gemm_convs: bool | None = Field(
        None, description="Convolutions whose output has few positions (a U-Net's innermost layers) computed as one "
        "matrix product instead of by the convolution library; unset with `speed` fast: on the CPU timed against "
        "the library's route before training (`calibrate`; measured 1.43x for pix2pix at batch 1 in bf16, 0.82x at "
        "batch 4 in fp32 on an AVX2 CPU), or with `calibrate = false` on for the CPU; off on GPUs."
    )
    calibrate: bool = Field(
        True, description="With `speed = \"fast\"` on the CPU: time the layout levers left unset (`channels_last`, "
        "`gemm_convs`) on the run's own networks and first batch for a few steps before training, and keep the "
        "fastest whose losses agree with the plain layout's (never slower than it beyond timing noise). The choice "
        "is cached per machine and configuration (`~/.cache/translate/speed`), printed, recorded in "
        "`environment.json` and reused on resume. `false`: the preset by device (docs/performance.md).",
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
    checkpoint_minutes: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Also write a checkpoint when M minutes of wall time have "
        "passed since the last one (or the start), whatever the step: for preemptible machines (docs/cluster.md). "
        "A SIGUSR1 asks for one at any time.")
    keep_checkpoints: int = Field(3, ge=1, description="How many recent checkpoints to keep.")
    num_samples: int = Field(4, ge=1, le=64, description="Images in each sample grid.")
    tensorboard: bool = Field(True, description="Also log to TensorBoard when it is installed.")
    progress: bool = Field(True, description="Show a progress bar.")


class PublishedResult(BaseModel):
    """A number a paper (or another framework) published for this task, printed beside the model's own.

    ``protocol`` lists what must be the same for the two numbers to compare: keys of the metric's
    options or of its recorded protocol (e.g. `mode = "legacy_pytorch"` for pytorch-fid's resize),
    and `num_images`, `split` of the evaluation. A key that differs, or that the evaluation did not
    record, marks the pair as not comparable, and says why.
    """

    model_config = _STRICT
    metric: str = Field(min_length=1, max_length=100, description="The value it compares with, as the "
                        "evaluation names it (e.g. `fid`, or `AtoB/fid` when several generators are evaluated).")
    value: float = Field(description="The published number.")
    source: str = Field(min_length=1, max_length=300, description="Where it was published (paper, table, "
                        "data set), e.g. `CUT paper (Park et al. 2020), Table 1, horse2zebra`.")
    protocol: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="What the number was measured with, as metric options or protocol "
        "keys (and `num_images`, `split`): the evaluation must match each for the two to compare.")
    images: int | None = Field(None, ge=1, description="Test images the published number used; an evaluation on "
                               "fewer images stops with an error saying so.")
    note: str | None = Field(None, max_length=300, description="Anything else a reader should know.")


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
    published: list[PublishedResult] = Field(default_factory=list, description="Published numbers to print "
                                             "beside the model's own (`[[eval.published]]` tables).")
    reference: str | dict[str, str] | None = Field(
        None, description="Statistics of real images to compare with instead of the split's real images, for "
        "the metrics that take them (FID, KID): an `.npz` file (`translate eval stats`, or clean-fid's "
        "published files) as a path, a file name in the weights folders, an `hf://` id or a URL; a table "
        "`{AtoB = \"...\", BtoA = \"...\"}` by generator name or direction when the method exports several.")


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


SKELETON: dict[str, type[BaseModel]] = {
    "": Recipe, "method": ComponentSpec, "generator": ComponentSpec, "discriminator": ComponentSpec,
    "data": DataSpec, "train": TrainSpec, "output": OutputSpec, "eval": EvalSpec,
}
