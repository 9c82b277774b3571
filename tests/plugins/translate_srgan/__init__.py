"""Tests of translate_srgan."""
