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
them on unpaired data with a clear error instead of computing a meaningless number. On unpaired
data each distinct input is translated once and each distinct real image given once, as the papers
count them (120 horses against 140 zebras: :mod:`translate.evaluation.unpaired`), so ``fake`` (with
``input``) and ``real`` may differ in length and either may be empty (0 rows) in a batch.

A metric that compares generated images with *statistics* of the real ones (FID: their Inception
mean and covariance; KID: their features) may also implement :class:`ReferenceStatistics`: the
statistics of a set of real images are then computed once and saved (``translate eval stats``),
published (clean-fid's ``.npz`` files) and compared against instead of real images
(``translate eval --reference FILE``, ``[eval] reference``). The core reads and writes the files
(``numpy`` arrays, never pickled, fingerprinted in the protocol); the metric says what they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
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
    validated under ``where`` (the recipe key or command-line flag that named it). ``channels`` is
    the channel count of the images to be measured (the generator's outputs and the real images of
    its output domain) when the evaluator knows it, else None: a metric whose network reads RGB
    refuses other counts in its factory, before it loads any weights.
    """

    device: "torch.device"
    build: Callable[..., Any]
    where: str = "metric"
    channels: int | None = None


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


@runtime_checkable
class ReferenceStatistics(Protocol):
    """A metric that can summarise real images as arrays, and compare with such a summary later.

    - ``add_real(images)``: add real images only (``(N, C, H, W)`` float32 in [-1, 1] on the
      metric's device), as ``translate eval stats`` does for a folder or a split.
    - ``statistics()``: the statistics of the real images added so far, as named arrays (written to
      an ``.npz`` file; numbers and strings only: a file is read back without unpickling). Include
      what decides whether two files compare (the mode, the feature width): clean-fid's files hold
      ``mu`` and ``sigma`` (FID) or ``feats`` (KID).
    - ``use_reference(arrays, source)``: compare later generated images with ``arrays`` (read from
      the file ``source``, its name given for messages and for what a published file's name says)
      instead of the real images of each batch, which are then ignored. Raise
      :class:`translate.TranslateError` naming ``source`` when the arrays do not fit (missing keys,
      another feature width, another mode).

    The evaluator records the file's name and sha256 in the protocol; the metric's own
    :meth:`Metric.protocol` says how the statistics were made.
    """

    def add_real(self, images: "torch.Tensor") -> None: ...

    def statistics(self) -> dict[str, "np.ndarray"]: ...

    def use_reference(self, arrays: dict[str, "np.ndarray"], source: str) -> None: ...
