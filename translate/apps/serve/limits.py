"""What the inference server accepts: request and image limits, batching settings, and the
request error that becomes a 4xx/5xx JSON answer."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import TranslateError


@dataclass(frozen=True)
class Limits:
    """Limits and batching settings of a model service.

    Attributes:
        max_bytes: the largest request body accepted (413 above it).
        max_pixels: the largest image, in width x height pixels (413 above it; checked on the
            image header, before any pixel is decoded).
        max_batch: the most requests translated as one batch.
        max_wait_ms: how long the first request of a batch waits for others to join it.
        max_queue: requests waiting at most; more are refused with 503 until the queue drains.
        deadline_ms: a request not taken into a batch this long after it was queued is answered 503
            instead of being computed; None: no deadline.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 2048 * 2048
    max_batch: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 64
    deadline_ms: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_batch", "max_queue"):
            if getattr(self, name) < 1:
                raise TranslateError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.max_wait_ms <= 10_000:
            raise TranslateError(f"max-wait-ms must be from 0 to 10000, got {self.max_wait_ms}")
        if self.deadline_ms is not None and not 0 < self.deadline_ms <= 3_600_000:
            raise TranslateError(f"deadline-ms must be more than 0 and at most 3600000 (an hour), got {self.deadline_ms}")


class RequestError(Exception):
    """A request the server refuses: HTTP ``status``, a stable machine-readable ``code`` and a message.

    Example: ``RequestError(413, "too_many_pixels", "the image is 5000x5000 = 25000000 pixels ...")``.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, object]:
        """The JSON answer: ``{"error": {"status", "code", "message"}}``."""
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}


__all__ = ["Limits", "RequestError"]
