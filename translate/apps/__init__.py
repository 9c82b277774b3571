"""Applications built on models and runs: the HTTP server, the drawing demo, the run report and the
generated recipe reference.

- :mod:`~translate.apps.serve`: ``translate serve`` (standard-library HTTP server, batching);
- :mod:`~translate.apps.demo`: ``translate demo`` (Gradio);
- :mod:`~translate.apps.report`: ``translate report`` (the run report page);
- :mod:`~translate.apps.docs`: ``translate docs`` (the generated recipe reference).

May import everything below the command line; the commands that start them live in
:mod:`translate.commands`.
"""
