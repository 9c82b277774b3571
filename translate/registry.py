"""Registries of components (generators, discriminators, losses, data sets, methods, data sources)."""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from .errors import PluginError, TranslateError
from .hookspecs import KINDS
from .options import NoOptions, Options, error_lines


@dataclass(frozen=True)
class PluginInfo:
    """Where a component came from."""

    name: str
    distribution: str
    version: str
    builtin: bool = False


@dataclass(frozen=True)
class Component:
    """One registered component."""

    kind: str
    name: str
    factory: Callable[..., Any]
    options: type[BaseModel]
    description: str
    plugin: PluginInfo
    smoke_options: dict[str, Any] = field(default_factory=dict)

    def parse_options(self, values: dict[str, Any] | None, path: str) -> BaseModel:
        """Validate an options table; raise ValueError carrying dotted-path lines."""
        try:
            return self.options.model_validate(values or {})
        except ValidationError as err:
            raise OptionsInvalid(error_lines(err, prefix=path)) from None

    def build(self, options: BaseModel | dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Build the component from (validated or raw) options and kind-specific keyword arguments."""
        if not isinstance(options, BaseModel):
            options = self.parse_options(options, f"{self.kind}.options")
        return self.factory(options, **kwargs)


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
        super().__init__(f"unknown {kind} {name!r}{hint} Installed {kind}s: {listed}")


@dataclass
class Registry:
    """All components registered by the loaded plugins, by kind and name."""

    components: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(
        self,
        kind: str,
        plugin: PluginInfo,
        name: str,
        factory: Callable[..., Any],
        *,
        options: type[BaseModel] | None = None,
        description: str = "",
        smoke_options: dict[str, Any] | None = None,
    ) -> Component:
        """Register one component; validates the registration itself."""
        where = f"plugin {plugin.name!r} ({plugin.distribution})"
        if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
            raise PluginError(f"{where} registered a {kind} with an invalid name {name!r}")
        if not callable(factory):
            raise PluginError(f"{where} registered {kind} {name!r} with a factory that is not callable")
        options = options or NoOptions
        if not (isinstance(options, type) and issubclass(options, BaseModel)):
            raise PluginError(f"{where} registered {kind} {name!r} with options that are not a pydantic model")
        if options.model_config.get("extra") != "forbid":
            raise PluginError(
                f"{where} registered {kind} {name!r} with an options model that accepts unknown keys; "
                "subclass translate.Options (extra='forbid')"
            )
        existing = self.components[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"duplicate {kind} {name!r}: registered by plugin {existing.plugin.name!r} "
                f"({existing.plugin.distribution}) and by plugin {plugin.name!r} ({plugin.distribution})"
            )
        comp = Component(kind, name, factory, options, description, plugin, dict(smoke_options or {}))
        self.components[kind][name] = comp
        return comp

    def get(self, kind: str, name: str) -> Component:
        """Look up a component; an unknown name raises with close matches and the installed choices."""
        try:
            return self.components[kind][name]
        except KeyError:
            raise UnknownComponent(kind, name, self.names(kind)) from None

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        """Sorted names of one kind, filtered by a shell-style wildcard."""
        return sorted(n for n in self.components[kind] if fnmatch.fnmatch(n, pattern))

    def __iter__(self):
        for kind in self.components:
            yield from self.components[kind].values()


__all__ = ["Component", "PluginInfo", "Registry", "UnknownComponent", "OptionsInvalid", "Options"]
