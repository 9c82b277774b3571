"""Metric values in JSON: non-finite numbers (the PSNR of identical images is infinite) as the strings
``"inf"``, ``"-inf"`` and ``"nan"``, so that files stay standard JSON, and back."""

from __future__ import annotations

import math
from typing import Any

_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def json_value(value: float) -> float | str:
    """``value`` as a JSON value: finite floats as they are, others as ``"inf"``, ``"-inf"``, ``"nan"``."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def float_value(value: Any) -> float:
    """A value read back from JSON: a number, or one of the strings ``"inf"``, ``"-inf"``, ``"nan"``."""
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"not a metric value: {value!r}")
