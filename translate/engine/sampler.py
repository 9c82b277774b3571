"""A deterministic, sharded, resumable sampler yielding ``(index, seed)`` keys."""

from __future__ import annotations

import math
from typing import Iterator

import torch
from torch.utils.data import Sampler

from ..data.contract import item_seed


class EpochSampler(Sampler[tuple[int, int]]):
    """Shuffles from ``(seed, epoch)``, gives each process its own shard, and can start mid-epoch.

    Every item key carries a seed derived from the run seed, the epoch and the item's
    position, so augmentation is the same whatever the workers or a resume.
    """

    def __init__(self, size: int, *, seed: int, shuffle: bool = True, rank: int = 0, world: int = 1,
                 batch_size: int = 1) -> None:
        if size <= 0:
            raise ValueError("the data set is empty")
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.rank, self.world, self.batch_size = rank, world, batch_size
        self.epoch = 0
        self.start_batch = 0

    @property
    def per_rank(self) -> int:
        return math.ceil(self.size / self.world)

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.per_rank / self.batch_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's order, and skip the first ``start_batch`` batches of this process."""
        self.epoch, self.start_batch = epoch, start_batch

    def _order(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        padded = self.per_rank * self.world
        order += order[: padded - len(order)]  # every process gets the same count
        return order

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self._order()
        first = self.start_batch * self.batch_size
        for pos in range(self.rank + first * self.world, len(order), self.world):
            yield order[pos], item_seed(self.seed, self.epoch, pos)

    def __len__(self) -> int:
        return max(0, self.per_rank - self.start_batch * self.batch_size)
