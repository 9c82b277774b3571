"""Tests of translate_perceptual."""
