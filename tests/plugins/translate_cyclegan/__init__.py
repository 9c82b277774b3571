"""Tests of translate_cyclegan."""
