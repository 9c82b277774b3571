"""``evaluation.json``: an evaluation's values, protocol, model and data, and the table printed from it.

The file is standard JSON: a non-finite value (the PSNR of identical images is infinite) is
written as the string ``"inf"``, ``"-inf"`` or ``"nan"`` and read back as a float.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import TranslateError
from ..run.layout import RunFolder
from ..utils.atomic import write_text_atomic
from .runner import EvaluationResult
from .values import float_value

FORMAT = 1
EVALUATION_FILENAME = RunFolder.EVALUATION
BEST_MODEL_FILENAME = RunFolder.BEST_MODEL
"""A run's best model by the recipe's ``[eval].best`` value, written during training."""
BEST_RECORD_FILENAME = RunFolder.BEST_RECORD
"""Which step that is: ``{"key", "value", "step", "higher_is_better", "checkpoint"}``."""


def write_evaluation(path: str | os.PathLike[str], result: EvaluationResult, *, model: dict[str, Any],
                     data: dict[str, Any], published: list[dict[str, Any]] | None = None) -> Path:
    """Write ``evaluation.json`` atomically: format, translate version, time, values, protocol, model, data.

    ``model`` describes what was evaluated (at least ``path`` and ``sha256``), ``data`` the split
    (``name``, ``split``, ``folder``, ``fingerprint``, ...); ``published``, the published numbers beside
    the values (:func:`translate.evaluation.published.compare_published`).
    """
    from ..version import __version__

    body = {
        "format": FORMAT,
        "translate_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **result.to_json(),
        "model": dict(model),
        "data": dict(data),
        **({"published": list(published)} if published else {}),
    }
    path = Path(path)
    write_text_atomic(path, json.dumps(body, indent=2, allow_nan=False) + "\n")
    return path


def read_evaluation(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``evaluation.json``; values come back as floats (``inf`` and ``nan`` included).

    Raises:
        TranslateError: the file is missing, not JSON, of another format, or its values are not numbers.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranslateError(f"{path}: no evaluation file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TranslateError(f"{path}: not a readable evaluation file ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise TranslateError(f"{path}: unknown evaluation format {found!r} (expected {FORMAT})")
    values = data.get("values")
    if not isinstance(values, dict):
        raise TranslateError(f"{path}: 'values' must be a table of metric values")
    try:
        data["values"] = {str(k): float_value(v) for k, v in values.items()}
    except ValueError as err:
        raise TranslateError(f"{path}: values: {err}") from None
    return data


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def format_table(result_or_json: EvaluationResult | dict[str, Any]) -> str:
    """A plain-text table of the values (one row per key: value, and whether higher or lower is better),
    with the protocol's split, image count and precision underneath."""
    if isinstance(result_or_json, EvaluationResult):
        values, higher, protocol = result_or_json.values, result_or_json.higher_is_better, result_or_json.protocol
    else:
        values = {k: float_value(v) for k, v in result_or_json.get("values", {}).items()}
        higher = result_or_json.get("higher_is_better", {})
        protocol = result_or_json.get("protocol", {})
    rows = [("metric", "value", "better")] + [
        (key, _format_value(value), "higher" if higher.get(key, True) else "lower") for key, value in values.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}".rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    gens = protocol.get("generators") or {}
    counts = sorted({g.get("num_images") for g in gens.values() if isinstance(g, dict)} - {None})
    modes = sorted({g.get("test_mode") for g in gens.values() if isinstance(g, dict)} - {None})
    notes = [f"split {protocol['split']}" if protocol.get("split") else None,
             f"{', '.join(map(str, counts))} images" if counts else None,
             f"{'/'.join(modes)} mode" if modes else None,
             protocol.get("precision")]
    note = ", ".join(n for n in notes if n)
    return "\n".join(lines + ([f"({note})"] if note else []))
