"""Tests of translate.evaluation."""
