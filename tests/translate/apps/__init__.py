"""Tests of translate.apps."""
