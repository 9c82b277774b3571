"""Tests of translate.inference."""
