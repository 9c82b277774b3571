"""Which registered network reads an authors' state dict: every component is asked, none is named.

A network (what a generator or discriminator factory returns) that can read checkpoints of the
authors' pytorch-CycleGAN-and-pix2pix code implements :class:`translate.nn.traits.AuthorsCheckpoint`
(``infer_options_from_authors_state_dict``, ``from_authors_state_dict``, optionally
``channels_from_authors_state_dict`` and ``to_authors_state_dict``).

Each component is built once with its default options on torch's ``meta`` device (no memory)
and asked. A component that recognises the state dict is then checked: the options it inferred
(with the user's overrides) must validate, and the network they build (again on the meta device)
must have exactly the mapped tensors' names and shapes. Of several that pass, the most specific
wins: the one that needed the fewest options (``unet_256`` fixes its depth, ``unet`` needs
``num_downs``). A plugin's network that offers the methods takes part like a built-in one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ...errors import ModelFileError, OptionsInvalid
from ...nn.traits import AuthorsCheckpoint

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ...plugin.registry import Component, Registry

PLUGIN_ROUTE = ("a checkpoint of other code converts through a generator plugin whose network reads its layout: see "
                "docs/models.md, \"Converting other checkpoints through a plugin\"")
"""Where a refused file's message points: the route for layouts no installed generator reads."""
CHANNELS = "channels_from_authors_state_dict"
"""The optional method of :class:`AuthorsCheckpoint` that says a state dict's channel counts."""


@dataclass
class Recognised:
    """A component that reads the state dict: validated options, the mapped tensors and the channels."""

    component: "Component"
    options: BaseModel
    inferred: dict[str, Any]
    state: dict[str, "torch.Tensor"]
    in_channels: int
    out_channels: int


@dataclass
class _Miss:
    name: str
    stage: int  # 0: not of its kind, 1: options invalid, 2: tensors differ
    reason: str


@dataclass
class _Probes:
    """Networks built once per component with default options, on the meta device."""

    nets: dict[tuple[str, str], Any] = field(default_factory=dict)

    def get(self, comp: "Component") -> Any:
        key = (comp.kind, comp.name)
        if key not in self.nets:
            self.nets[key] = _build_meta(comp, comp.parse_options({}, f"{comp.kind}.options"), 3, 3)
        return self.nets[key]


def _build_meta(comp: "Component", options: BaseModel, cin: int, cout: int) -> Any:
    import torch

    kwargs: dict[str, int] = {"in_channels": cin}
    if comp.kind == "generator":
        kwargs["out_channels"] = cout
    with torch.device("meta"):
        return comp.build(options, **kwargs)


def capable(comp: "Component", probes: _Probes) -> bool:
    """Whether the network ``comp`` builds offers the authors' interface (see the module docstring)."""
    try:
        net = probes.get(comp)
    except Exception:  # noqa: BLE001 - a factory that cannot build with defaults on the meta device
        return False
    return isinstance(net, AuthorsCheckpoint)


def _short(err: BaseException) -> str:
    lines = str(err).strip().splitlines() or [type(err).__name__]
    text = " ".join(line.strip() for line in lines[:3])
    return text if len(text) <= 240 else text[:240] + "..."


def _try(comp: "Component", state: dict[str, Any], overrides: dict[str, Any], probes: _Probes) -> Recognised | _Miss:
    net = probes.get(comp)
    try:
        inferred = dict(net.infer_options_from_authors_state_dict(state))
        mapped = dict(net.from_authors_state_dict(state))
        channels = dict(getattr(net, CHANNELS)(state)) if callable(getattr(net, CHANNELS, None)) else {}
    except Exception as err:  # noqa: BLE001 - the plugin's way of saying "not mine"
        return _Miss(comp.name, 0, _short(err))
    try:
        options = comp.parse_options({**inferred, **overrides}, f"{comp.kind}.options")
    except OptionsInvalid as err:
        return _Miss(comp.name, 1, "options do not validate: " + "; ".join(err.lines))
    cin = int(channels.get("in_channels", 3))
    cout = int(channels.get("out_channels", cin))
    try:
        built = _build_meta(comp, options, cin, cout)
    except Exception as err:  # noqa: BLE001 - the options a plugin inferred do not build
        return _Miss(comp.name, 1, f"building it failed: {_short(err)}")
    problem = _differences({k: tuple(v.shape) for k, v in built.state_dict().items()},
                           {k: tuple(v.shape) for k, v in mapped.items()})
    if problem:
        return _Miss(comp.name, 2, f"with options {_compact(options)}: {problem}")
    return Recognised(comp, options, inferred, mapped, cin, cout)


def _compact(options: BaseModel) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.model_dump(mode="json").items()
                     if k not in ("init", "init_gain"))


def _differences(network: dict[str, tuple[int, ...]], file: dict[str, tuple[int, ...]]) -> str:
    missing = sorted(set(network) - set(file))
    extra = sorted(set(file) - set(network))
    shapes = [f"{k} {file[k]} vs {network[k]}" for k in sorted(set(file) & set(network)) if file[k] != network[k]]
    parts = [f"{label}: {', '.join(items[:4])}{' ...' if len(items) > 4 else ''}"
             for label, items in (("missing", missing), ("unexpected", extra), ("shapes (file vs network)", shapes))
             if items]
    return "; ".join(parts)


