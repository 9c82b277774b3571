"""``check_metric``: a metric built and driven the way the evaluator drives it (part of :mod:`translate.testing`)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from ..components.metric import EvalBatch, Metric, MetricContext, ReferenceStatistics
from ..errors import OptionsInvalid, PluginError, UnknownComponent
from ..plugin.registry import Component, Registry
from .losses import component_of

if TYPE_CHECKING:  # pragma: no cover
    import torch


def check_metric(source: Registry | Component, name: str | None = None, *, options: dict[str, Any] | None = None,
                 channels: int = 3, batch_size: int = 2, batches: int = 2, size: int | tuple[int, int] = 32,
                 device: str = "cpu", seed: int = 0) -> Metric:
    """Build a metric and feed it random batches as ``translate eval`` does; return it.

    Built from ``smoke_options`` (or ``options=``) with a :class:`translate.MetricContext` on
    ``device`` (``ctx.build`` builds other components when ``source`` is a registry). Checks, with
    ``AssertionError`` messages naming the metric:

    - the factory returns a :class:`translate.Metric` with a bool ``needs_aligned`` and
      ``larger_is_better`` and an int ``min_images`` of at least 1;
    - after ``update`` with paired batches (``EvalBatch`` of ``(N, channels, H, W)`` float32 images in
      [-1, 1], ``aligned=True``), ``compute()`` returns a non-empty dict of finite numbers whose
      names all match the ``values=`` the metric was registered with (it must declare them),
      ``higher_is_better(name)`` is a bool for each, and ``protocol()`` is JSON;
    - ``update`` leaves the batch's tensors unchanged; after ``reset()`` other batches give what a
      new metric gives on them (``reset`` forgets everything);
    - unless ``needs_aligned``: unpaired batches (``aligned=False``, different numbers of generated
      and real images, an empty side in one batch) give finite values too;
    - a metric that implements :class:`translate.ReferenceStatistics`: ``statistics()`` of the real
      images are numeric arrays, and after ``use_reference`` with them the values are finite.
    """
    import torch

    comp = component_of(source, "metric", name)
    where = f"metric {comp.name!r}"
    if comp.values is None:
        raise AssertionError(f"{where}: declare the value names compute() returns when registering, e.g. "
                             f"register({comp.name!r}, factory, options=..., values=({comp.name!r},)), so that "
                             "`translate check` can check eval.best")
    run = _Run(comp, where, options, source if isinstance(source, Registry) else None, torch.device(device))
    metric = run.build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        count = max(metric.min_images, batch_size * batches)
        height, width = (size, size) if isinstance(size, int) else size
        images = [torch.rand(count, channels, height, width, device=run.device) * 2 - 1 for _ in range(3)]
    paired = [EvalBatch(fake=images[0][i:i + batch_size], real=images[1][i:i + batch_size],
                        input=images[2][i:i + batch_size], names=[f"item{j}" for j in range(i, count)][:batch_size])
              for i in range(0, count, batch_size)]
    run.feed(metric, paired, "paired batches")
    other = [EvalBatch(fake=b.fake * 0.5, real=b.real, input=b.input, names=b.names) for b in paired]
    metric.reset()
    after_reset = run.feed(metric, other, "other batches after reset()")
    fresh = run.feed(run.build(), other, "other batches")
    changed = [k for k in fresh if k not in after_reset
               or not math.isclose(fresh[k], after_reset[k], rel_tol=1e-5, abs_tol=1e-6)]
    if changed:
        raise AssertionError(f"{where}: after reset() the metric gave {after_reset} where a new one gives {fresh}; "
                             "reset() must forget every batch added before it")
    if not metric.needs_aligned:
        metric.reset()
        run.feed(metric, _unpaired(images, batch_size), "unpaired batches (aligned=False)")
    if isinstance(metric, ReferenceStatistics):
        _check_reference(run, images[1], paired)
    return metric


class _Run:
    """Builds the metric and feeds it batches, checking what comes back."""

    def __init__(self, comp: Component, where: str, options: dict[str, Any] | None, registry: Registry | None,
                 device: "torch.device") -> None:
        self.comp, self.where, self.registry, self.device = comp, where, registry, device
        self.options = comp.smoke_options if options is None else options

    def _build_other(self, kind: str, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if self.registry is None:
            raise AssertionError(f"{self.where}: it builds a {kind} {name!r} through ctx.build; pass the registry "
                                 "that holds it to check_metric instead of the component")
        try:
            return self.registry.create(kind, name, options, path=f"options.{kind}", **kwargs)
        except (UnknownComponent, OptionsInvalid) as err:
            raise AssertionError(f"{self.where}: ctx.build({kind!r}, {name!r}) failed: {err}") from None

    def build(self) -> Metric:
        ctx = MetricContext(device=self.device, build=self._build_other, where=f"eval.options.{self.comp.name}")
        try:
            metric = self.comp.build(self.options, ctx, path=f"eval.options.{self.comp.name}")
        except (OptionsInvalid, PluginError) as err:
            raise AssertionError(f"{self.where}: options {self.options!r} rejected: {err}") from None
        if not isinstance(metric, Metric):
            raise AssertionError(f"{self.where}: the factory returned a {type(metric).__name__}, not a "
                                 "translate.Metric (subclass it)")
        for attr in ("needs_aligned", "larger_is_better"):
            if not isinstance(getattr(metric, attr), bool):
                raise AssertionError(f"{self.where}: {attr} must be a bool, got {getattr(metric, attr)!r}")
        minimum = metric.min_images
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            raise AssertionError(f"{self.where}: min_images must be an int of at least 1, got {minimum!r}")
        return metric

    def feed(self, metric: Metric, batches: list[EvalBatch], what: str) -> dict[str, float]:
        """``update`` with every batch (which must stay unchanged), then the checked ``compute()``."""
        for batch in batches:
            before = [t.clone() for t in (batch.fake, batch.real, batch.input)]
            try:
                metric.update(batch)
            except Exception as err:  # noqa: BLE001 - the metric's failure is the finding
                raise AssertionError(f"{self.where}: update() on {what} raised {type(err).__name__}: {err} (batch: "
                                     f"{len(batch.fake)} generated, {len(batch.real)} real images)") from err
            after = (batch.fake, batch.real, batch.input)
            if any(a.shape != b.shape or not bool((a == b).all()) for a, b in zip(before, after)):
                raise AssertionError(f"{self.where}: update() changed the batch's images in place; work on copies")
        return self.values(metric, what)

    def values(self, metric: Metric, what: str) -> dict[str, float]:
        try:
            result = metric.compute()
        except Exception as err:  # noqa: BLE001 - the metric's failure is the finding
            raise AssertionError(f"{self.where}: compute() on {what} raised {type(err).__name__}: {err}") from err
        if not isinstance(result, dict) or not result:
            raise AssertionError(f"{self.where}: compute() on {what} returned {result!r}, expected a non-empty dict "
                                 "of value name -> number")
        out: dict[str, float] = {}
        for key, value in result.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise AssertionError(f"{self.where}: compute() on {what}: {key!r} is {value!r}, not a number") \
                    from None
            if not math.isfinite(number):
                raise AssertionError(f"{self.where}: compute() on {what}: {key!r} is {number} on random images")
            if not isinstance(key, str) or not self.comp.gives(key):
                raise AssertionError(f"{self.where}: compute() returned {key!r}, which its registered values "
                                     f"{self.comp.values} do not match; declare every name (or an fnmatch pattern "
                                     "such as 'fcn_iou_*') in register(..., values=...)")
            if not isinstance(metric.higher_is_better(key), bool):
                raise AssertionError(f"{self.where}: higher_is_better({key!r}) is not a bool")
            out[key] = number
        try:
            json.dumps(metric.protocol(), allow_nan=False)
        except (TypeError, ValueError) as err:
            raise AssertionError(f"{self.where}: protocol() is not plain JSON: {err}") from None
        if not isinstance(metric.protocol(), dict):
            raise AssertionError(f"{self.where}: protocol() must return a dict")
        return out


def _unpaired(images: list["torch.Tensor"], batch_size: int) -> list[EvalBatch]:
    """Batches as the evaluator makes them on unpaired data (each image given once): the real images all in a
    first batch without generated ones, then the generated images in batches without real ones."""
    fake, real, inputs = images
    count = fake.shape[0]
    out = [EvalBatch(fake=fake[:0], real=real, input=inputs[:0], names=[], aligned=False)]
    for i in range(0, count, batch_size):
        j = min(i + batch_size, count)
        out.append(EvalBatch(fake=fake[i:j], real=real[:0], input=inputs[i:j],
                             names=[f"item{k}" for k in range(i, j)], aligned=False))
    return out


def _check_reference(run: _Run, real: "torch.Tensor", paired: list[EvalBatch]) -> None:
    import numpy as np

    metric = run.build()
    metric.add_real(real)  # type: ignore[attr-defined]
    arrays = metric.statistics()  # type: ignore[attr-defined]
    if not isinstance(arrays, dict) or not arrays:
        raise AssertionError(f"{run.where}: statistics() returned {type(arrays).__name__}, expected named arrays")
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biufcU":
            raise AssertionError(f"{run.where}: statistics()[{key!r}] is {type(value).__name__}; expected a numeric "
                                 "or string numpy array (saved to .npz and read back without unpickling)")
    fresh = run.build()
    fresh.use_reference(arrays, "check_metric statistics")  # type: ignore[attr-defined]
    run.feed(fresh, paired, "batches compared with saved statistics (use_reference)")


__all__ = ["check_metric"]
