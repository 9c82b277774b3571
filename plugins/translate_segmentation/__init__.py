"""Built-in segmentation score: the ``fcn8s`` segmenter and the ``fcn_score`` metric (pix2pix Table 2).

- ``fcn8s`` (kind ``segmenter``): FCN-8s in the Caffe layout of the pix2pix authors' Cityscapes model;
  its weights are the authors' caffemodel converted with
  ``translate convert-fcn8s`` (never random weights).
- ``fcn_score`` (kind ``metric``): per-pixel accuracy, per-class accuracy and class IoU of any
  registered segmenter run on the generated images, against label maps decoded from the
  generator's input or read from label files, as the authors' ``evaluate.py`` computes them.

Torch is imported only when a factory runs.
"""

from __future__ import annotations

from typing import Callable

from translate.api import hookimpl, lazy_factory

from .options import FCN8sOptions, FCNScoreOptions


@hookimpl
def register_segmenters(register: Callable[..., None]) -> None:
    register("fcn8s", lazy_factory(f"{__name__}.fcn8s", "build_fcn8s"), options=FCN8sOptions,
             smoke_options={"num_classes": 3, "width": 2},
             description="FCN-8s (VGG-16, Caffe layout) with the pix2pix authors' Cityscapes weights, converted")


@hookimpl
def register_metrics(register: Callable[..., None]) -> None:
    register("fcn_score", lazy_factory(f"{__name__}.score", "build_fcn_score"), options=FCNScoreOptions,
             values=("fcn_pixel_acc", "fcn_class_acc", "fcn_iou", "fcn_acc_*", "fcn_iou_*"),
             smoke_options={"num_classes": 3,
                            "segmenter": {"name": "fcn8s", "options": {"num_classes": 3, "width": 2}}},
             description="FCN-score (pix2pix Table 2) of a segmenter run on the generated photos against label "
                         "maps; values fcn_pixel_acc, fcn_class_acc, fcn_iou (larger is better)")


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("convert-fcn8s", lazy_factory(f"{__name__}.convert_caffe", "run"),
             arguments=lazy_factory(f"{__name__}.convert_caffe", "add_arguments"),
             description="convert the pix2pix authors' FCN-8s Cityscapes caffemodel for the fcn8s segmenter")
    register("prepare-cityscapes", lazy_factory(f"{__name__}.prepare_cityscapes", "run"),
             arguments=lazy_factory(f"{__name__}.prepare_cityscapes", "add_arguments"),
             description="make pix2pix Cityscapes A|B pairs from the original Cityscapes files")
