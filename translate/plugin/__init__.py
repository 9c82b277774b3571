"""The plugin core: what a plugin is, how plugins are found and what they registered.

- :mod:`~translate.plugin.hookspecs`: the hook specifications (one hook per component kind);
- :mod:`~translate.plugin.options`: the strict options base every component's options extend;
- :mod:`~translate.plugin.factories`: factories that import their builder on first use;
- :mod:`~translate.plugin.registry`: the registry (validation, duplicates, close matches);
- :mod:`~translate.plugin.loading`: reading the entry points and calling the hooks;
- :mod:`~translate.plugin.listing`: what ``translate plugins`` prints.

Imports only :mod:`translate.errors` and :mod:`translate.nn` (building a network checks what it
declares); the registry is made at the edge
(the command line, :func:`translate.load`) and handed down.
"""
