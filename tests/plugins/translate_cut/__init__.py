"""Tests of translate_cut."""
