"""The FCN-score (pix2pix, Isola et al. 2017, Table 2): segment the generated photos, compare with the labels.

Follows the authors' ``scripts/eval_cityscapes/evaluate.py``: each generated image (8-bit, as their
saved PNG results) is resized with bilinear interpolation to the size of its label map (the
original 1024x2048 gtFine labels), segmented, and the arg-max classes are counted against the
labels (train ids; 255 and ids >= the class count are not evaluated) in one confusion matrix over
the split. The three scores are computed from it as the authors' ``util.get_scores`` does
(:func:`scores`).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from translate.api import DataError, EvalBatch, Metric, MetricContext, PluginError

from .cityscapes import CLASS_NAMES, IGNORE, colour_palette
from .labels import LabelFiles, decode_palette
from .options import FCNScoreOptions

EPS = 1e-12  # the authors' guard against empty rows and columns


def confusion(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int, *, ignore_index: int = IGNORE,
              outside: str = "authors") -> tuple[torch.Tensor, bool]:
    """The ``(K, K + 1)`` confusion counts of one label map (rows: labels, columns: predictions).

    Labels outside ``0..K-1`` and ``ignore_index`` are not counted. Predicted classes ``>= K`` go to
    the last column with ``outside="wrong"``; with ``outside="authors"`` they are counted as the
    authors' ``fast_hist`` does (index ``K * label + prediction`` of a K x K table, so they spill into
    the next row's first column), and a map where that index passes the table is dropped, as there.
    Returns the counts and whether the map was dropped.
    """
    k = num_classes
    labels, predictions = labels.reshape(-1).long(), predictions.reshape(-1).long()
    keep = (labels >= 0) & (labels < k) & (labels != ignore_index)
    labels, predictions = labels[keep], predictions[keep]
    hist = torch.zeros(k, k + 1, dtype=torch.int64, device=labels.device)
    if outside == "authors":
        index = k * labels + predictions
        if index.numel() and int(index.max()) >= k * k:
            return hist, True
        hist[:, :k] = torch.bincount(index, minlength=k * k).reshape(k, k)
    else:
        index = (k + 1) * labels + predictions.clamp(max=k)
        hist += torch.bincount(index, minlength=k * (k + 1)).reshape(k, k + 1)
    return hist, False


def scores(hist: torch.Tensor) -> dict[str, Any]:
    """Pixel accuracy, mean class accuracy and mean class IoU of ``(K, K[+1])`` confusion counts.

    As the authors' ``get_scores``: ``diag / (row sums + 1e-12)`` and
    ``diag / (row + column sums - diag + 1e-12)``, averaged over all K classes (a class absent from
    labels and predictions counts 0). Also returns the per-class lists (``"class_acc"``, ``"iou"``).
    """
    hist = hist.double()
    k = hist.shape[0]
    diag = torch.diagonal(hist[:, :k])
    rows, cols = hist.sum(1), hist[:, :k].sum(0)
    acc = diag.sum() / (hist.sum() + EPS)
    class_acc = diag / (rows + EPS)
    iou = diag / (rows + cols - diag + EPS)
    return {"pixel_acc": float(acc), "mean_class_acc": float(class_acc.mean()), "mean_iou": float(iou.mean()),
            "class_acc": class_acc.tolist(), "iou": iou.tolist()}


class FCNScore(Metric):
    """``fcn_pixel_acc``, ``fcn_class_acc`` and ``fcn_iou`` of a segmenter run on the generated images."""

    needs_aligned = False  # the labels come from the input or from files, not from the real images
    larger_is_better = True

    def __init__(self, options: FCNScoreOptions, segmenter: torch.nn.Module, device: torch.device) -> None:
        self.options, self.device = options, device
        self.segmenter = segmenter.to(device).eval()
        self.num_classes = options.num_classes
        k_seg = getattr(segmenter, "num_classes", None)
        if not isinstance(k_seg, int):
            raise PluginError(f"fcn_score: segmenter {options.segmenter.name!r} has no integer num_classes attribute "
                              "(the register_segmenters contract)")
        if k_seg < self.num_classes:
            raise PluginError(f"fcn_score: segmenter {options.segmenter.name!r} predicts {k_seg} classes, fewer than "
                              f"num_classes = {self.num_classes}")
        names = list(getattr(segmenter, "class_names", []) or [])
        self.class_names = (names + [f"class_{i}" for i in range(len(names), k_seg)])[: self.num_classes]
        if options.palette is not None:
            colours, ids = options.palette, list(range(self.num_classes))
        else:
            pairs = colour_palette()
            colours, ids = [list(c) for c, _ in pairs], [t if t != IGNORE else options.ignore_index for _, t in pairs]
        self._colours = torch.tensor(colours, dtype=torch.float32, device=device)
        self._ids = torch.tensor(ids, dtype=torch.int64, device=device)
        self._files = None
        if options.labels == "files":
            self._files = LabelFiles(options.labels_dir, match=options.labels_match, values=options.label_values,
                                     ignore_index=options.ignore_index, index_base=options.index_base)
        self.reset()

    def reset(self) -> None:
        self.hist = torch.zeros(self.num_classes, self.num_classes + 1, dtype=torch.int64, device=self.device)
        self.images = self.dropped = 0
        self.label_sizes: set[tuple[int, int]] = set()

    def labels_for(self, batch: EvalBatch) -> torch.Tensor:
        """The ground-truth train ids ``(N, H, W)`` of a batch."""
        if self._files is not None:
            return self._files.batch(list(batch.names), self.device)
        if batch.input.shape[1] != 3:
            raise DataError(f"fcn_score: labels = 'input' decodes colour label maps, but the generator's input has "
                            f"{batch.input.shape[1]} channels; use labels = 'files' with labels_dir")
        return decode_palette(batch.input.to(self.device), self._colours, self._ids, self.options.palette_tolerance,
                              self.options.ignore_index)

    def prepare(self, fake: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Generated images as the segmenter sees them: 8-bit, bilinear-resized to ``size``, back in [-1, 1]."""
        x = (fake.float().clamp(-1, 1) + 1.0) * 127.5
        if self.options.quantize:
            x = x.floor()  # the authors' tensor2im truncates to uint8
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
            if self.options.quantize:
                x = x.round().clamp(0, 255)  # PIL (scipy.misc.imresize) returns 8-bit images
        return x / 127.5 - 1.0

    @torch.no_grad()
    def update(self, batch: EvalBatch) -> None:
        if self.options.images == "real" and not batch.aligned:
            raise DataError("fcn_score: images = 'real' needs paired data (each real photo with its label map)")
        if batch.fake.shape[0] == 0:  # unpaired data: this batch held only real images already translated
            return
        shown = batch.fake if self.options.images == "fake" else batch.real
        if shown.dim() != 4 or shown.shape[1] != 3:
            raise DataError(f"fcn_score: the segmenter reads RGB photos (3 channels), but the {self.options.images} "
                            f"images have {shown.shape[1] if shown.dim() == 4 else '?'} channels (shape "
                            f"{tuple(shown.shape)}); on grey, RGBA or N-channel data use l1, psnr, ssim or ms_ssim")
        labels = self.labels_for(batch)
        size = tuple(self.options.size) if self.options.size else tuple(labels.shape[-2:])
        if tuple(labels.shape[-2:]) != size:
            labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest-exact")[:, 0].long()
        self.label_sizes.add(tuple(labels.shape[-2:]))
        fake = (batch.fake if self.options.images == "fake" else batch.real).to(self.device)
        step = self.options.segment_batch
        for start in range(0, fake.shape[0], step):
            images = self.prepare(fake[start:start + step], size)
            with torch.autocast(images.device.type, enabled=False), _cudnn_tf32(self.options.tf32):
                logits = self.segmenter(images.float())
            if logits.shape[-2:] != images.shape[-2:] or logits.dim() != 4:
                raise PluginError(f"fcn_score: segmenter {self.options.segmenter.name!r} returned shape "
                                  f"{tuple(logits.shape)} for input {tuple(images.shape)}; expected (N, K, H, W)")
            predictions = logits.argmax(1)
            for i in range(predictions.shape[0]):
                hist, dropped = confusion(labels[start + i], predictions[i], self.num_classes,
                                          ignore_index=self.options.ignore_index, outside=self.options.outside_classes)
                self.hist += hist
                self.dropped += int(dropped)
                self.images += 1

    def compute(self) -> dict[str, float]:
        if int(self.hist.sum()) == 0:
            raise DataError(f"fcn_score: no labelled pixel was evaluated over {self.images} images "
                            f"({self.dropped} dropped); check the label source ({self.options.labels}) and "
                            "palette_tolerance")
        s = scores(self.hist)
        values = {"fcn_pixel_acc": s["pixel_acc"], "fcn_class_acc": s["mean_class_acc"], "fcn_iou": s["mean_iou"]}
        if self.options.per_class:
            for name, acc, iou in zip(self.class_names, s["class_acc"], s["iou"]):
                key = name.replace(" ", "_").replace("/", "_")
                values[f"fcn_acc_{key}"] = acc
                values[f"fcn_iou_{key}"] = iou
        return values

    def protocol(self) -> dict[str, Any]:
        o = self.options
        if o.labels == "files":
            held = "Cityscapes label ids mapped to train ids" if o.label_values == "cityscapes_ids" else "train ids"
            source = f"label files in {o.labels_dir} matched by item {o.labels_match}, holding {held}"
        else:
            source = (f"the generator's input decoded by nearest {'given' if o.palette else 'Cityscapes'} palette "
                      f"colour, farther than {o.palette_tolerance} ignored")
        return {
            "follows": "pix2pix scripts/eval_cityscapes/evaluate.py (FCN-score, Isola et al. 2017, Table 2)",
            "segmenter": o.segmenter.name, "segmenter_options": o.segmenter.options,
            "weights": getattr(self.segmenter, "weights_path", None),
            "weights_sha256": getattr(self.segmenter, "weights_sha256", None),
            "classes": self.class_names, "num_classes": self.num_classes, "ignore_index": o.ignore_index,
            "label_source": source,
            "resize": "generated image -> 8 bits (truncated), bilinear (half-pixel centres, as PIL in "
                      "scipy.misc.imresize), rounded to 8 bits" if o.quantize else "bilinear, no quantisation",
            "size": list(o.size) if o.size else "label size",
            "label_sizes": sorted(list(s) for s in self.label_sizes),
            "images": o.images, "outside_classes": o.outside_classes, "tf32": o.tf32, "images_dropped": self.dropped,
            "scores": "confusion matrix over all images; means over all classes as the authors' get_scores",
            "torch": torch.__version__,
        }


@contextlib.contextmanager
def _cudnn_tf32(allow: bool) -> Iterator[None]:
    """cuDNN convolutions in TensorFloat-32 or not, restored afterwards (torch allows TF32 by default)."""
    old = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = old


def build_fcn_score(options: FCNScoreOptions, ctx: MetricContext) -> FCNScore:
    """The registry factory: builds the segmenter through the registry (so any registered one works)."""
    if ctx.channels is not None and ctx.channels != 3:
        raise DataError(f"fcn_score: the segmenter reads RGB photos (3 channels), but this data's images have "
                        f"{ctx.channels} channels; on grey, RGBA or N-channel data use l1, psnr, ssim or ms_ssim")
    segmenter = ctx.build("segmenter", options.segmenter.name, options.segmenter.options)
    return FCNScore(options, segmenter, ctx.device)


__all__ = ["FCNScore", "build_fcn_score", "confusion", "scores", "CLASS_NAMES"]
