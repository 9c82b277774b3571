"""Running generators over a data split and feeding their outputs to metrics.

:func:`evaluate_generators` is the one evaluation loop, shared by ``translate eval`` and the
``[eval]`` table during training. For each generator it reads the input and the real images of
its output domain from the data set's :class:`~translate.data.contract.DataInfo` (``keys_for(direction)``),
runs the generator in its test-time mode (:mod:`.generate`) and feeds every metric an
:class:`~translate.components.metric.EvalBatch`. The caller's random state is left unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..components.metric import EvalBatch, Metric, MetricContext
from ..data.contract import data_info
from ..errors import TranslateError
from ..nn.test_mode import in_test_mode
from ..nn.traits import scale_factor
from ..plugin.registry import OptionsInvalid, Registry, UnknownComponent
from .generate import batches, fingerprint, generate, same_size, stack_images
from .reference import Reference, hand_over_all
from .unpaired import Distinct, image_name
from .values import json_value

if TYPE_CHECKING:  # pragma: no cover
    import torch

TEST_MODES = ("eval", "train")
PRECISIONS = ("fp32", "bf16")


class EvaluationError(TranslateError):
    """An evaluation cannot run as asked (a metric that does not fit the data, too few images, ...)."""


@dataclass
class MetricSpec:
    """A metric by registry name, with its options table (validated by the metric's own model)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GeneratorUnderTest:
    """A generator to evaluate: its name, the direction it translates, the module and its test-time mode."""

    name: str
    direction: str
    module: "torch.nn.Module"
    test_mode: str = "eval"


@dataclass
class EvaluationResult:
    """Values by flat key (``"psnr"`` for one generator, ``"AtoB/psnr"`` for several), how they were
    obtained (``protocol``), and whether a larger value of each key is better."""

    values: dict[str, float]
    protocol: dict[str, Any]
    higher_is_better: dict[str, bool]

    def to_json(self) -> dict[str, Any]:
        """The result as JSON values (non-finite numbers as the strings ``"inf"``, ``"-inf"``, ``"nan"``)."""
        return {"values": {k: json_value(v) for k, v in self.values.items()},
                "higher_is_better": dict(self.higher_is_better), "protocol": self.protocol}


def build_metric(registry: Registry, spec: MetricSpec, *, device: "torch.device", where: str,
                 channels: int | None = None) -> Metric:
    """One metric from the registry, its options validated under ``<where>.options.<name>``; ``channels``
    (the measured images' channel count, when known) goes to its :class:`MetricContext`."""
    try:
        comp = registry.get("metric", spec.name)
    except UnknownComponent as err:
        raise EvaluationError(f"{where}.metrics: {err}") from None
    path = f"{where}.options.{spec.name}"
    try:
        options = comp.parse_options(spec.options, path)
    except OptionsInvalid as err:
        raise EvaluationError(f"invalid metric options: {'; '.join(err.lines)}") from None
    ctx = MetricContext(device=device, build=_component_builder(registry, path), where=path, channels=channels)
    metric = comp.build(options, ctx)
    if not isinstance(metric, Metric):
        raise EvaluationError(f"metric {spec.name!r} (plugin {comp.plugin.name!r}) built a "
                              f"{type(metric).__name__}, not a translate.Metric")
    return metric


def _component_builder(registry: Registry, where: str) -> Any:
    def build(kind: str, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Build a registered component with its options validated under ``where``."""
        try:
            return registry.create(kind, name, options, path=where, **kwargs)
        except UnknownComponent as err:
            raise EvaluationError(f"{where}: {err}") from None
        except OptionsInvalid as err:
            raise EvaluationError(f"invalid options: {'; '.join(err.lines)}") from None

    return build


@dataclass
class _Plan:
    generator: GeneratorUnderTest
    input_key: str
    target_key: str
    metrics: list[Metric]
    prefix: str
    inputs: Distinct = field(default_factory=Distinct)  # on unpaired data: each image once (.unpaired)
    reals: Distinct = field(default_factory=Distinct)


def evaluate_generators(
    generators: list[GeneratorUnderTest],
    dataset: Any,
    specs: list[MetricSpec],
    registry: Registry,
    *,
    device: "torch.device | str",
    batch_size: int = 8,
    num_images: int | None = None,
    precision: str = "fp32",
    seed: int = 0,
    where: str = "eval",
    progress: bool = False,
    split: str | None = None,
    references: dict[str, Reference] | None = None,
) -> EvaluationResult:
    """Run each generator over ``dataset`` (the first ``num_images`` items, in order) and compute ``specs``.

    Args:
        generators: what to evaluate; each module is moved to ``device``.
        dataset: a data set following :mod:`translate.data.contract` whose ``info.translations`` name the
            input and target keys of each generator's direction.
        specs: the metrics, by registry name (kind ``metric``), with their options.
        registry: where metrics (and the components they build) are looked up.
        device: where the generators run and the metrics receive their batches.
        batch_size: images per forward pass in ``eval`` mode (``train`` mode runs images one by one).
        num_images: evaluate at most this many items; None: the whole split.
        precision: ``fp32``, or ``bf16`` autocast (recorded in the protocol).
        seed: seeds dropout per image in ``train`` test mode.
        where: the recipe key or flag that asked for the evaluation, used in error messages.
        progress: show a tqdm progress bar.
        split: the split's name, recorded in the protocol (default: the data set's ``split`` attribute).
        references: statistics files by generator name: that generator's metrics that implement
            :class:`~translate.components.metric.ReferenceStatistics` compare with the file instead of
            the real images (the others still read them); recorded in the protocol (file, sha256).

    Raises:
        EvaluationError: unknown metric or invalid options, a test mode or precision that does
            not exist, a data set without translations for a direction, a full-reference metric
            on unpaired data, fewer images than a metric needs, or duplicate value names.
    """
    import torch

    from ..version import __version__

    device = torch.device(device)
    if precision not in PRECISIONS:
        raise EvaluationError(f"{where}.precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    if batch_size < 1:
        raise EvaluationError(f"{where}.batch_size: must be at least 1, got {batch_size}")
    if num_images is not None and num_images < 1:
        raise EvaluationError(f"{where}.num_images: must be at least 1, got {num_images}")
    if not generators:
        raise EvaluationError(f"{where}: no generator to evaluate")
    if not specs:
        raise EvaluationError(f"{where}.metrics: no metric to compute")
    info = data_info(dataset)
    plans = _plans(generators, info, specs, registry, device=device, where=where,
                   channels=dict(getattr(dataset, "channels", None) or {}))
    used = hand_over_all(references or {}, [(p.generator.name, [(s.name, m) for s, m in zip(specs, p.metrics)])
                                            for p in plans], where)
    count = len(dataset) if num_images is None else min(num_images, len(dataset))
    for plan in plans:
        for spec, metric in zip(specs, plan.metrics):
            if count < metric.min_images:
                raise EvaluationError(
                    f"{where}: metric {spec.name!r} needs at least {metric.min_images} images, but the split "
                    f"has {count} to evaluate" + (f" (num_images = {num_images})" if num_images else ""))
    digest = hashlib.sha256()
    keys = sorted({k for p in plans for k in (p.input_key, p.target_key)})
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], device_type=device.type), \
            contextlib.ExitStack() as stack:
        for plan in plans:
            plan.generator.module.to(device)
            stack.enter_context(in_test_mode(plan.generator.module, plan.generator.test_mode))
        for items in batches(dataset, count, batch_size, progress):
            fingerprint(digest, items, keys)
            for group in same_size(items, keys):
                for plan in plans:
                    _run_plan(plan, group, device, precision, seed, info.aligned)
    values, higher, metric_protocols, owners = _collect(plans, specs, where, count)
    protocol = {
        "split": split if split is not None else getattr(dataset, "split", None),
        "precision": precision,
        "batch_size": batch_size,
        "seed": seed,
        "aligned": info.aligned,
        **({"file_formats": {k: {suffix: n for key, suffix, n in info.file_formats if key == k}
                             for k in dict.fromkeys(key for key, _, _ in info.file_formats)}}
           if info.file_formats else {}),
        "generators": {p.generator.name: {"direction": p.generator.direction, "test_mode": p.generator.test_mode,
                                          "num_images": count, "input_key": p.input_key,
                                          "target_key": p.target_key,
                                          "generated_images": count if info.aligned else p.inputs.count,
                                          "real_images": count if info.aligned else p.reals.count} for p in plans},
        "inputs_sha256": digest.hexdigest(),
        "metrics": metric_protocols,
        "values_from": owners,
        "translate_version": __version__,
    }
    if used:
        protocol["references"] = used
    return EvaluationResult(values=values, protocol=protocol, higher_is_better=higher)


def _plans(generators: list[GeneratorUnderTest], info: Any, specs: list[MetricSpec], registry: Registry, *,
           device: "torch.device", where: str, channels: dict[str, int]) -> list[_Plan]:
    directions = [g.direction for g in generators]
    by_direction = len(set(directions)) == len(directions)
    plans = []
    for gen in generators:
        if gen.test_mode not in TEST_MODES:
            raise EvaluationError(f"{where}: generator {gen.name!r} has test mode {gen.test_mode!r}; "
                                  f"expected one of {', '.join(TEST_MODES)}")
        keys = info.keys_for(gen.direction)
        if keys is None:
            known = ", ".join(d for d, _, _ in info.translations) or "none"
            raise EvaluationError(
                f"{where}: the data set does not say which images a {gen.direction} generator "
                f"({gen.name!r}) reads and should produce (its DataInfo.translations cover: {known}); "
                "evaluate with a data set that has this direction")
        metrics = []
        for spec in specs:
            metric = build_metric(registry, spec, device=device, where=where, channels=channels.get(keys[1]))
            if metric.needs_aligned and not info.aligned:
                raise EvaluationError(
                    f"{where}.metrics: {spec.name!r} compares each output with its own ground truth, but this "
                    "data set is unpaired (its targets are not the ground truth of its inputs); use a "
                    "distribution metric (e.g. FID or KID) on unpaired data")
            metrics.append(metric)
        prefix = "" if len(generators) == 1 else f"{gen.direction if by_direction else gen.name}/"
        plans.append(_Plan(gen, keys[0], keys[1], metrics, prefix))
    return plans


def _run_plan(plan: _Plan, items: list[dict[str, Any]], device: "torch.device", precision: str, seed: int,
              aligned: bool) -> None:
    import torch

    every = list(range(len(items)))
    ins = every if aligned else plan.inputs.select(items, plan.input_key)
    outs = every if aligned else plan.reals.select(items, plan.target_key)
    if not ins and not outs:
        return
    x = stack_images([items[i][plan.input_key] for i in ins], items[0][plan.input_key], device)
    real = stack_images([items[i][plan.target_key] for i in outs], items[0][plan.target_key], device)
    names = [image_name(items[i], plan.input_key) for i in ins]
    fake = generate(plan.generator.module, x, names, mode=plan.generator.test_mode, device=device,
                    precision=precision, seed=seed) if ins else real[:0]
    # a super-resolution output is compared at the target's size
    if ins and outs and fake.shape[-2:] != real.shape[-2:]:
        raise EvaluationError(
            f"generator {plan.generator.name!r} turns {tuple(x.shape[-2:])} {plan.input_key!r} images into "
            f"{tuple(fake.shape[-2:])} outputs, but the {plan.target_key!r} images to compare them with are "
            f"{tuple(real.shape[-2:])} (scale_factor {scale_factor(plan.generator.module)}); evaluate on data "
            "whose targets are scale_factor times the size of its inputs")
    batch = EvalBatch(fake=fake, real=real, input=x, names=names, aligned=aligned)
    with torch.no_grad():
        for metric in plan.metrics:
            metric.update(batch)


def _collect(plans: list[_Plan], specs: list[MetricSpec], where: str, count: int
             ) -> tuple[dict[str, float], dict[str, bool], dict[str, Any], dict[str, str]]:
    """The flat values, which are better higher, each metric's protocol (with its options and image count),
    and which metric gave each value."""
    values: dict[str, float] = {}
    higher: dict[str, bool] = {}
    protocols: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for plan in plans:
        for spec, metric in zip(specs, plan.metrics):
            for name, value in metric.compute().items():
                key = plan.prefix + name
                if key in values:
                    raise EvaluationError(f"{where}.metrics: metrics {owner[key]!r} and {spec.name!r} both return "
                                          f"a value named {name!r}")
                owner[key] = spec.name
                values[key] = float(value)
                higher[key] = bool(metric.higher_is_better(name))
            protocols.setdefault(spec.name, {"options": dict(spec.options), **metric.protocol(), "num_images": count})
    return values, higher, protocols, owner
