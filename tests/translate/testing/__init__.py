"""Tests of translate.testing."""
