"""Filled shapes for generated data sets: where to place them and how to paint them.

Shapes are circles, squares, triangles and ellipses (:data:`SHAPE_KINDS`), drawn on
supersampled canvases in final-image pixel units. :func:`place_shapes` draws two to four
non-overlapping shapes from a NumPy generator; :func:`paint_shape` fills one, shaded by a
light from the top left. The built-in ``synthetic_shapes`` and ``synthetic_unpaired`` sets
are made of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPE_KINDS: tuple[str, ...] = ("circle", "square", "triangle", "ellipse")


@dataclass(frozen=True)
class Shape:
    """One placed shape: its kind (index into :data:`SHAPE_KINDS`), centre, radius and rotation."""

    kind: int
    cx: float
    cy: float
    r: float
    theta: float


def shape_mask(kind: str, dx: np.ndarray, dy: np.ndarray, theta: float) -> np.ndarray:
    """Inside-test of a filled shape (one of :data:`SHAPE_KINDS`), rotated by ``theta`` radians.

    ``dx``, ``dy`` are offsets from the shape's centre in units of its radius: a circle of
    radius 1, an ellipse with semi-axes 1 and 0.55, a square of half-side 0.77 and an
    equilateral triangle of circumradius 1, so every kind lies within 1.1 radii of its centre.
    """
    c, s = np.cos(theta), np.sin(theta)
    u, v = dx * c + dy * s, -dx * s + dy * c
    if kind == "circle":
        return u * u + v * v <= 1.0
    if kind == "ellipse":
        return u * u + (v / 0.55) ** 2 <= 1.0
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.77
    if kind != "triangle":
        raise ValueError(f"unknown shape kind {kind!r}; one of {', '.join(SHAPE_KINDS)}")
    # inside all three edges (inradius 1/2)
    angles = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    return np.all([-(u * np.cos(a) + v * np.sin(a)) <= 0.5 for a in angles], axis=0)


def place_shapes(rng: np.random.Generator, size: int, *, radius: tuple[float, float], gap: float,
                 top: float = 0.0, keep_clear: tuple[tuple[float, float, float], ...] = ()) -> list[Shape]:
    """Two to four shapes inside a ``size`` x ``size`` image, none overlapping another.

    Radii are drawn from ``radius`` (fractions of ``size``); centres keep ``gap`` pixels between
    the shapes' bounding circles (1.1 radii), lie at least ``top * size`` from the top, and avoid
    the ``(x, y, radius)`` circles of ``keep_clear``. A shape that finds no room in 30 tries is
    left out. The draws from ``rng`` are part of each data set's definition: do not reorder them.
    """
    taken = list(keep_clear)
    shapes = []
    for _ in range(int(rng.integers(2, 5))):
        for _attempt in range(30):
            r = float(rng.uniform(*radius)) * size
            reach = 1.1 * r  # bounding radius of every kind
            cx = float(rng.uniform(reach + 1, size - reach - 1))
            cy = float(rng.uniform(max(reach + 1, top * size), size - reach - 1))
            if all(np.hypot(cx - px, cy - py) > reach + pr + gap for px, py, pr in taken):
                break
        else:
            continue
        taken.append((cx, cy, reach))
        kind = int(rng.integers(len(SHAPE_KINDS)))
        shapes.append(Shape(kind, cx, cy, r, float(rng.uniform(0, 2 * np.pi))))
    return shapes


def paint_shape(img: np.ndarray, shape: Shape, colour: np.ndarray, *, supersample: int,
                light: tuple[float, float]) -> None:
    """Fill ``shape`` into the supersampled ``(s, s, 3)`` canvas ``img`` in place.

    The colour is shaded from ``light[1]`` at the top left down to ``light[0]`` (both clipped to 1).
    Only the shape's bounding box is computed.
    """
    s = img.shape[0]
    reach = 1.1 * shape.r + 1
    y0, y1 = (int(np.clip(v * supersample, 0, s)) for v in (shape.cy - reach, shape.cy + reach))
    x0, x1 = (int(np.clip(v * supersample, 0, s)) for v in (shape.cx - reach, shape.cx + reach))
    yy, xx = (np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5) / supersample
    dx, dy = (xx - shape.cx) / shape.r, (yy - shape.cy) / shape.r
    mask = shape_mask(SHAPE_KINDS[shape.kind], dx, dy, shape.theta)
    darkest, brightest = light
    shade = np.clip(brightest - 0.42 * np.hypot(dx + 0.35, dy + 0.35), darkest, 1.0)
    window = img[y0:y1, x0:x1]
    window[mask] = (colour * shade[..., None])[mask]