def recognise(
    state: dict[str, "torch.Tensor"],
    registry: "Registry",
    *,
    where: str,
    generator: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Recognised:
    """The registered generator that reads the authors' ``state`` (see the module docstring).

    Args:
        state: the checkpoint's tensors (already cleaned by :func:`~translate.models.convert.checkpoint.read_checkpoint`).
        registry: the component registry.
        where: the file, for error messages.
        generator: only try this registered generator (``--generator``).
        overrides: options that replace the inferred ones (``--set KEY=VALUE``).

    Raises:
        ModelFileError: no generator reads it (naming the closest ones and why they do not fit, or
            saying that it is a discriminator's checkpoint), several do equally well, or the named
            generator does not read it.
    """
    overrides = dict(overrides or {})
    probes = _Probes()
    generators = registry.of_kind("generator")
    if generator is not None:
        comp = generators.get(generator)
        if comp is None:
            raise ModelFileError(f"{where}: --generator {generator!r} is not a registered generator; "
                                 f"installed: {', '.join(sorted(generators))}")
        if not capable(comp, probes):
            names = [c.name for c in generators.values() if capable(c, probes)]
            raise ModelFileError(f"{where}: generator {generator!r} cannot read the authors' checkpoints (its network "
                                 "has no infer_options_from_authors_state_dict); generators that can: "
                                 f"{', '.join(names) or 'none installed'}; {PLUGIN_ROUTE}")
        found = _try(comp, state, overrides, probes)
        if isinstance(found, _Miss):
            raise ModelFileError(f"{where}: not a {generator!r} checkpoint: {found.reason}; {PLUGIN_ROUTE}")
        return found
    hits: list[Recognised] = []
    misses: list[_Miss] = []
    for comp in generators.values():
        if capable(comp, probes):
            found = _try(comp, state, overrides, probes)
            (misses if isinstance(found, _Miss) else hits).append(found)  # type: ignore[arg-type]
    if hits:
        fewest = min(len(h.inferred) for h in hits)
        best = [h for h in hits if len(h.inferred) == fewest]
        if len(best) > 1:
            names = ", ".join(h.component.name for h in best)
            raise ModelFileError(f"{where}: several generators read this checkpoint equally well ({names}); "
                                 "pick one with --generator NAME")
        return best[0]
    raise ModelFileError(_unknown(state, registry, where, misses, probes))


def _overlap(comp: "Component", state: dict[str, Any], probes: _Probes) -> int:
    """How many of ``state``'s names the network with default options has under the authors' names (0: unknown)."""
    to_authors = getattr(probes.get(comp), "to_authors_state_dict", None)
    try:
        return len(set(to_authors()) & set(state)) if callable(to_authors) else 0
    except Exception:  # noqa: BLE001 - only a ranking hint
        return 0


def _unknown(state: dict[str, Any], registry: "Registry", where: str, misses: list[_Miss], probes: _Probes) -> str:
    keys = list(state)
    shown = ", ".join(f"{k} {tuple(state[k].shape)}" for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
    head = (f"{where}: no installed generator recognises this checkpoint "
            f"({len(keys)} tensor{'' if len(keys) == 1 else 's'}: {shown})")
    readers = [r for c in registry.of_kind("discriminator").values() if capable(c, probes)
               for r in [_try(c, state, {}, probes)] if isinstance(r, Recognised)]
    if readers:
        name = min(readers, key=lambda r: len(r.inferred)).component.name
        return (f"{head}: it is a discriminator ({name!r} reads it), not a generator; convert the "
                "generator's file (*_net_G.pth, or *_net_G_A.pth and *_net_G_B.pth for CycleGAN)")
    if not misses:
        return (f"{head}; no installed generator reads the authors' checkpoints (see `translate plugins`); "
                f"{PLUGIN_ROUTE}")
    comps = registry.of_kind("generator")
    overlap = {m.name: _overlap(comps[m.name], state, probes) for m in misses}
    groups: dict[str, list[str]] = {}  # the furthest a generator got and the most names in common first
    for m in sorted(misses, key=lambda m: (-m.stage, -overlap[m.name])):
        groups.setdefault(m.reason, []).append(m.name)
    closest = [(names, reason) for reason, names in groups.items()][:3]
    lines = [f"  {', '.join(names)}: {reason}" for names, reason in closest]
    rest = [m.name for m in misses if not any(m.name in names for names, _ in closest)]
    tail = f"\n  (also tried: {', '.join(rest)})" if rest else ""
    return (f"{head}. Closest:\n" + "\n".join(lines) + tail +
            "\nName the network with --generator NAME and fix options with --set KEY=VALUE, if it is one of these; "
            f"otherwise {PLUGIN_ROUTE}")


__all__ = ["CHANNELS", "PLUGIN_ROUTE", "Recognised", "capable", "recognise"]
