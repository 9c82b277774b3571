"""What went wrong in a ``huggingface_hub`` call, for the messages of :mod:`.download` and :mod:`.push`."""

from __future__ import annotations

import importlib
from typing import Iterator


def causes(err: BaseException) -> Iterator[BaseException]:
    """``err``, then what caused it (``__cause__`` or ``__context__``), and so on; each once."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def is_offline(err: BaseException) -> bool:
    """Offline mode is on (``HF_HUB_OFFLINE=1``), or ``err`` came from it."""
    from huggingface_hub import constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    return constants.is_offline_mode() or any(isinstance(e, OfflineModeIsEnabled) for e in causes(err))


def root_cause(err: BaseException) -> str:
    """``Type: first line`` of the innermost cause of ``err``."""
    *_, last = causes(err)
    text = str(last).strip().splitlines()
    return f"{type(last).__name__}: {text[0] if text else ''}".rstrip(": ")


def first_line(err: BaseException) -> str:
    """The first two non-empty lines of ``err``'s message (the Hub's answer), or its type."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(err).__name__


def transport_errors() -> tuple[type[BaseException], ...]:
    """Errors of the connection itself: ``OSError`` and the base class of the HTTP client that
    ``huggingface_hub`` uses (``httpx2`` or ``httpx``; ``requests``' errors are ``OSError``)."""
    found: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


__all__ = ["causes", "first_line", "is_offline", "root_cause", "transport_errors"]
