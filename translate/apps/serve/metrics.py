"""What ``translate serve`` counts, and ``GET /metrics``: Prometheus' text exposition format (version 0.0.4).

:class:`ServerMetrics` is updated by the HTTP handler threads (one lock; a handful of integer updates per
request) and rendered on demand with the batch worker's own figures (:class:`~.batching.BatchStats`):

- ``translate_requests_total{endpoint, code}``: answers by endpoint (the known routes, else ``other``, so
  a client cannot create series) and HTTP status code;
- ``translate_request_duration_seconds``: a histogram of the time from a ``POST /translate`` request's
  headers to its answer, for the answers with a translation (200);
- ``translate_requests_in_progress`` and ``translate_queue_length``: POSTs being handled, and images
  waiting for the model worker;
- ``translate_rejections_total`` (503 ``busy``: the queue was full), ``translate_deadline_expiries_total``
  (503 ``deadline_exceeded``: waited in the queue past ``--deadline-ms``, never computed);
- ``translate_batches_total``, ``translate_images_total`` and ``translate_seconds_per_image`` (the
  measured model time per image that the ``Retry-After`` estimate uses).
"""

from __future__ import annotations

import bisect
import threading

from .batching import BatchStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of the text exposition format."""
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of the latency histogram's buckets; ``+Inf`` follows."""
ENDPOINT_LABELS = ("/translate", "/model", "/health", "/metrics", "/")
"""The ``endpoint`` label's values besides ``other``."""


def endpoint_label(path: str) -> str:
    """The ``endpoint`` label of a request path: a known route, else ``other``."""
    return path if path in ENDPOINT_LABELS else "other"


class ServerMetrics:
    """Counters, gauges and the latency histogram of one server; safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.rejections = 0
        self.expiries = 0
        self.in_progress = 0
        self._buckets = [0] * (len(BUCKETS) + 1)  # the last one: over the largest bound
        self._sum = 0.0

    def answered(self, endpoint: str, code: int, seconds: float | None = None, reason: str | None = None) -> None:
        """Count one answer; ``seconds``: its latency, for the histogram; ``reason``: a 503's error code."""
        with self._lock:
            key = (endpoint_label(endpoint), code)
            self.requests[key] = self.requests.get(key, 0) + 1
            if reason == "busy":
                self.rejections += 1
            elif reason == "deadline_exceeded":
                self.expiries += 1
            if seconds is not None:
                self._buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
                self._sum += seconds

    def started(self, delta: int) -> None:
        """A POST began (+1) or ended (-1)."""
        with self._lock:
            self.in_progress += delta

    def render(self, *, queue_length: int, batches: BatchStats) -> str:
        """The text exposition of every metric, with the batch worker's figures."""
        with self._lock:
            requests = sorted(self.requests.items())
            buckets, total_s = list(self._buckets), self._sum
            rejections, expiries, in_progress = self.rejections, self.expiries, self.in_progress
        out: list[str] = []

        def metric(name: str, kind: str, text: str, samples: list[tuple[str, float]]) -> None:
            out.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}"])
            out.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

        metric("translate_requests_total", "counter", "HTTP answers by endpoint and status code.",
               [(f'{{endpoint="{e}",code="{c}"}}', n) for (e, c), n in requests])
        running, histogram = 0, []
        for bound, count in zip([*BUCKETS, float("inf")], buckets):
            running += count
            histogram.append((f'_bucket{{le="{_number(bound)}"}}', running))
        out.extend([("# HELP translate_request_duration_seconds Time from a POST /translate request's headers to "
                     "its answer, for answers with a translation (200)."),
                    "# TYPE translate_request_duration_seconds histogram"])
        out.extend(f"translate_request_duration_seconds{suffix} {_number(v)}"
                   for suffix, v in [*histogram, ("_sum", total_s), ("_count", running)])
        metric("translate_requests_in_progress", "gauge", "POST requests being handled.", [("", in_progress)])
        metric("translate_queue_length", "gauge", "Images waiting for the model worker.", [("", queue_length)])
        metric("translate_rejections_total", "counter", "Requests refused with 503 because the queue was full.",
               [("", rejections)])
        metric("translate_deadline_expiries_total", "counter",
               "Requests answered 503 because they waited in the queue past the deadline.", [("", expiries)])
        metric("translate_batches_total", "counter", "Batches the model worker ran.", [("", batches.batches)])
        metric("translate_images_total", "counter", "Images the model worker translated.", [("", batches.images)])
        metric("translate_seconds_per_image", "gauge", "Measured model time per image (moving average).",
               [("", batches.seconds_per_image)])
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    """A sample value as the format writes it: integers without a point, ``+Inf``."""
    if value == float("inf"):
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


__all__ = ["BUCKETS", "CONTENT_TYPE", "ENDPOINT_LABELS", "ServerMetrics", "endpoint_label"]
