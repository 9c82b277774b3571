"""``translate check``: validate a recipe and answer in one line, exactly as the CLI prints it.

The CLI and the generated recipe reference (:func:`translate.apps.docs.run_check`) both use
:func:`check_recipe`, so the page shows what the command prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TranslateError

if TYPE_CHECKING:
    from ..plugin.registry import Registry

ERROR_STATUS = 2
"""Exit status of a command that stopped on a :class:`TranslateError` (the user's input)."""


def error_result(err: TranslateError) -> tuple[int, str]:
    """The exit status and the line printed (on stderr) for a user error: ``(2, "error: ...")``.

    An error may carry its own ``exit_status`` (an interrupted run: 128 + the signal's number).
    """
    return int(getattr(err, "exit_status", ERROR_STATUS)), f"error: {err}"


def check_recipe(
    path: str | Path, overrides: list[str] | None = None, registry: Registry | None = None
) -> tuple[int, str]:
    """Validate the recipe at ``path`` with ``--set`` ``overrides``; returns ``(exit status, line)``.

    The line is ``"PATH: ok (method M, data D)"`` (status 0, for stdout) or
    :func:`error_result`'s (status 2, for stderr). ``registry``: default the installed plugins'.
    """
    from . import load_recipe

    try:
        recipe, _ = load_recipe(path, overrides, registry=registry)
    except TranslateError as err:
        return error_result(err)
    return 0, f"{path}: ok (method {recipe.method.name}, data {recipe.data.name})"
