"""Tests of translate.run."""
