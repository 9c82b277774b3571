"""Perceptual losses (Johnson, Alahi, Fei-Fei; ECCV 2016) on a frozen timm feature network.

Both are called as ``loss(prediction, target)`` on images in [-1, 1] of shape (N, 3, H, W) and return
a float32 scalar. Images are mapped to [0, 1] and normalised with the backbone's mean and std
(timm's ``pretrained_cfg``) before the network sees them.

- :class:`PerceptualLoss`, feature reconstruction: per layer ``j`` the squared distance of the feature
  maps normalised by ``C_j H_j W_j`` (``distance="l2"``: the mean of squared differences; ``"l1"`` the
  mean absolute difference), averaged over the batch, weighted and summed over the layers.
- :class:`StyleLoss`, style reconstruction: per layer the Gram matrix ``G = F F^T / (C_j H_j W_j)`` of the
  ``C_j x (H_j W_j)`` features, then the squared Frobenius norm of the difference (``"l1"``: the sum of
  absolute differences), averaged over the batch, weighted and summed over the layers.

The network is frozen (``requires_grad=False``) and stays in eval mode; gradients flow to the
prediction. Under autocast the network runs in autocast (e.g. bf16) and the distances (and Gram
matrices) in float32. The engine moves the loss to the run's device (``trainable = False``); the
loss never moves itself and works on whatever device and dtype it was moved to.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from translate.api import TranslateError

from .backbone import Features, create_features, feature_layout, input_stats, resolve_layers
from .options import FeatureLossOptions


def _full_precision(device_type: str) -> contextlib.AbstractContextManager[object]:
    """Autocast off on ``device_type`` (a device without autocast, such as meta, has nothing to turn off)."""
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except (RuntimeError, ValueError):
        return contextlib.nullcontext()


def gram(features: torch.Tensor) -> torch.Tensor:
    """``F F^T / (C H W)`` per image: (N, C, H, W) -> (N, C, C)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


class FeatureLoss(nn.Module):
    """A weighted sum over layers of a distance between the features of prediction and target."""

    trainable = False

    def __init__(self, features: Features, indices: Sequence[int], weights: Sequence[float], distance: str,
                 mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.net = features.net
        self.weights_source = features.source
        self.ignored_keys = list(features.ignored_keys)
        self.positions = list(indices)
        self.layer_weights = [float(w) for w in weights]
        self.distance = distance
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.net.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FeatureLoss":
        """The loss network stays in eval mode (frozen, as in the paper), whatever ``mode`` asks."""
        return super().train(False)

    def _features(self, images: torch.Tensor) -> list[torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != self.mean.shape[1]:
            raise TranslateError(f"{type(self).__name__}: expected images of shape (N, {self.mean.shape[1]}, H, W) in "
                                 f"[-1, 1], got {tuple(images.shape)}")
        dtype = self.mean.dtype
        x = ((images.to(dtype) + 1) / 2 - self.mean) / self.std
        out = self.net(x)
        return [out[i] for i in self.positions]

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.shape != target.shape:
            raise TranslateError(f"{type(self).__name__}: prediction {tuple(prediction.shape)} and target "
                                 f"{tuple(target.shape)} differ in shape")
        fake = self._features(prediction)
        with torch.set_grad_enabled(torch.is_grad_enabled() and target.requires_grad):
            real = self._features(target)
        with _full_precision(prediction.device.type):
            total = prediction.new_zeros((), dtype=torch.float32)
            for weight, a, b in zip(self.layer_weights, fake, real):
                total = total + weight * self.layer_distance(a.float(), b.float())
        return total

    def layer_distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class PerceptualLoss(FeatureLoss):
    """Feature reconstruction loss: mean squared (or absolute) feature difference per layer."""

    def layer_distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(a, b) if self.distance == "l2" else F.l1_loss(a, b)


class StyleLoss(FeatureLoss):
    """Style reconstruction loss: squared Frobenius (or L1) distance of Gram matrices per layer."""

    def layer_distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        diff = gram(a) - gram(b)
        per_image = diff.square().sum((1, 2)) if self.distance == "l2" else diff.abs().sum((1, 2))
        return per_image.mean()


def _build(cls: type[FeatureLoss], options: FeatureLossOptions, kind: str, option: str) -> FeatureLoss:
    what = f"the {options.model} network of the {kind} loss"
    layout = feature_layout(options.model)
    indices = resolve_layers(layout, options.layers, what)
    wanted = sorted(set(indices))
    features = create_features(options.model, out_indices=wanted, in_chans=3, weights=options.weights,
                               weights_file=options.weights_file, what=what, option=option)
    mean, std = input_stats(features.net, 3)
    weights = options.layer_weights or [1.0] * len(indices)
    return cls(features, [wanted.index(i) for i in indices], weights, options.distance, mean, std)


def build_perceptual(options: FeatureLossOptions) -> FeatureLoss:
    """The ``perceptual`` loss component (pix2pix's role for it is "perceptual", hence the option path)."""
    return _build(PerceptualLoss, options, "perceptual", "losses.perceptual.options.weights_file")


def build_style(options: FeatureLossOptions) -> FeatureLoss:
    """The ``style`` loss component."""
    return _build(StyleLoss, options, "style", "losses.<role>.options.weights_file")
