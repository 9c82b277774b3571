"""User-facing errors: printed as one clear message by the CLI, never as a traceback."""

from __future__ import annotations


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
