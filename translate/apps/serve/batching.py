"""Batching concurrent requests: one worker thread runs the model; requests queue up for it.

Each request is a job (one image and the generator it asks for). The worker takes the oldest job,
then takes the jobs already queued for the same generator and, while more requests are on their
way (:meth:`Batcher.expecting`: being read or decoded), waits up to ``max_wait_ms`` for them, up
to ``max_batch`` jobs in all, and runs them as one call (the :class:`~translate.inference.Translator` stacks the images
that share a network size into one forward pass). Jobs for another generator wait for the next
batch, oldest first. Only the worker touches the model, so the model needs no lock and requests
from any number of threads (the HTTP server's, the demo's) are safe. At most ``max_queue`` jobs
wait; more are refused at once with a 503 :class:`~translate.apps.serve.limits.RequestError`.

With a deadline (``deadline_ms``), a request whose job has not been taken into a batch that long
after it was queued is answered 503 ``deadline_exceeded`` at once, and the worker drops the job
unrun: a client that has likely given up costs no model time. The worker measures the model's time
per image (a moving average), from which :meth:`Batcher.drain_seconds` estimates how long the jobs
waiting now will take: the ``Retry-After`` of a 503.
"""

from __future__ import annotations

import collections
import contextlib
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .limits import RequestError

RunBatch = Callable[[list[np.ndarray], str], list[np.ndarray]]
"""``run(images, generator) -> outputs``: translate images (image space) with one generator."""


@dataclass
class _Job:
    image: np.ndarray
    generator: str
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None
    taken: bool = False  # in a batch: it will run (set by the worker, under the lock)
    dropped: bool = False  # its deadline passed first: the worker skips it (set by the request, under the lock)


@dataclass
class BatchStats:
    """What the worker has done: batches run, images translated, the largest batch, requests whose deadline
    passed in the queue, and the measured model time per image (a moving average; 0 before the first batch)."""

    batches: int = 0
    images: int = 0
    largest: int = 0
    expired: int = 0
    seconds_per_image: float = 0.0


_STOP = object()


class Batcher:
    """Runs ``run`` on batches of queued jobs in one worker thread (started at once, a daemon).

    Args:
        run: translates a list of images with one generator (by export name).
        max_batch: jobs per batch at most.
        max_wait_ms: how long the first job of a batch waits for others.
        max_queue: jobs waiting at most (more: 503).
        deadline_ms: a job not in a batch this long after it was queued is dropped (503); None: no deadline.
    """

    def __init__(self, run: RunBatch, *, max_batch: int, max_wait_ms: float, max_queue: int,
                 deadline_ms: float | None = None) -> None:
        self._run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.deadline_ms = deadline_ms
        self._running = 0  # jobs in the batch being run
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._later: collections.deque[_Job] = collections.deque()  # jobs for another generator
        self.stats = BatchStats()
        self._expected = 0  # requests on their way (being decoded or waiting): see expecting()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="translate-batcher", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Jobs waiting for the worker (not counting the batch it is running)."""
        return self._queue.qsize() + len(self._later)

    def drain_seconds(self) -> float:
        """How long the worker needs for the jobs waiting and running now, at the measured time per image."""
        return (self.waiting + self._running) * self.stats.seconds_per_image

    def retry_after(self) -> int:
        """Seconds a refused client should wait before trying again: :meth:`drain_seconds` rounded up, at least 1."""
        return max(1, math.ceil(self.drain_seconds()))

    @contextlib.contextmanager
    def expecting(self) -> Iterator[None]:
        """Mark a request as on its way for as long as it is handled (reading, decoding, waiting).

        The worker waits for more jobs only while more requests are on their way than it holds,
        so a lone request runs at once and ``max_wait_ms`` is spent only when others will come.
        """
        with self._lock:
            self._expected += 1
        try:
            yield
        finally:
            with self._lock:
                self._expected -= 1

    def submit(self, image: np.ndarray, generator: str) -> np.ndarray:
        """Translate one image with ``generator``; blocks until the worker has run its batch.

        Raises:
            RequestError: 503 when ``max_queue`` jobs already wait, the deadline passed before the job was taken
                into a batch, or the batcher is closed.
            Exception: whatever ``run`` raised for the batch.
        """
        if not self._thread.is_alive():
            raise RequestError(503, "stopped", "the server is shutting down")
        job = _Job(image, generator)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise RequestError(503, "busy", f"{self.max_queue} requests are already waiting; try again shortly") \
                from None
        if self.deadline_ms is not None and not job.done.wait(self.deadline_ms / 1000.0):
            with self._lock:
                job.dropped = not job.taken
                self.stats.expired += job.dropped
            if job.dropped:
                raise RequestError(503, "deadline_exceeded",
                                   f"the request waited in the queue for more than the deadline of "
                                   f"{self.deadline_ms:g} ms and was not computed; try again shortly")
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker after the jobs already queued."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _next(self, timeout: float | None) -> object:
        """The next job: an older one for another generator first, else from the queue (``None``: none came)."""
        try:
            return self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def _work(self) -> None:
        stopping = False
        while True:
            first = self._later.popleft() if self._later else (None if stopping else self._next(None))
            if first is None:
                return
            if first is _STOP:
                stopping = True
                continue
            assert isinstance(first, _Job)
            if not self._take(first):
                continue
            batch = [first]
            for job in [j for j in self._later if j.generator == first.generator]:
                if len(batch) == self.max_batch:
                    break
                self._later.remove(job)
                if self._take(job):
                    batch.append(job)
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.max_batch and not stopping:
                coming = self._expected > len(batch) + len(self._later)
                item = self._next(deadline - time.monotonic() if coming else 0)
                if item is None:
                    break
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Job) and item.generator == first.generator:
                    if self._take(item):
                        batch.append(item)
                elif isinstance(item, _Job):
                    self._later.append(item)
            self._finish(batch)

    def _take(self, job: _Job) -> bool:
        """Take ``job`` into a batch unless its request gave up on it (deadline); False: skip it."""
        with self._lock:
            job.taken = not job.dropped
        return job.taken

    def _finish(self, batch: list[_Job]) -> None:
        self._running = len(batch)
        started = time.monotonic()
        try:
            results = self._run([job.image for job in batch], batch[0].generator)
            for job, result in zip(batch, results):
                job.result = result
        except BaseException as err:  # noqa: BLE001 - handed to every waiting request, the worker goes on
            for job in batch:
                job.error = err
        finally:
            per_image = (time.monotonic() - started) / len(batch)
            s = self.stats
            s.seconds_per_image = per_image if s.batches == 0 else 0.8 * s.seconds_per_image + 0.2 * per_image
            self._running = 0
            self.stats.batches += 1
            self.stats.images += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))
            for job in batch:
                job.done.set()


__all__ = ["BatchStats", "Batcher", "RunBatch"]
