"""Tests of the built-in plugins, one folder per package of plugins/."""
