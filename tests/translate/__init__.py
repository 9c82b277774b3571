"""Tests of the core, one folder per package of translate/."""
