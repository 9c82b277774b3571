"""Tests of translate_segmentation."""
