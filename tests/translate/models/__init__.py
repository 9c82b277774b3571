"""Tests of translate.models."""
