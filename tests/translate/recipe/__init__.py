"""Tests of translate.recipe."""
