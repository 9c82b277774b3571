"""Tests of translate_metrics."""
