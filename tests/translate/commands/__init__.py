"""Tests of translate.commands."""
