"""How long the training loop waits for its data: ``data_wait`` in ``metrics.jsonl``.

The loader overlaps loading with compute when it has workers (``data.num_workers``; each keeps
two batches ready, PyTorch's ``prefetch_factor``) and, on a GPU, pinned memory with non-blocking
copies. Whether that is enough shows in the time the loop spends blocked in ``next(loader)``:
:class:`DataClock` adds it up, and the trainer logs it as the fraction of wall time since the
previous log line. Near 0: the step is the bottleneck; large: add workers or make loading cheaper.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class DataClock:
    """Wraps a loader's iteration and adds up the seconds spent waiting for each batch."""

    def __init__(self) -> None:
        self.waited = 0.0  # seconds, since the clock was made
        self._marked = 0.0

    def iterate(self, loader: Iterable[T]) -> Iterator[T]:
        """The batches of ``loader``, timing the start of the iteration (workers starting) and each ``next``."""
        start = time.perf_counter()
        it = iter(loader)
        while True:
            try:
                batch = next(it)
            except StopIteration:
                self.waited += time.perf_counter() - start
                return
            self.waited += time.perf_counter() - start
            yield batch
            start = time.perf_counter()

    def fraction_since_mark(self, elapsed: float) -> float:
        """Waited seconds since the previous call, as a fraction of ``elapsed`` wall seconds (0 to 1)."""
        waited, self._marked = self.waited - self._marked, self.waited
        return min(1.0, waited / elapsed) if elapsed > 0 else 0.0
