"""Tests of translate.utils."""
