"""The model-file schema: the file names of a model folder and the strict pydantic models of the
``translate`` metadata (format version :data:`FORMAT_VERSION`).

Every model is ``extra="forbid"``, ``strict`` and frozen: an unknown key, a value of the wrong type
or a name that is not a plain identifier is refused, so nothing read from a model file can name
code to import or call. The optional ``evaluation`` (:class:`EvaluationMeta`: held-out values and
the protocol they were measured with) is plain JSON of bounded size and depth; files written before
it existed load unchanged (their evaluation, if any, is ``training.evaluation``: values only).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from ..nn.traits import MAX_SCALE_FACTOR

FORMAT_VERSION = "1"
"""The metadata schema version this translate writes and reads."""

MODEL_FILENAME = "model.safetensors"
"""The weights and metadata of a run or model folder."""
CONFIG_FILENAME = "config.json"
"""A model folder's metadata, pretty-printed (the same fields as inside the model file)."""
README_FILENAME = "README.md"
"""A model folder's model card."""

MAX_SIZE_MULTIPLE = 4096
"""The largest ``size_multiple`` a model may declare: inputs are padded to a multiple of it, so a larger
one would make every inference allocate a huge image. 4096 is the multiple of the deepest shipped network
(a U-Net with ``num_downs = 12``)."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
"""A registered component name or an export name."""
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
"""Printable text: no control characters."""
_OPTION = r"^[A-Za-z][A-Za-z0-9_]*$"  # a plain option name: no dots, no leading underscore
_METRIC = r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class PluginMeta(_Strict):
    """Where the generator's component came from."""

    name: str = Field(max_length=200, pattern=TEXT_PATTERN)
    distribution: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)
    version: str = Field(max_length=100, pattern=TEXT_PATTERN)


class Normalization(_Strict):
    """Pixels ``x`` in [0, 1] are fed to the network as ``(x - mean) / std``."""

    mean: float = 0.5
    std: float = Field(0.5, gt=0)


class GeneratorMeta(_Strict):
    """One exported generator: how to rebuild it and how to feed it."""

    component: str = Field(max_length=100, pattern=NAME_PATTERN, description="registered generator name")
    options: dict[str, Any] = Field(default_factory=dict, description="the component's validated options")
    plugin: PluginMeta
    in_channels: int = Field(ge=1, le=64)
    out_channels: int = Field(ge=1, le=64)
    value_range: tuple[float, float] = (-1.0, 1.0)
    normalization: Normalization = Field(default_factory=Normalization)
    direction: str = Field("AtoB", max_length=100, pattern=TEXT_PATTERN)
    input_domain: str = Field("A", max_length=100, pattern=TEXT_PATTERN)
    output_domain: str = Field("B", max_length=100, pattern=TEXT_PATTERN)
    test_mode: Literal["eval", "train"] = "eval"
    size_multiple: int = Field(1, ge=1, le=MAX_SIZE_MULTIPLE,
                               description="H and W must be multiples of this (what the network declares)")
    scale_factor: int = Field(1, ge=1, le=MAX_SCALE_FACTOR,
                              description="output H, W = scale_factor x input H, W (files without it: 1)")
    bit_depth: Literal[8, 16] = Field(8, description="the bit depth of its training data, at which its outputs are "
                                      "written (16: 16-bit PNG or TIFF; files without it: 8)")

    @field_validator("options")
    @classmethod
    def _plain_keys(cls, options: dict[str, Any]) -> dict[str, Any]:
        return _plain_option_keys(options)

    @model_validator(mode="after")
    def _check(self) -> "GeneratorMeta":
        if not self.value_range[0] < self.value_range[1]:
            raise ValueError(f"value_range {list(self.value_range)} must be increasing")
        return self


def _plain_option_keys(options: dict[str, Any]) -> dict[str, Any]:
    """Option names are plain identifiers; keys such as ``__class__`` or ``_target_`` are refused."""
    for key in options:
        if not re.match(_OPTION, key) or len(key) > 100:
            raise ValueError(f"option name {key!r} is not a plain identifier "
                             "(names of classes, modules or call targets are refused)")
    _check_nested_keys(options, depth=0)
    return options


