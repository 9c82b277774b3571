"""Unpaired data, evaluated as the papers do: every distinct input translated once, every distinct real image once.

An unpaired data set pairs item ``i`` with input image ``i mod len(A)`` and real image ``i mod len(B)``,
so a split of 120 horses and 140 zebras has 140 items and would translate 20 horses twice. The
published protocol (CycleGAN, CUT: all 120 horse test images translated, against all 140 zebra test
images) counts each image once: :class:`Distinct` remembers, by the item's file name for that image key
(``name_<key>``, else ``name``), which images the metrics already received, and the evaluation loop
gives each metric only the new ones. Then a batch's generated and real images may differ in number, and
one side may be empty (the contract of :class:`~translate.components.metric.EvalBatch` on unpaired data).
Items without a name are all kept. Paired data is never filtered: each item is its own pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def image_name(item: dict[str, Any], key: str) -> str:
    """The file name of the ``key`` image of an item: ``name_<key>``, else ``name`` (the input's), else ``""``."""
    return str(item.get(f"name_{key}", item.get("name", "")))


@dataclass
class Distinct:
    """The names of the images of one key already given to the metrics, and how many were."""

    seen: set[str] = field(default_factory=set)
    count: int = 0

    def select(self, items: list[dict[str, Any]], key: str) -> list[int]:
        """The positions of the items whose ``key`` image is new (unnamed ones always are); remembers them."""
        keep = []
        for i, item in enumerate(items):
            name = image_name(item, key)
            if name and name in self.seen:
                continue
            if name:
                self.seen.add(name)
            keep.append(i)
        self.count += len(keep)
        return keep


__all__ = ["Distinct", "image_name"]
