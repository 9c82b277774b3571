"""The ``translate`` command line: one module per command, and the entry point in :mod:`.main`.

Commands import their heavy modules inside their functions, so ``translate --help`` imports no
torch. This is the top of the import graph: nothing in translate imports it.
"""
