"""Tests of translate.components."""
