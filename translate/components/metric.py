"""The metric contract: how a metric plugin measures generated images.

A metric plugin registers ``factory(options, ctx: MetricContext) -> Metric`` in
``register_metrics``. The evaluator (``translate eval``, and the ``[eval]`` table during
training) builds one :class:`Metric` per generator it evaluates, feeds it every batch of the
split as an :class:`EvalBatch`, then asks :meth:`Metric.compute` for the values and
:meth:`Metric.protocol` for how they were obtained (written next to the values in
``evaluation.json`` and the model card).

Images reach a metric as float32 ``(N, C, H, W)`` tensors in [-1, 1] on ``ctx.device``: the
generated images (``fake``), the real images of the output domain (``real``) and the
generator's inputs (``input``). ``aligned`` says whether ``real[i]`` is the ground truth of
``fake[i]`` (paired data); full-reference metrics set ``needs_aligned`` and the evaluator refuses
them on unpaired data with a clear error instead of computing a meaningless number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass
class EvalBatch:
    """One batch of an evaluation, as a metric sees it."""

    fake: "torch.Tensor"
    real: "torch.Tensor"
    input: "torch.Tensor"
    names: list[str]
    aligned: bool = True


@dataclass
class MetricContext:
    """What a metric factory may use.

    ``device`` is where the batches arrive; ``build(kind, name, options, **kwargs)`` builds another
    registered component (for example a ``segmenter`` for a segmentation score) with its options
    validated under ``where`` (the recipe key or command-line flag that named it).
    """

    device: "torch.device"
    build: Callable[..., Any]
    where: str = "metric"


class Metric:
    """Base class of metrics: accumulate with :meth:`update`, read with :meth:`compute`.

    ``compute`` returns one or more named values (``{"psnr": 27.1}``, or
    ``{"fcn_pixel_acc": ..., "fcn_class_acc": ..., "fcn_iou": ...}``); the value names are what
    recipes and ``--metrics`` use to pick the best checkpoint, so keep them stable.
    """

    #: Whether the metric compares each output with its own ground truth (PSNR, SSIM, LPIPS, ...).
    needs_aligned: ClassVar[bool] = False
    #: Whether larger values are better, for every value this metric returns (see :meth:`higher_is_better`).
    larger_is_better: ClassVar[bool] = True
    #: The fewest images :meth:`compute` accepts (FID needs at least 2 to estimate a covariance).
    min_images: ClassVar[int] = 1

    def update(self, batch: EvalBatch) -> None:
        """Add one batch."""
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        """The values over every batch added since the last :meth:`reset`."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the batches added so far."""
        raise NotImplementedError

    def protocol(self) -> dict[str, Any]:
        """How the values were obtained, as JSON: library and version, networks and the sha256 of
        their weights, image size and resize method, ... (the evaluator adds the image count)."""
        return {}

    def higher_is_better(self, value: str) -> bool:
        """Whether a larger ``value`` (one of :meth:`compute`'s keys) is better."""
        return self.larger_is_better
