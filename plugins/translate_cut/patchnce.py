"""PatchNCE (Park et al., ECCV 2020): the projection heads that sample patches, and the InfoNCE loss.

For one feature layer, ``PatchSampleMLP`` takes ``num_patches`` positions of the ``H x W`` map
(random, without replacement; the same positions for every image of the batch, as the authors),
gathers each image's feature vectors there, passes them through that layer's head (Linear, ReLU,
Linear, ``mlp_channels`` wide) and L2-normalises them: ``(N, P, mlp_channels)``. The *key* pass (the
input image) draws the positions, the *query* pass (the output image) reuses them, so that query
``p`` and key ``p`` come from the same place.

``PatchNCELoss`` then scores, for each image ``n`` and patch ``p``, the similarity of query
``q[n, p]`` to its positive ``k[n, p]`` against the negatives ``k[n, p']`` (``p' != p``, the same
image; or every patch of the batch with ``negatives = "batch"``), at temperature tau:
``-log softmax(q . k / tau)`` at the positive, averaged over patches and images. Keys are
detached (no gradient through the input's features), as in the authors' code.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from translate.api import init_weights


def l2_normalise(x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``x / (||x||_2 + eps)`` along the last dimension (the authors' ``Normalize(2)``, the same values).

    The squared norm is clamped at 1e-30 before the square root: an all-zero vector (a head whose
    ReLU layer is all zero) then gets a zero gradient instead of the authors' NaN.
    """
    return x / (x.pow(2).sum(-1, keepdim=True).clamp_min(1e-30).pow(0.5) + eps)


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or as it is when it is float64 (bf16/fp16 features are scored in float32)."""
    return x if x.dtype == torch.float64 else x.float()


def sample_positions(n_positions: int, num_patches: int, device: torch.device | str) -> torch.Tensor:
    """``min(num_patches, n_positions)`` distinct flat positions from torch's global generator (resumable)."""
    ids = torch.randperm(n_positions)[: min(num_patches, n_positions)]
    return ids.to(device)


class PatchSampleMLP(nn.Module):
    """One projection head per feature layer (``mlp_0``, ``mlp_1``, ... as in the authors' ``PatchSampleF``).

    Args:
        channels: channels of each layer's features. None creates the heads on the first call from
            the features' shapes, as the authors do (a method that trains the heads builds them up
            front instead: its optimizer and checkpoints need the parameters before the first batch).
        mlp_channels: width of the heads; use_mlp: False for L2-normalised features without heads.
        init, init_gain: the heads' initialisation (``translate.init_weights``).
    """

    def __init__(self, channels: Sequence[int] | None = None, *, mlp_channels: int = 256, use_mlp: bool = True,
                 init: str = "xavier", init_gain: float = 0.02) -> None:
        super().__init__()
        self.mlp_channels, self.use_mlp = mlp_channels, use_mlp
        self.init, self.init_gain = init, init_gain
        self.built = False
        if channels is not None:
            self.build(channels)

    def build(self, channels: Sequence[int]) -> None:
        """Create and initialise the heads for features of ``channels``."""
        if self.use_mlp:
            for i, c in enumerate(channels):
                head = nn.Sequential(nn.Linear(int(c), self.mlp_channels), nn.ReLU(),
                                     nn.Linear(self.mlp_channels, self.mlp_channels))
                self.add_module(f"mlp_{i}", head)
            init_weights(self, self.init, self.init_gain)
        self.built = True

    def forward(self, feats: Sequence[torch.Tensor], num_patches: int,
                positions: Sequence[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Sampled, projected, normalised features ``(N, P, C')`` per layer, and the positions used.

        ``positions`` (one 1-D index tensor per layer, into the flattened ``H * W``) reuses another
        pass's positions; None draws new ones with :func:`sample_positions`.
        """
        if not self.built:
            self.build([f.shape[1] for f in feats])
        out, used = [], []
        for i, feat in enumerate(feats):
            flat = feat.flatten(2)  # (N, C, H*W)
            ids = positions[i] if positions is not None else self.draw(flat.shape[2], num_patches, feat.device)
            # gathered along the last axis, then transposed: the gradient that flows back into ``feat`` keeps
            # its layout. (The authors gather from ``feat.permute(0, 2, 3, 1)``, whose gradient arrives
            # channels_last, and PyTorch's CPU instance_norm backward is wrong for a channels_last gradient
            # of a batch of one: docs/cut.md, "Differences from the authors' code".)
            x = flat[:, :, ids.to(feat.device)].transpose(1, 2)  # (N, P, C)
            if self.use_mlp:
                x = getattr(self, f"mlp_{i}")(x)
            out.append(l2_normalise(at_least_fp32(x)))
            used.append(ids)
        return out, used

    def draw(self, n_positions: int, num_patches: int, device: torch.device) -> torch.Tensor:
        """New positions for one layer (overridable, e.g. to replay another implementation's draws)."""
        return sample_positions(n_positions, num_patches, device)


class PatchNCELoss(nn.Module):
    """InfoNCE over patches; see the module docstring.

    Called as ``loss(query, key)`` with either projected patches ``(N, P, C)`` (used as given:
    already normalised) or raw feature maps ``(N, C, H, W)`` (``num_patches`` shared positions are
    sampled and L2-normalised, the authors' ``netF = sample``). Returns the mean over patches and
    images, a float32 scalar; :meth:`per_patch` gives the ``(N * P,)`` values.
    """

    def __init__(self, temperature: float = 0.07, num_patches: int = 256, negatives: str = "image") -> None:
        super().__init__()
        if negatives not in ("image", "batch"):
            raise ValueError(f"negatives: expected 'image' or 'batch', got {negatives!r}")
        self.temperature, self.num_patches, self.negatives = temperature, num_patches, negatives

    def per_patch(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """``-log p(positive)`` of each query patch, ``(N * P,)``, image-major."""
        if query.shape != key.shape or query.dim() != 3:
            raise ValueError(f"PatchNCE expects query and key of the same shape (N, P, C), got "
                             f"{tuple(query.shape)} and {tuple(key.shape)}")
        with torch.autocast(query.device.type, enabled=False):
            q, k = at_least_fp32(query), at_least_fp32(key.detach())
            if self.negatives == "batch":
                q, k = q.reshape(1, -1, q.shape[-1]), k.reshape(1, -1, k.shape[-1])
            logits = torch.bmm(q, k.transpose(1, 2)) / self.temperature  # (B, P, P): positives on the diagonal
            b, p, _ = logits.shape
            target = torch.arange(p, device=logits.device).repeat(b)
            return F.cross_entropy(logits.reshape(b * p, p), target, reduction="none")

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        if query.dim() == 4:
            heads = PatchSampleMLP([query.shape[1]], use_mlp=False)
            (k,), ids = heads([key], self.num_patches)
            (q,), _ = heads([query], self.num_patches, ids)
            query, key = q, k
        return self.per_patch(query, key).mean()
