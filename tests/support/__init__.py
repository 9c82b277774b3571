"""Shared helpers for the tests: tiny recipes and plugins, trained tiny runs, ports, archives."""
