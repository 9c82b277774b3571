"""Plugin discovery: entry points of the group ``translate``, loaded into a pluggy manager.

Built-in plugins ship in translate's own distribution and are found through the very
same entry points a third-party package declares. Environment variables:

- ``TRANSLATE_LOAD_PLUGINS``: comma-separated distribution names of the third-party
  plugins to load (unset: all; empty: none). Built-ins always load.
- ``TRANSLATE_STRICT_PLUGINS=1``: a plugin that fails to load is fatal (like ``--strict-plugins``).
- ``TRANSLATE_TRACE_PLUGINS=1``: print every hook call to stderr.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import PluginInfo, Registry

ENTRY_POINT_GROUP = "translate"
DISTRIBUTION = "translate-i2i"
IN_PROCESS = "(in-process)"


@dataclass
class LoadError:
    """A plugin that could not be loaded, and why."""

    plugin: str
    distribution: str
    error: str

    def message(self) -> str:
        if _norm(self.distribution) == DISTRIBUTION:
            fix = f"this is a built-in plugin: reinstall {DISTRIBUTION} ('pip install --force-reinstall {DISTRIBUTION}')"
        elif self.distribution == IN_PROCESS:
            fix = "it was added in-process: remove it from the plugins passed to load_plugins"
        else:
            fix = (
                f"to skip it, set TRANSLATE_LOAD_PLUGINS to the plugins you want without {self.distribution!r}, "
                f"or run 'pip uninstall {self.distribution}'"
            )
        return f"translate: plugin {self.plugin!r} from {self.distribution} failed to load: {self.error} ({fix})"


@dataclass
class Plugins:
    """The loaded plugins, their registry and any load errors."""

    manager: pluggy.PluginManager
    registry: Registry
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)
    trace: bool = False

    def describe(self) -> list[dict[str, Any]]:
        """One JSON-friendly entry per plugin: distribution, version, components by kind, errors."""
        out = []
        for name, info in self.infos.items():
            comps: dict[str, list[str]] = {}
            for comp in self.registry:
                if comp.plugin.name == name:
                    comps.setdefault(comp.kind, []).append(comp.name)
            out.append(
                {
                    "name": name,
                    "distribution": info.distribution,
                    "version": info.version,
                    "builtin": info.builtin,
                    "components": {k: sorted(v) for k, v in sorted(comps.items())},
                    "errors": [e.error for e in self.errors if e.plugin == name],
                }
            )
        for err in self.errors:
            if err.plugin not in self.infos:
                out.append(
                    {
                        "name": err.plugin,
                        "distribution": err.distribution,
                        "version": _dist_version(err.distribution),
                        "builtin": err.distribution == DISTRIBUTION,
                        "components": {},
                        "errors": [err.error],
                    }
                )
        return sorted(out, key=lambda e: (not e["builtin"], e["name"]))


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _selected(env: str | None) -> set[str] | None:
    if env is None:
        return None
    return {p.strip().lower().replace("_", "-") for p in env.split(",") if p.strip()}


def _norm(dist: str) -> str:
    return dist.lower().replace("_", "-")


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def load_plugins(
    *,
    strict: bool | None = None,
    extra: Iterable[tuple[str, object]] = (),
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> Plugins:
    """Discover and load all plugins, then fill a fresh registry.

    ``extra`` adds ``(name, module_or_object)`` plugins directly (used by tests and
    :mod:`translate.testing`). Errors are collected, or raised when ``strict``.
    """
    if strict is None:
        strict = os.environ.get("TRANSLATE_STRICT_PLUGINS", "") not in ("", "0")
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm, Registry())
    plugins.trace = os.environ.get("TRANSLATE_TRACE_PLUGINS", "") not in ("", "0")
    if plugins.trace:
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(f"[translate trace] {msg}"))
        pm.enable_tracing()
    selected = _selected(os.environ.get("TRANSLATE_LOAD_PLUGINS"))

    candidates: list[tuple[str, str, str, Any]] = []  # (name, dist, version, loader)
    for ep in entry_points if entry_points is not None else _entry_points():
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "unknown"
        builtin = _norm(dist) == DISTRIBUTION
        if not builtin and selected is not None and _norm(dist) not in selected:
            continue
        candidates.append((ep.name, dist, version, ep.load))
    for name, obj in extra:
        candidates.append((name, IN_PROCESS, "0", lambda obj=obj: obj))

    for name, dist, version, loader in candidates:
        info = PluginInfo(name=name, distribution=dist, version=version, builtin=_norm(dist) == DISTRIBUTION)
        try:
            obj = loader()
            if name in plugins.infos or pm.has_plugin(name):
                raise PluginError(f"a plugin named {name!r} is already loaded from {plugins.infos[name].distribution}")
            pm.register(obj, name=name)
            _check_hooks(pm, name, obj)
        except Exception as exc:  # noqa: BLE001 - any failure of a plugin import is reported, not fatal
            if pm.has_plugin(name) and name not in plugins.infos:
                pm.unregister(name=name)
            _fail(plugins, LoadError(name, dist, _describe(exc)), strict)
            continue
        plugins.infos[name] = info
        _trace(plugins, f"loaded plugin {name!r} from {dist} {version}")

    _fill_registry(plugins, strict)
    return plugins


def _check_hooks(pm: pluggy.PluginManager, name: str, obj: object) -> None:
    """Report hook implementations that match no hook (a misspelt hook name)."""
    known = set(hookspecs.hook_names())
    for attr in dir(obj):
        fn = getattr(obj, attr, None)
        if fn is None or not callable(fn):
            continue
        if getattr(fn, f"{hookspecs.PROJECT}_impl", None) is None:
            continue
        if attr not in known:
            close = difflib.get_close_matches(attr, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            pm.unregister(name=name)
            raise PluginError(f"implements unknown hook {attr!r}{hint}")


def _fill_registry(plugins: Plugins, strict: bool) -> None:
    for kind, hook_name in hookspecs.KINDS.items():
        caller = getattr(plugins.manager.hook, hook_name)
        for impl in caller.get_hookimpls():
            info = plugins.infos.get(impl.plugin_name)
            if info is None:
                continue

            def register(name: str, factory: Any, *, options: Any = None, description: str = "",
                         smoke_options: dict[str, Any] | None = None,
                         _kind: str = kind, _info: PluginInfo = info) -> None:
                plugins.registry.add(_kind, _info, name, factory, options=options, description=description,
                                     smoke_options=smoke_options)
                _trace(plugins, f"  {_info.name}: registered {_kind} {name!r}")

            # Each implementation is called on its own (not through pm.hook) so that every
            # registration is attributed to its plugin; hence the explicit trace lines.
            _trace(plugins, f"{hook_name}(register) -> plugin {info.name!r}")
            try:
                impl.function(register=register)
            except Exception as exc:  # noqa: BLE001
                _fail(plugins, LoadError(info.name, info.distribution, f"{hook_name}: {_describe(exc)}"), strict)


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line (load errors are reported on a single line)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _trace(plugins: Plugins, message: str) -> None:
    if plugins.trace:
        sys.stderr.write(f"[translate trace] {message}\n")


def _fail(plugins: Plugins, err: LoadError, strict: bool) -> None:
    plugins.errors.append(err)
    if strict:
        raise PluginError(err.message() + " [strict plugin loading is on]")
    print(err.message(), file=sys.stderr)


_CACHE: Plugins | None = None


def get_plugins(strict: bool | None = None) -> Plugins:
    """The process-wide plugins, loaded on first use."""
    global _CACHE
    if _CACHE is None:
        _CACHE = load_plugins(strict=strict)
    return _CACHE


def get_registry() -> Registry:
    """The process-wide registry (loads plugins on first use)."""
    return get_plugins().registry


def reset() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    global _CACHE
    _CACHE = None