def _check_nested_keys(value: Any, depth: int) -> None:
    if depth > 16:
        raise ValueError("options are nested too deeply")
    if isinstance(value, dict):
        for key, inner in value.items():
            if depth and (not isinstance(key, str) or key.startswith("_")):
                raise ValueError(f"nested option key {key!r} is refused (keys starting with '_' name code targets)")
            _check_nested_keys(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _check_nested_keys(inner, depth + 1)


class RecipeSummary(_Strict):
    """A short account of the training recipe (the full recipe lives in the run folder)."""

    method: str | None = Field(None, max_length=100, pattern=TEXT_PATTERN)
    data: str | None = Field(None, max_length=100, pattern=TEXT_PATTERN, description="the data set's registry name")
    data_folder: str | None = Field(None, max_length=200, pattern=TEXT_PATTERN,
                                    description="where the data came from, as the data set names it (e.g. facades)")
    data_options: dict[str, Any] | None = Field(
        None, description="the data set's validated options in training (files written before they were recorded: "
                          "None), so that `translate eval --data FOLDER` rebuilds the same data set")
    seed: int | None = None
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = Field(None, ge=1)

    @field_validator("data_options")
    @classmethod
    def _plain_option_keys(cls, options: dict[str, Any] | None) -> dict[str, Any] | None:
        """The same rule as a generator's options: plain identifiers, no code targets, bounded nesting."""
        return None if options is None else _plain_option_keys(options)


class Preprocessing(_Strict):
    """What the model expects of its inputs."""

    size_multiple: int = Field(1, ge=1, le=MAX_SIZE_MULTIPLE,
                               description="height and width are padded to a multiple of this")
    recommended_size: int | None = Field(None, ge=1, le=65536,
                                         description="the side of the training inputs, when the data set fixes it "
                                                     "(a super-resolution model's outputs are scale_factor times it)")


class TrainingSummary(_Strict):
    """What a finished run reported (filled when a run is exported)."""

    steps: int | None = Field(None, ge=0, description="optimizer steps trained")
    epoch: int | None = Field(None, ge=0, description="epoch counter at the end of training")
    losses: dict[str, float] = Field(default_factory=dict, description="last logged losses")
    evaluation: dict[str, float] = Field(default_factory=dict,
                                         description="evaluation metrics of older files (now: ModelMeta.evaluation)")

    @field_validator("losses", "evaluation")
    @classmethod
    def _names(cls, values: dict[str, float]) -> dict[str, float]:
        if len(values) > 64:
            raise ValueError(f"at most 64 entries, got {len(values)}")
        for key in values:
            if not re.match(_METRIC, key) or len(key) > 100:
                raise ValueError(f"invalid metric name {key!r}")
        return values


MAX_PROTOCOL_BYTES = 32 * 1024
"""The largest evaluation protocol (as compact JSON) a model file may carry."""
_MAX_PROTOCOL_DEPTH = 8


_Value = float | Literal["inf", "-inf", "nan"]
_Line = Annotated[str, StringConstraints(max_length=300, pattern=TEXT_PATTERN)]


class PublishedMeta(_Strict):
    """A published number printed beside the model's own (a recipe's ``[[eval.published]]``)."""

    metric: str = Field(max_length=100, pattern=_METRIC)
    source: _Line
    published: float
    value: _Value | None = None
    difference: float | None = None
    comparable: bool | None = Field(None, description="True: the protocols match; False: they differ (differs "
                                    "says how) or the value was not evaluated; None: the source states no protocol")
    differs: list[_Line] = Field(default_factory=list, max_length=16)
    note: _Line | None = None


class OtherCheckpointMeta(_Strict):
    """The values of the run's other candidate: the best checkpoint for a final model, the final one for a best."""

    label: Literal["best", "final"]
    step: int | None = Field(None, ge=0)
    values: dict[str, _Value] = Field(max_length=64)
    chosen_by: str | None = Field(None, max_length=100, pattern=_METRIC,
                                  description="the value eval.best chose the best checkpoint by")
    split: str | None = Field(None, max_length=100, pattern=TEXT_PATTERN,
                              description="the split that choice was made on")


class EvaluationMeta(_Strict):
    """The held-out evaluation a model was exported with (``translate eval`` or the recipe's ``[eval]``).

    ``values`` are the flat metric keys of ``evaluation.json`` (``psnr``, or ``AtoB/psnr`` when
    several generators were evaluated); a value that is not finite (PSNR of identical images) is
    stored as the string ``"inf"``, ``"-inf"`` or ``"nan"``. ``protocol`` is how the values were
    obtained (libraries, feature networks and their weights' sha256, resize method, test mode,
    precision), JSON of bounded size and depth with plain keys.
    """

    values: dict[str, float | Literal["inf", "-inf", "nan"]] = Field(min_length=1, max_length=64)
    higher_is_better: dict[str, bool] = Field(default_factory=dict, max_length=64)
    split: str | None = Field(None, max_length=100, pattern=TEXT_PATTERN)
    num_images: int | None = Field(None, ge=0)
    data: str | None = Field(None, max_length=100, pattern=TEXT_PATTERN, description="the data set's registry name")
    data_fingerprint: str | None = Field(None, max_length=200, pattern=TEXT_PATTERN)
    model_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                     description="sha256 of the model file the values were computed on")
    step: int | None = Field(None, ge=0, description="the optimizer step of the evaluated weights, when known")
    protocol: dict[str, Any] = Field(default_factory=dict)
    published: list[PublishedMeta] = Field(default_factory=list, max_length=16)
    other_checkpoint: OtherCheckpointMeta | None = None

    @field_validator("values", "higher_is_better")
    @classmethod
    def _metric_names(cls, values: dict[str, Any]) -> dict[str, Any]:
        for key in values:
            if not re.match(_METRIC, key) or len(key) > 100:
                raise ValueError(f"invalid metric name {key!r}")
        return values

    @field_validator("protocol")
    @classmethod
    def _bounded(cls, protocol: dict[str, Any]) -> dict[str, Any]:
        import json

        _check_protocol(protocol, depth=0)
        size = len(json.dumps(protocol, separators=(",", ":"), allow_nan=False))
        if size > MAX_PROTOCOL_BYTES:
            raise ValueError(f"protocol is {size} bytes of JSON, more than the {MAX_PROTOCOL_BYTES} allowed")
        return protocol


