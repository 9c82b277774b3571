"""Large images in overlapping tiles, blended with cosine windows (``tile=N``, ``--tile N --tile-overlap M``).

An image larger than one ``N x N`` tile runs as overlapping tiles, at most ``batch_size`` of them
per forward pass, so the network's memory is bounded by the tile size whatever the image size
(the image itself and the output accumulator stay in host memory). Tiles are spread evenly over
the image, inside it, with at least ``M`` pixels of overlap (default ``min(32, N // 4)``); an axis
shorter than a tile gets one tile, padded by the translator. Each tile's output is weighted by a
separable cosine window that ramps up across the overlap with each neighbour (not at the image
border) and the weighted sum is normalised, so seams are blended smoothly and a pointwise network
gives exactly the untiled result.

Generators that change resolution (``scale``, a generator's ``scale_factor``): tiles are laid
out on the input as above, and everything on the output side is ``scale`` times it: a tile at
``(y, x)`` of ``th x tw`` input pixels gives an output block at ``(scale * y, scale * x)`` of
``scale * th x scale * tw`` pixels, the blending windows ramp over ``scale`` times the input
overlap, and the blended output is ``scale * H x scale * W``.

A network whose receptive field is wider than the overlap (a U-Net's bottleneck sees its whole
input) gives a different result per tile than on the whole image, as it sees less context: use
the largest tile memory allows (or the training crop size, which reproduces the training
conditions). An image that fits in one tile runs untiled (identical results). In ``train`` mode
each tile is normalised with its own BatchNorm statistics (a different result from the whole
image's statistics; small tiles make it worse) and its dropout is seeded from the image and the
tile's position.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

Forward = Callable[[list[np.ndarray], str], list[np.ndarray]]
"""``forward(crops, key) -> outputs``: runs same-sized image-space crops as one batch; ``key`` seeds dropout."""


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``, spread evenly, overlapping by >= ``overlap``.

    A length up to ``tile`` gets one tile at 0 (the caller pads it).
    """
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _ramp(k: int) -> np.ndarray:
    """A rising cosine ramp of ``k`` strictly positive weights; ``ramp + ramp[::-1] == 1``."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)).astype(np.float32)


def tile_windows(starts: list[int], extent: int) -> list[np.ndarray]:
    """One weight vector per tile: 1, ramping over the overlap with each neighbour (not at the borders)."""
    windows = []
    for i, s in enumerate(starts):
        w = np.ones(extent, dtype=np.float32)
        if i > 0:
            k = starts[i - 1] + extent - s
            if k > 0:
                w[:k] *= _ramp(k)
        if i + 1 < len(starts):
            k = s + extent - starts[i + 1]
            if k > 0:
                w[extent - k :] *= _ramp(k)[::-1]
        windows.append(w)
    return windows


def translate_tiles(
    image: np.ndarray,
    forward: Forward,
    *,
    tile: int,
    overlap: int,
    batch_size: int,
    out_channels: int,
    key: str = "",
    scale: int = 1,
) -> np.ndarray:
    """Translate one ``(H, W, C)`` image in overlapping tiles and blend their outputs (see the module doc).

    Args:
        image: the image, in image space.
        forward: runs up to ``batch_size`` crops of ``min(H, tile) x min(W, tile)`` pixels.
        tile: the tile side.
        overlap: the least overlap between neighbouring tiles (``0 <= overlap < tile``).
        batch_size: tiles per forward pass.
        out_channels: channels of the network's output.
        key: the image's dropout key; each batch gets ``key@tileY,X`` of its first tile (input coordinates).
        scale: the generator's scale factor: each crop's output is ``scale`` times its size.

    Returns:
        ``(scale * H, scale * W, out_channels)`` float32, the normalised blend of the tiles' outputs.
    """
    height, width = image.shape[:2]
    th, tw = min(height, tile), min(width, tile)  # the tile's extent in the image
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    oy, ox = [y * scale for y in ys], [x * scale for x in xs]  # tile starts on the output side
    oth, otw = th * scale, tw * scale  # a tile's extent in the output
    wy, wx = tile_windows(oy, oth), tile_windows(ox, otw)
    norm_y, norm_x = np.zeros(height * scale, np.float32), np.zeros(width * scale, np.float32)
    for y, w in zip(oy, wy):
        norm_y[y : y + oth] += w
    for x, w in zip(ox, wx):
        norm_x[x : x + otw] += w
    acc = np.zeros((height * scale, width * scale, out_channels), np.float32)
    jobs = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        crops = [image[ys[i] : ys[i] + th, xs[j] : xs[j] + tw] for i, j in chunk]
        results = forward(crops, f"{key}@tile{ys[chunk[0][0]]},{xs[chunk[0][1]]}")
        for (i, j), res in zip(chunk, results):
            if res.shape[:2] != (oth, otw):
                raise ValueError(f"a {th}x{tw} tile gave a {res.shape[0]}x{res.shape[1]} output; expected "
                                 f"{oth}x{otw} (scale {scale})")
            acc[oy[i] : oy[i] + oth, ox[j] : ox[j] + otw] += res * (wy[i][:, None] * wx[j][None, :])[:, :, None]
    acc /= (norm_y[:, None] * norm_x[None, :])[:, :, None]
    return acc


__all__ = ["Forward", "tile_starts", "tile_windows", "translate_tiles"]
