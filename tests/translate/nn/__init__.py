"""Tests of translate.nn."""
