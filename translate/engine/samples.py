"""Sample grids: one row per image, one column per labelled output, row groups stacked, each group under a
strip naming its columns (``input | output | target`` for pix2pix, ``real_A | fake_B | rec_A`` for CycleGAN).

Columns of one row group may differ in size: a super-resolution method (a generator with
``scale_factor`` 4, :mod:`translate.nn.traits`) shows a 16x16 input next to its 64x64 output and
target. Every image smaller than the group's largest is upsampled to it for display with
``nearest`` interpolation, so the columns stay aligned and the input shows its own pixels
(no smoothing that would make the low-resolution input look better than it is). Row groups of
different widths are padded on the right.

Grids are 8-bit RGB PNGs whatever the data: grey images are shown grey, 2-channel images as
(1, 2, 1), and images of 3 or more channels by their first three as RGB (RGBA without its alpha; the
first three bands of N-channel data). 16-bit data is shown at 8 bits.
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


LABEL_HEIGHT = 12
"""Pixels of the strip above each row group that names its columns (``input | output | target``)."""


def label_strip(labels: list[str], width: int, height: int = LABEL_HEIGHT) -> torch.Tensor:
    """A ``(3, height, len(labels) * width)`` white strip in [-1, 1] with each label written, dark and centred,
    over its ``width``-pixel column (cut short, ending in ``.``, where it does not fit)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (len(labels) * width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for i, label in enumerate(labels):
        text = label
        while text and draw.textlength(text, font=font) > width - 2:
            text = text[:-2] + "." if len(text) > 2 else ""
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = i * width + (width - (right - left)) // 2 - left
        draw.text((x, (height - (bottom - top)) // 2 - top), text, fill=40, font=font)
    grey = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0)
    return grey.expand(3, -1, -1).clone()


def make_grid(groups: list[list[tuple[str, torch.Tensor]]], pad: int = 2, labels: bool = True) -> torch.Tensor:
    """Assemble row groups of ``(label, (N, C, H, W))`` columns into one (3, H', W') image in [-1, 1].

    Within a group, smaller columns are upsampled (nearest) to the largest height and width. With ``labels``
    each group starts with a strip naming its columns (:func:`label_strip`, :data:`LABEL_HEIGHT` pixels).
    """
    lines: list[torch.Tensor] = []  # one (3, h, W) strip per image (and per group's labels)
    for columns in groups:
        h = max(t.shape[2] for _, t in columns)
        w = max(t.shape[3] for _, t in columns)
        if labels:
            lines.append(label_strip([name for name, _ in columns], w + 2 * pad))
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
