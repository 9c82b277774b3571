"""Tests of translate.plugin."""
