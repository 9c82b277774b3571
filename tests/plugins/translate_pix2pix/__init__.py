"""Tests of translate_pix2pix."""
