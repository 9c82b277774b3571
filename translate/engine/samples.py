"""Sample grids: one row per image, one column per labelled output, row groups stacked.

Columns of one row group may differ in size: a super-resolution method (a generator with
``scale_factor`` 4, :mod:`translate.nn.traits`) shows a 16x16 input next to its 64x64 output and
target. Every image smaller than the group's largest is upsampled to it for display with
``nearest`` interpolation, so the columns stay aligned and the input shows its own pixels
(no smoothing that would make the low-resolution input look better than it is). Row groups of
different widths are padded on the right.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F


def _to_rgb(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 4:
        return x[:, :3]
    if x.shape[1] == 2:
        return torch.cat([x, x[:, :1]], dim=1)
    return x[:, :3]


def make_grid(groups: list[list[tuple[str, torch.Tensor]]], pad: int = 2) -> torch.Tensor:
    """Assemble row groups of ``(label, (N, C, H, W))`` columns into one (3, H', W') image in [-1, 1].

    Within a group, smaller columns are upsampled (nearest) to the largest height and width.
    """
    lines: list[torch.Tensor] = []  # one (3, h, W) strip per image
    for columns in groups:
        h = max(t.shape[2] for _, t in columns)
        w = max(t.shape[3] for _, t in columns)
        cols = []
        for _, t in columns:
            t = _to_rgb(t.detach().float().cpu().clamp(-1, 1))
            if t.shape[2:] != (h, w):
                t = F.interpolate(t, size=(h, w), mode="nearest")
            cols.append(F.pad(t, (pad, pad, pad, pad), value=1.0))
        lines.extend(torch.cat(cols, dim=3))  # columns side by side, one strip per image
    width = max(line.shape[2] for line in lines)
    lines = [F.pad(line, (0, width - line.shape[2]), value=1.0) for line in lines]
    return torch.cat(lines, dim=1)


def save_grid(groups: list[list[tuple[str, torch.Tensor]]], path: Path) -> Path:
    """Write a sample grid PNG atomically."""
    from ..data.imageio import save_image

    save_image(make_grid(groups), path)
    return path
