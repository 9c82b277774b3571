"""Tests of translate_losses."""