def _check_protocol(value: Any, depth: int) -> None:
    """Plain JSON only: str keys without a leading ``_``, printable text, finite numbers, lists and
    objects, at most 8 levels deep."""
    if depth > _MAX_PROTOCOL_DEPTH:
        raise ValueError(f"protocol is nested more than {_MAX_PROTOCOL_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str) or not key or key.startswith("_") or len(key) > 100 \
                    or not re.match(TEXT_PATTERN, key):
                raise ValueError(f"protocol key {key!r} is refused (plain names only)")
            _check_protocol(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _check_protocol(inner, depth + 1)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("protocol values must be finite numbers")
    elif isinstance(value, str):
        if len(value) > 2000 or not re.match(TEXT_PATTERN, value):
            raise ValueError(f"protocol text {value[:60]!r} is too long or holds control characters")
    elif not (value is None or isinstance(value, (int, bool))):
        raise ValueError(f"protocol value of type {type(value).__name__} is not JSON")


class ConvertedFile(_Strict):
    """One file the weights of a converted model came from."""

    name: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN, description="the file's name")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    generator: str = Field(max_length=100, pattern=NAME_PATTERN, description="the generator its weights fill")
    read_by: str | None = Field(None, max_length=100, pattern=NAME_PATTERN,
                                description="the registered generator that recognised the file (files converted "
                                            "before it was recorded: None)")
    plugin: PluginMeta | None = Field(None, description="the plugin that registered it, and its distribution")
    builtin: bool | None = Field(None, description="whether that plugin is one of translate's own (the layouts of the "
                                                   "authors' code), as opposed to a third-party plugin")

    def recognised_by(self) -> str:
        """In words: ``resnet_9blocks (built in)``, ``other_net (plugin other, translate-other 0.1)``, or
        ``not recorded``."""
        if self.read_by is None:
            return "not recorded"
        p = self.plugin
        if p is None:
            return self.read_by
        return self.read_by + (" (built in)" if self.builtin else f" (plugin {p.name}, {p.distribution} {p.version})")


class ProvenanceMeta(_Strict):
    """Where the weights came from when translate did not train them (``translate convert``)."""

    converted_from: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN,
                                description="the code or format the weights were converted from")
    files: list[ConvertedFile] = Field(default_factory=list, max_length=8)
    source: str | None = Field(None, max_length=1000, pattern=TEXT_PATTERN, description="where they came from (a URL)")
    license: str | None = Field(None, max_length=200, pattern=TEXT_PATTERN, description="their licence, as given")


class ModelMeta(_Strict):
    """The ``translate`` metadata entry of a model file and the body of ``config.json`` (format version 1)."""

    translate_version: str = Field(max_length=100, pattern=TEXT_PATTERN)
    method: str = Field(max_length=100, pattern=TEXT_PATTERN)
    default: str = Field(pattern=NAME_PATTERN)
    generators: dict[str, GeneratorMeta] = Field(min_length=1)
    preprocessing: Preprocessing | None = None
    recipe: RecipeSummary | None = None
    training: TrainingSummary | None = None
    evaluation: EvaluationMeta | None = Field(None, description="held-out metrics and how they were computed")
    provenance: ProvenanceMeta | None = Field(None, description="where converted weights came from (translate convert)")
    limitations: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=20,
        description="known limits of the model (the method's and the data set's), for the model card",
    )

    @model_validator(mode="after")
    def _check(self) -> "ModelMeta":
        for name in self.generators:
            if not re.match(NAME_PATTERN, name) or len(name) > 100:
                raise ValueError(f"invalid generator name {name!r}")
        if self.default not in self.generators:
            raise ValueError(f"default {self.default!r} is not one of the generators {sorted(self.generators)}")
        if self.preprocessing is not None:
            for name, g in self.generators.items():
                if self.preprocessing.size_multiple % g.size_multiple:
                    raise ValueError(
                        f"preprocessing.size_multiple {self.preprocessing.size_multiple} is not a multiple of "
                        f"generator {name!r}'s size_multiple {g.size_multiple}"
                    )
        return self


__all__ = [
    "CONFIG_FILENAME",
    "ConvertedFile",
    "FORMAT_VERSION",
    "MAX_PROTOCOL_BYTES",
    "MAX_SCALE_FACTOR",
    "MAX_SIZE_MULTIPLE",
    "MODEL_FILENAME",
    "README_FILENAME",
    "EvaluationMeta",
    "GeneratorMeta",
    "ModelMeta",
    "Normalization",
    "PluginMeta",
    "Preprocessing",
    "ProvenanceMeta",
    "RecipeSummary",
    "TrainingSummary",
]
