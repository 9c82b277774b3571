"""The Inception network of FID and KID: torch-fidelity's port of the 2015 TensorFlow graph.

The weights file is the one torch-fidelity publishes (converted from the TensorFlow FID code's
graph; pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` holds the same tensors under the same
names). translate finds it with :func:`translate.api.resolve_weights` and never downloads it.
torch-fidelity itself reads a weights file with PyTorch's unrestricted unpickler (which can run code
from the file), so it never gets the file: the tensors are read here with
:func:`translate.api.load_weights` (safetensors or ``weights_only=True``) and torch-fidelity gets an
in-memory copy of just those tensors.

clean-fid runs the same graph as NVIDIA's TorchScript file in its "clean" and "legacy_tensorflow"
modes, and as pytorch-fid's ``InceptionV3`` in "legacy_pytorch". A TorchScript file runs code when
loaded, so translate never loads it: :class:`InceptionFeatures` runs torch-fidelity's layers with
each mode's normalisation (and, for "legacy_tensorflow", the TorchScript's resize) written out here.
"""

from __future__ import annotations

import io
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from translate.api import ModelFileError, TranslateError, WeightsMissing, file_sha256, load_weights, resolve_weights

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


STAGES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (64, ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1")),
    (192, ("Conv2d_3b_1x1", "Conv2d_4a_3x3", "MaxPool_2")),
    (768, ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e")),
    (2048, ("Mixed_7a", "Mixed_7b", "Mixed_7c")),
)
"""torch-fidelity's submodules in order, and the width of the features after each group."""


def tf1_bilinear_resize(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """float ``(N, C, H, W)`` -> ``(N, C, size, size)``: TensorFlow 1's ``resize_bilinear`` (no half-pixel
    centres) as NVIDIA's TorchScript Inception emulates it, which clean-fid's "legacy_tensorflow" runs.

    An affine grid that maps output pixel ``i`` to input position ``i * H / size`` (the identity
    shifted by ``1/H - 1/size`` in normalised coordinates) is sampled bilinearly, clamped at the
    border. The shift is computed in float32 tensors, in the TorchScript's order.
    """
    n, c, height, width = images.shape
    theta = torch.eye(2, 3, device=images.device)
    theta[0, 2] += theta[0, 0] / width - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / height - theta[1, 1] / size
    theta = theta.to(images.dtype).unsqueeze(0).repeat([n, 1, 1])
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def normalise(images: torch.Tensor, mode: str) -> torch.Tensor:
    """clean-fid's network input of ``mode`` from float32 images in [0, 255] (the output of
    :func:`.modes.preprocess`): the same operations in the same order as clean-fid's networks."""
    if mode == "clean":
        if tuple(images.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            raise TranslateError(f"clean-fid's 'clean' mode feeds 299x299 images to Inception, got "
                                 f"{tuple(images.shape[-2:])}")
        return (images - 128) / 128
    if mode == "legacy_tensorflow":
        return (tf1_bilinear_resize(images) - 128) / 128
    if mode == "legacy_pytorch":
        return 2 * (images / 255) - 1
    raise TranslateError(f"unknown clean-fid mode {mode!r}")


class InceptionFeatures(nn.Module):
    """float32 ``(N, 3, H, W)`` network input in [0, 255] -> ``(N, feature)`` Inception features, with the
    normalisation (and, for "legacy_tensorflow", the resize) of clean-fid's ``mode``.

    The layers are torch-fidelity's port of the 2015 TensorFlow graph, run module by module here:
    torch-fidelity's own ``forward`` takes uint8 images and resizes them itself, which no mode
    does. The 2048 features are the final average pool (clean-fid's features); 64, 192 and 768 are
    torch-fidelity's average pools after ``MaxPool_1``, ``MaxPool_2`` and ``Mixed_6e`` (clean-fid
    offers only 2048), and the network stops there.
    """

    def __init__(self, path: Path, feature: int, mode: str) -> None:
        super().__init__()
        state = load_weights(path)
        try:
            self.net = build_inception(state, feature)
        except RuntimeError as err:  # load_state_dict: missing, unexpected or mis-shaped tensors
            first = str(err).strip().splitlines()
            raise ModelFileError(f"{path}: not the Inception weights that torch-fidelity's FeatureExtractorInceptionV3 "
                                 f"expects ({' '.join(first[:2])[:400]}); expected {FILENAME} from {ORIGIN}") from None
        if feature not in [width for width, _ in STAGES]:
            raise TranslateError(f"Inception has no {feature}-wide feature layer; expected one of "
                                 f"{', '.join(str(width) for width, _ in STAGES)}")
        self.path = path
        self.num_features = feature
        self.mode = mode
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "InceptionFeatures":
        """Always in evaluation mode (batch norm uses the stored statistics)."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = normalise(images.float(), self.mode)
        for width, names in STAGES:
            for name in names:
                x = getattr(self.net, name)(x)
            if width == self.num_features:
                break
        if self.num_features == 2048:
            return torch.flatten(self.net.AvgPool(x), 1)
        return F.adaptive_avg_pool2d(x, output_size=(1, 1)).squeeze(-1).squeeze(-1)

    def protocol(self) -> dict[str, Any]:
        """The feature network and its weights, as JSON."""
        sha256 = file_sha256(self.path)
        return {
            "feature_network": NETWORK,
            "feature_library": f"torch-fidelity {version('torch-fidelity')}",
            "feature_layer": str(self.num_features),
            "feature_dim": self.num_features,
            "weights_file": self.path.name,
            "weights_sha256": sha256,
            "weights_published": sha256.startswith(PUBLISHED_SHA256_PREFIX),
            "network_input_size": [INPUT_SIZE, INPUT_SIZE],
        }
