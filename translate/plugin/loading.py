"""Plugin loading: the entry points of the group ``translate``, registered with pluggy, fill a registry.

Built-ins are found through the same entry points as third-party plugins. ``TRANSLATE_LOAD_PLUGINS``
names the third-party distributions to load (unset: all; empty: none), ``TRANSLATE_STRICT_PLUGINS=1``
makes a failing plugin fatal, ``TRANSLATE_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Iterator

import pluggy
from packaging.utils import canonicalize_name

from ..errors import PluginError
from . import hookspecs
from .registry import PluginInfo, Registry

ENTRY_POINT_GROUP = "translate"
DISTRIBUTION = "translate-i2i"
IN_PROCESS = "(in-process)"


def _norm(dist: str) -> str:
    return canonicalize_name(dist)


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


@dataclass
class LoadError:
    """A plugin that could not be loaded, and why."""

    plugin: str
    distribution: str
    error: str

    @property
    def builtin(self) -> bool:
        """Whether the plugin is one of translate's own."""
        return _norm(self.distribution) == DISTRIBUTION

    def message(self) -> str:
        """One line: what failed and how to fix or skip it."""
        if self.builtin:
            fix = f"this is a built-in plugin: reinstall {DISTRIBUTION} ('pip install --force-reinstall {DISTRIBUTION}')"
        elif self.distribution == IN_PROCESS:
            fix = "it was added in-process: remove it from the plugins passed to load_plugins"
        else:
            fix = (f"to skip it, set TRANSLATE_LOAD_PLUGINS to the plugins you want without {self.distribution!r}, "
                   f"or run 'pip uninstall {self.distribution}'")
        return f"translate: plugin {self.plugin!r} from {self.distribution} failed to load: {self.error} ({fix})"


@dataclass
class Plugins:
    """The loaded plugins, their registry and any load errors."""

    manager: pluggy.PluginManager
    registry: Registry
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)


def builtin_entry_points() -> list[metadata.EntryPoint]:
    """The entry points of translate's own distribution (the built-in plugins), by name."""
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    return sorted((ep for ep in eps if ep.dist is not None and _norm(ep.dist.name) == DISTRIBUTION),
                  key=lambda ep: ep.name)


