"""Sample grids name their columns: a strip over each row group (input | output | target)."""

from __future__ import annotations

import torch

from translate.engine.samples import LABEL_HEIGHT, label_strip, make_grid


def _dark_columns(strip: torch.Tensor, width: int) -> list[bool]:
    """Whether each ``width``-pixel column of a label strip holds writing (dark pixels)."""
    return [bool((strip[:, :, i * width:(i + 1) * width] < 0).any()) for i in range(strip.shape[2] // width)]


def test_each_row_group_starts_with_its_column_labels() -> None:
    x = torch.full((2, 3, 32, 32), 0.5)
    groups = [[("input", x), ("output", x), ("target", x)], [("real_B", x[:1]), ("idt_B", x[:1])]]
    grid = make_grid(groups, pad=2)
    assert grid.shape == (3, 2 * LABEL_HEIGHT + 3 * 36, 3 * 36)
    assert torch.equal(grid[:, :LABEL_HEIGHT], label_strip(["input", "output", "target"], 36))
    second = grid[:, LABEL_HEIGHT + 2 * 36: 2 * LABEL_HEIGHT + 2 * 36]  # the second group's strip
    assert torch.equal(second[:, :, :72], label_strip(["real_B", "idt_B"], 36))
    assert _dark_columns(grid[:, :LABEL_HEIGHT], 36) == [True, True, True]
    assert torch.equal(grid[:, LABEL_HEIGHT + 2: LABEL_HEIGHT + 34, 2:34], x[0])  # the images follow the strip
    assert make_grid(groups, pad=2, labels=False).shape == (3, 3 * 36, 3 * 36)


def test_labels_differ_and_long_ones_are_cut_to_their_column() -> None:
    strips = [label_strip([name], 36) for name in ("input", "output", "target")]
    assert not torch.equal(strips[0], strips[1]) and not torch.equal(strips[1], strips[2])
    long = label_strip(["a_very_long_column_name", "x"], 36)
    assert long.shape == (3, LABEL_HEIGHT, 72) and _dark_columns(long, 36) == [True, True]
    assert float(long.min()) >= -1.0 and float(long.max()) == 1.0
