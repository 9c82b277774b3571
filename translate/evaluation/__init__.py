"""Evaluation: run generators over a data split, compute registered metrics, record the protocol.

- :mod:`.runner`: :func:`evaluate_generators` and its data classes (one loop for ``translate eval``
  and for the ``[eval]`` table during training);
- :mod:`.record`: ``evaluation.json`` (:func:`write_evaluation`, :func:`read_evaluation`) and
  :func:`format_table`.
"""

from __future__ import annotations

from .record import (
    BEST_MODEL_FILENAME,
    BEST_RECORD_FILENAME,
    EVALUATION_FILENAME,
    format_table,
    read_evaluation,
    write_evaluation,
)
from .runner import (
    EvaluationError,
    EvaluationResult,
    GeneratorUnderTest,
    MetricSpec,
    build_metric,
    evaluate_generators,
)

__all__ = [
    "EVALUATION_FILENAME", "BEST_MODEL_FILENAME", "BEST_RECORD_FILENAME",
    "EvaluationError",
    "EvaluationResult",
    "GeneratorUnderTest",
    "MetricSpec",
    "build_metric",
    "evaluate_generators",
    "format_table",
    "read_evaluation",
    "write_evaluation",
]