def _candidates(entry_points: Iterable[metadata.EntryPoint] | None,
                extra: Iterable[tuple[str, object]]) -> list[tuple[PluginInfo, Callable[[], object]]]:
    """The plugins to load: entry points (filtered by ``TRANSLATE_LOAD_PLUGINS``), then in-process ones."""
    env = os.environ.get("TRANSLATE_LOAD_PLUGINS")
    selected = None if env is None else {_norm(p.strip()) for p in env.split(",") if p.strip()}
    out = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points:
        dist = ep.dist.name if ep.dist is not None else "unknown"
        builtin = _norm(dist) == DISTRIBUTION
        if builtin or selected is None or _norm(dist) in selected:
            out.append((PluginInfo(ep.name, dist, ep.dist.version if ep.dist else "unknown", builtin), ep.load))
    out.sort(key=lambda candidate: not candidate[0].builtin)  # built-ins first: a clash names the newcomer
    out += [(PluginInfo(name, IN_PROCESS, "0"), lambda obj=obj: obj) for name, obj in extra]
    return out


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line (load errors are reported on a single line)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _unknown_hooks(pm: pluggy.PluginManager, name: str) -> str:
    """Why ``check_pending`` failed for plugin ``name``: its hooks that match no spec, with close matches."""
    known = sorted(hookspecs.KINDS.values())
    parts = []
    for hook, caller in sorted(vars(pm.hook).items()):
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec() \
                and any(impl.plugin_name == name for impl in caller.get_hookimpls()):
            close = difflib.get_close_matches(hook, known, n=1)
            parts.append(f"implements unknown hook {hook!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
    return ", ".join(parts) or "implements a hook that matches no hook specification"


def load_plugins(*, strict: bool | None = None, extra: Iterable[tuple[str, object]] = (),
                 entry_points: Iterable[metadata.EntryPoint] | None = None) -> Plugins:
    """Discover and register the plugins with pluggy, then call their hooks to fill a fresh registry.

    ``extra`` adds ``(name, module_or_object)`` plugins directly (tests, :mod:`translate.testing`);
    ``entry_points`` replaces discovery. Errors are collected and printed on one line each, or
    raised as :class:`PluginError` when ``strict`` (default: ``TRANSLATE_STRICT_PLUGINS``).
    """
    strict = _flag("TRANSLATE_STRICT_PLUGINS") if strict is None else strict
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    trace = _flag("TRANSLATE_TRACE_PLUGINS")

    def say(msg: str) -> None:
        if trace:
            sys.stderr.write(f"[translate trace] {msg}\n")

    if trace:
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(f"[translate trace] {msg}"))
        pm.enable_tracing()
    plugins = Plugins(pm, Registry())

    def fail(info: PluginInfo, error: str) -> None:
        plugins.errors.append(err := LoadError(info.name, info.distribution, error))
        if strict:
            raise PluginError(err.message() + " [strict plugin loading is on]")
        print(err.message(), file=sys.stderr)

    for info, load in _candidates(entry_points, extra):
        try:
            obj = load()
            if pm.has_plugin(info.name):
                raise PluginError(f"a plugin named {info.name!r} is already loaded from "
                                  f"{plugins.infos[info.name].distribution}")
            pm.register(obj, name=info.name)
        except Exception as exc:  # noqa: BLE001 - a failing plugin is reported, not fatal
            fail(info, _describe(exc))
            continue
        try:
            pm.check_pending()  # an implementation that matches no hook: a misspelt hook name
        except pluggy.PluginValidationError:
            reason = _unknown_hooks(pm, info.name)
            pm.unregister(name=info.name)
            fail(info, f"PluginError: {reason}")
            continue
        plugins.infos[info.name] = info
        say(f"loaded plugin {info.name!r} from {info.distribution} {info.version}")

    for kind, hook in hookspecs.KINDS.items():
        implementers = {impl.plugin_name for impl in getattr(pm.hook, hook).get_hookimpls()}
        for info in [i for name, i in plugins.infos.items() if name in implementers]:
            def register(name: str, factory: Any, *, _kind: str = kind, _info: PluginInfo = info, **kw: Any) -> None:
                plugins.registry.add(_kind, _info, name, factory, **kw)
                say(f"  {_info.name}: registered {_kind} {name!r}")

            say(f"{hook}(register) -> plugin {info.name!r}")
            others = [p for n, p in pm.list_name_plugin() if n != info.name]
            try:  # through pluggy's hook calling, with this plugin's own register closure
                pm.subset_hook_caller(hook, remove_plugins=others)(register=register)
            except Exception as exc:  # noqa: BLE001
                fail(info, f"{hook}: {_describe(exc)}")
    return plugins


_CACHE: Plugins | None = None


def get_plugins(strict: bool | None = None) -> Plugins:
    """The process-wide plugins, loaded on first use.

    ``strict`` holds on every call, not only the first: asked strictly after a lenient load that
    skipped a plugin, it raises that plugin's error as a strict load would have.
    """
    global _CACHE
    if _CACHE is None:
        _CACHE = load_plugins(strict=strict)
    elif (_flag("TRANSLATE_STRICT_PLUGINS") if strict is None else strict) and _CACHE.errors:
        raise PluginError(_CACHE.errors[0].message() + " [strict plugin loading is on]")
    return _CACHE


def get_registry() -> Registry:
    """The process-wide registry (loads plugins on first use)."""
    return get_plugins().registry


@contextlib.contextmanager
def using_plugins(plugins: Plugins) -> Iterator[Plugins]:
    """Make ``plugins`` the process-wide plugins inside the block, then restore what was there.

    For tests and embedding: what :func:`get_plugins`, :func:`get_registry` and the command line use
    while the block runs (``with using_plugins(load_plugins(extra=[...])): main([...])``).
    """
    global _CACHE
    previous, _CACHE = _CACHE, plugins
    try:
        yield plugins
    finally:
        _CACHE = previous


def reset() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    global _CACHE
    _CACHE = None
