"""The Inception network of FID and KID: torch-fidelity's port of the 2015 TensorFlow graph.

The weights file is the one torch-fidelity publishes (converted from the TensorFlow FID code's
graph, so that the features match the original FID implementation). translate finds it with
:func:`translate.api.resolve_weights` and never downloads it. torch-fidelity itself reads a weights
file with PyTorch's unrestricted unpickler (which can run code from the file), so it never gets the file: the
tensors are read here with :func:`translate.api.load_weights` (safetensors or
``weights_only=True``) and torch-fidelity gets an in-memory copy of just those tensors.
"""

from __future__ import annotations

import io
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from translate.api import ModelFileError, WeightsMissing, file_sha256, load_weights, resolve_weights

FILENAME = "weights-inception-2015-12-05-6726825d.pth"
"""torch-fidelity's release file, under the name torch.hub caches it (as torch-fidelity and torchmetrics do)."""
ORIGIN = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
ALTERNATIVE = "pt_inception-2015-12-05-6726825d.pth"
"""pytorch-fid's name for the converted weights (the same sha256 prefix); searched for when FILENAME is absent."""
PUBLISHED_SHA256_PREFIX = "6726825d"
INPUT_SIZE = 299
NETWORK = "inception-v3-compat (TensorFlow FID graph 2015-12-05, ported by torch-fidelity)"


def resolve_inception(spec: str | None, *, option: str, metric: str) -> Path:
    """The local Inception weights file (see :func:`translate.api.resolve_weights`).

    Without ``spec``, pytorch-fid's name for the file is tried when torch-fidelity's is not found.
    """
    what = f"the Inception network of {metric}"
    try:
        return resolve_weights(spec, filename=FILENAME, what=what, origin=ORIGIN, option=option)
    except WeightsMissing:
        if spec is not None:
            raise
        try:
            return resolve_weights(None, filename=ALTERNATIVE, what=what, origin=ORIGIN, option=option)
        except WeightsMissing:
            pass
        raise


def build_inception(state_dict: dict[str, torch.Tensor], feature: int) -> nn.Module:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` giving the ``feature``-wide layer, with ``state_dict``."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    buffer = io.BytesIO()
    torch.save(state_dict, buffer)  # only the tensors read safely above; torch-fidelity unpickles this copy
    buffer.seek(0)
    return FeatureExtractorInceptionV3("inception-v3-compat", [str(feature)], feature_extractor_weights_path=buffer)


def clean_resize(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` -> uint8 ``(N, C, size, size)`` by antialiased bicubic interpolation.

    torch's antialiased bicubic is PIL's ``Image.resize(..., BICUBIC)`` on float images (clean-fid's
    "clean" resize) to within a hundredth of a grey level; the result is rounded to uint8.
    """
    if tuple(images.shape[-2:]) == (size, size):
        return images
    resized = F.interpolate(images.float(), size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return resized.clamp(0, 255).round().to(torch.uint8)


class InceptionFeatures(nn.Module):
    """``(N, 3, H, W)`` uint8 images -> ``(N, feature)`` Inception features, resized as ``resize`` says.

    ``clean``: antialiased bicubic resize to 299x299 of the uint8 image (torch's antialiased bicubic
    follows PIL's, as clean-fid does), rounded back to uint8 because torch-fidelity's network takes
    uint8, whose own bilinear resize is then the identity. ``tf_bilinear``: the image goes in at its
    size and torch-fidelity resizes it as TensorFlow 1's ``resize_bilinear`` (the original FID code).
    """

    def __init__(self, path: Path, feature: int, resize: str) -> None:
        super().__init__()
        state = load_weights(path)
        try:
            self.net = build_inception(state, feature)
        except RuntimeError as err:  # load_state_dict: missing, unexpected or mis-shaped tensors
            first = str(err).strip().splitlines()
            raise ModelFileError(f"{path}: not the Inception weights that torch-fidelity's FeatureExtractorInceptionV3 "
                                 f"expects ({' '.join(first[:2])[:400]}); expected {FILENAME} from {ORIGIN}") from None
        self.path = path
        self.num_features = feature
        self.resize = resize
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "InceptionFeatures":
        """Always in evaluation mode (batch norm uses the stored statistics)."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.resize == "clean":
            images = clean_resize(images)
        return self.net(images)[0]

    def protocol(self) -> dict[str, Any]:
        """The feature network, its weights and the resize, as JSON."""
        return {
            "feature_network": NETWORK,
            "feature_library": f"torch-fidelity {version('torch-fidelity')}",
            "feature_layer": str(self.num_features),
            "feature_dim": self.num_features,
            "weights_file": self.path.name,
            "weights_sha256": file_sha256(self.path),
            "weights_published": file_sha256(self.path).startswith(PUBLISHED_SHA256_PREFIX),
            "network_input_size": [INPUT_SIZE, INPUT_SIZE],
            "resize": {
                "clean": "clean: images quantised to uint8, antialiased bicubic resize to 299x299 (as clean-fid), "
                         "rounded to uint8",
                "tf_bilinear": "tf_bilinear: images quantised to uint8, resized to 299x299 by torch-fidelity's "
                               "TensorFlow-1-compatible bilinear interpolation (as the original FID code)",
            }[self.resize],
        }
