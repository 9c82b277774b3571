"""User-facing errors: printed as one clear message by the CLI, never as a traceback."""

from __future__ import annotations

import difflib


class TranslateError(Exception):
    """Base class for errors that are the user's input, not a bug in translate."""


class RecipeError(TranslateError):
    """A recipe (or an override) is invalid. The message names the file and dotted keys."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid recipe {source}:\n{lines}")


class PluginError(TranslateError):
    """A plugin failed to load or registered something invalid."""


class DataError(TranslateError):
    """A data set, image file or data folder is missing, corrupt or inconsistent."""


class ModelFileError(TranslateError):
    """A model file is malformed, tampered with, or needs a plugin that is not installed."""


class TrainingDiverged(TranslateError):
    """A loss became NaN or infinite during training."""


class OptionsInvalid(TranslateError):
    """An options table did not validate; ``lines`` holds ``dotted.path: message`` entries."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


class UnknownComponent(TranslateError):
    """A recipe or model file named a component that no installed plugin registers."""

    def __init__(self, kind: str, name: str, choices: list[str]) -> None:
        self.kind, self.name, self.choices = kind, name, choices
        close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listed = ", ".join(choices) if choices else "(none installed)"
        super().__init__(f"unknown {kind} {name!r}{hint} Installed {plural(kind)}: {listed}")


def plural(kind: str) -> str:
    """The plural of a component kind for messages: ``loss`` -> ``losses``, ``generator`` -> ``generators``."""
    if kind.endswith(("s", "x", "sh", "ch")):
        return f"{kind}es"
    return f"{kind}s"
