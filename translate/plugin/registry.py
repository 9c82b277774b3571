"""The registry: every component the loaded plugins registered, by kind and name.

Lookups of unknown names raise :class:`~translate.errors.UnknownComponent` (with close matches);
options that do not validate raise :class:`~translate.errors.OptionsInvalid`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from pydantic import BaseModel, ValidationError

from ..errors import OptionsInvalid, PluginError, UnknownComponent
from .hookspecs import FACTORY_WITHOUT_OPTIONS, KINDS, NETWORK_KINDS
from .options import NoOptions, error_lines

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


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
    #: Data sets: the option that names the data folder, so that ``translate eval --data FOLDER``
    #: can point the data set at another folder without knowing its options.
    folder_option: str | None = None
    #: Commands: the function that adds the command's arguments to its parser.
    arguments: Callable[[Any], None] | None = None
    #: Metrics: the value names ``compute()`` returns (``fnmatch`` patterns for names made at run time,
    #: e.g. ``fcn_iou_*``), so that ``translate check`` can check ``eval.best`` exactly; None: not declared.
    values: tuple[str, ...] | None = None

    def gives(self, value: str) -> bool | None:
        """Whether this metric returns the value ``value`` (None when it does not declare its values)."""
        if self.values is None:
            return None
        from fnmatch import fnmatchcase

        return any(fnmatchcase(value, pattern) for pattern in self.values)

    def parse_options(self, values: dict[str, Any] | None, path: str) -> BaseModel:
        """Validate an options table; raise :class:`OptionsInvalid` with ``path.key: message`` lines."""
        try:
            return self.options.model_validate(values or {})
        except ValidationError as err:
            raise OptionsInvalid(error_lines(err, prefix=path)) from None

    def build(self, options: BaseModel | dict[str, Any] | None = None, *args: Any, path: str | None = None,
              **kwargs: Any) -> Any:
        """Build the component: the one place where a component's factory is called.

        ``options`` (a table, validated here with the component's own model and errors named under
        ``path``, default ``<kind>.options``; or a model validated already, used as it is) comes first,
        then the kind's own arguments (channels, split, ctx: see :mod:`translate.plugin.hookspecs`).
        A data source's factory takes no options. A network is checked for what the core reads
        from it (:func:`translate.nn.traits.check_network`), the error naming this plugin.
        """
        if self.kind in FACTORY_WITHOUT_OPTIONS:
            return self.factory(*args, **kwargs)
        if not isinstance(options, BaseModel):
            options = self.parse_options(options, path or f"{self.kind}.options")
        built = self.factory(options, *args, **kwargs)
        if self.kind in NETWORK_KINDS:
            from ..nn.traits import check_network

            plugin = f"plugin {self.plugin.name!r} ({self.plugin.distribution})"
            check_network(built, f"{self.kind} {self.name!r} of {plugin}")
        return built


@dataclass
class Registry:
    """All registered components, by kind and name."""

    components: dict[str, dict[str, Component]] = field(default_factory=lambda: {kind: {} for kind in KINDS})

    def add(self, kind: str, plugin: PluginInfo, name: str, factory: Callable[..., Any], *,
            options: type[BaseModel] | None = None, description: str = "",
            smoke_options: dict[str, Any] | None = None, folder_option: str | None = None,
            arguments: Callable[[Any], None] | None = None, values: tuple[str, ...] | list[str] | None = None
            ) -> Component:
        """Register one component, checking the registration itself (raises :class:`PluginError`)."""
        where = f"plugin {plugin.name!r} ({plugin.distribution}) registered"
        options = options or NoOptions
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(f"{where} a {kind} with an invalid name {name!r}")
        if not callable(factory):
            raise PluginError(f"{where} {kind} {name!r} with a factory that is not callable")
        if not (isinstance(options, type) and issubclass(options, BaseModel)):
            raise PluginError(f"{where} {kind} {name!r} with options that are not a pydantic model")
        if options.model_config.get("extra") != "forbid":
            raise PluginError(f"{where} {kind} {name!r} with an options model that accepts unknown keys; "
                              "subclass translate.Options (extra='forbid')")
        if folder_option is not None and kind != "dataset":
            raise PluginError(f"{where} {kind} {name!r} with folder_option={folder_option!r}: only a data set names "
                              "the option that holds its folder")
        if folder_option is not None and folder_option not in options.model_fields:
            raise PluginError(f"{where} {kind} {name!r} with folder_option {folder_option!r}, which is not one of "
                              f"its options ({', '.join(sorted(options.model_fields)) or 'none'})")
        if (kind == "command") != (arguments is not None) or (arguments is not None and not callable(arguments)):
            raise PluginError(f"{where} {kind} {name!r} with arguments={arguments!r}: a command needs a callable "
                              "that adds its arguments to an argparse parser, and only a command takes one")
        if values is not None and (kind != "metric" or isinstance(values, str) or not values
                                   or not all(isinstance(v, str) and v for v in values)):
            raise PluginError(f"{where} {kind} {name!r} with values={values!r}: only a metric declares values, as a "
                              "non-empty tuple of the value names its compute() returns")
        existing = self.components[kind].get(name)
        if existing is not None:
            raise PluginError(f"duplicate {kind} {name!r}: registered by plugin {existing.plugin.name!r} "
                              f"({existing.plugin.distribution}) and by plugin {plugin.name!r} ({plugin.distribution})")
        comp = Component(kind, name, factory, options, description, plugin, dict(smoke_options or {}), folder_option,
                         arguments, tuple(values) if values is not None else None)
        self.components[kind][name] = comp
        return comp

    def create(self, kind: str, name: str, options: BaseModel | dict[str, Any] | None = None, *args: Any,
               path: str | None = None, **kwargs: Any) -> Any:
        """Look up a component and build it (:meth:`Component.build`): ``create_component``."""
        return self.get(kind, name).build(options, *args, path=path, **kwargs)

    def get(self, kind: str, name: str) -> Component:
        """Look up a component; an unknown name raises :class:`UnknownComponent` with close matches."""
        try:
            return self.components[kind][name]
        except KeyError:
            raise UnknownComponent(kind, name, self.names(kind)) from None

    def of_kind(self, kind: str) -> dict[str, Component]:
        """The components of one kind, by name, in registration order (a copy)."""
        return dict(self.components[kind])

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        """Sorted names of one kind, filtered by a shell-style wildcard."""
        return sorted(n for n in self.components[kind] if fnmatch.fnmatch(n, pattern))

    def __iter__(self) -> Iterator[Component]:
        for of_kind in self.components.values():
            yield from of_kind.values()
