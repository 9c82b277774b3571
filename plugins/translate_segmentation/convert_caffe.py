"""Convert the pix2pix authors' FCN-8s Cityscapes caffemodel to a safetensors file for ``fcn8s``.

Usage::

    translate convert-fcn8s fcn-8s-cityscapes.caffemodel fcn8s_cityscapes.safetensors

The caffemodel comes from the authors' ``scripts/eval_cityscapes/download_fcn8s.sh``
(:data:`~translate_segmentation.fcn8s.CAFFEMODEL_URL`). Neither Caffe nor protobuf is needed; the
result is checked by loading it into :class:`~translate_segmentation.fcn8s.FCN8s` before it is
written (atomically; an existing file is replaced only with ``--force``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from translate.api import ModelFileError, file_sha256

from .caffe_proto import CaffeLayer, read_caffemodel
from .fcn8s import CAFFE_NAMES, CAFFEMODEL_URL, NO_BIAS, WEIGHTS_FILE, FCN8s, load_into


def caffe_state_dict(layers: list[CaffeLayer], source: object) -> dict[str, torch.Tensor]:
    """The FCN-8s state dict from a caffemodel's layers (by Caffe layer name, see ``CAFFE_NAMES``).

    Raises:
        ModelFileError: a layer is missing or has the wrong number of blobs.
    """
    by_name = {layer.name: layer for layer in layers if layer.blobs}
    missing = [name for name in CAFFE_NAMES if name not in by_name]
    if missing:
        present = ", ".join(sorted(by_name)) or "none"
        raise ModelFileError(f"{source}: not the FCN-8s caffemodel: no layer {', '.join(missing)} with weights "
                             f"(layers with weights: {present})")
    state: dict[str, torch.Tensor] = {}
    for caffe_name, prefix in CAFFE_NAMES.items():
        blobs = by_name[caffe_name].blobs
        expected = 1 if caffe_name in NO_BIAS else 2
        if len(blobs) != expected:
            raise ModelFileError(f"{source}: layer {caffe_name} has {len(blobs)} blobs, expected {expected} "
                                 f"({'weight' if expected == 1 else 'weight and bias'})")
        state[f"{prefix}.weight"] = torch.from_numpy(blobs[0].copy())
        if expected == 2:
            state[f"{prefix}.bias"] = torch.from_numpy(blobs[1].reshape(-1).copy())
    return state


def convert(caffemodel: str | os.PathLike[str], output: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Read ``caffemodel``, check it against FCN-8s and write ``output`` (safetensors) atomically.

    The number of classes and the width are taken from the file (``score_fr``, ``conv1_1``).

    Raises:
        ModelFileError: not a caffemodel, a layer missing, shapes that are not FCN-8s, or
            ``output`` exists and ``force`` is false.
    """
    from safetensors.torch import save_file

    caffemodel, output = Path(caffemodel), Path(output)
    if output.suffix != ".safetensors":
        raise ModelFileError(f"{output}: the output must be a .safetensors file")
    if output.exists() and not force:
        raise ModelFileError(f"{output} exists; pass --force to replace it")
    state = caffe_state_dict(read_caffemodel(caffemodel), caffemodel)
    conv1 = state["conv1_1.weight"]
    if conv1.dim() != 4 or conv1.shape[1] != 3:
        raise ModelFileError(f"{caffemodel}: conv1_1 has shape {tuple(conv1.shape)}, expected (width, 3, 3, 3)")
    num_classes, width = int(state["score_fr.weight"].shape[0]), int(conv1.shape[0])
    load_into(FCN8s(num_classes, width=width), state, caffemodel)  # every name and shape as FCN-8s has them
    metadata = {"format": "pt", "architecture": "fcn8s", "num_classes": str(num_classes), "width": str(width),
                "source": caffemodel.name, "source_sha256": file_sha256(caffemodel), "source_url": CAFFEMODEL_URL}
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output


DESCRIPTION = ("Convert the pix2pix authors' FCN-8s Cityscapes caffemodel to safetensors for the fcn8s "
               "segmenter.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``translate convert-fcn8s``."""
    parser.description = f"{DESCRIPTION} ({CAFFEMODEL_URL})"
    parser.add_argument("caffemodel", help="fcn-8s-cityscapes.caffemodel")
    parser.add_argument("output", nargs="?", default=WEIGHTS_FILE, help=f"output file (default {WEIGHTS_FILE})")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")


def run(args: argparse.Namespace) -> int:
    """Convert; a bad or missing caffemodel raises :class:`TranslateError`."""
    out = convert(args.caffemodel, args.output, force=args.force)
    print(f"wrote {out} (sha256 {file_sha256(out)})")
    print(f"use it with weights = \"{out}\" in the fcn8s segmenter options, or put it in ~/.cache/translate/weights/")
    return 0
