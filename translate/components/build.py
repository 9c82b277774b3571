"""BuildContext: how a method builds its networks, losses and optimizers from a recipe; BuiltMethod: what it built.

The context keeps the record of every network it builds (component, options, plugin, channels)
beside the module, never on it; :meth:`BuildContext.finish` hands the method over with those
records (by network name) and the losses it built, as one :class:`BuiltMethod` that the engine
prepares, samples, checks and exports from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ..data.contract import DataInfo
from ..errors import PluginError, RecipeError
from ..plugin.registry import Component, Registry
from ..recipe import ComponentSpec, Recipe, declared_loss_roles
from .method import ComponentRecord, ExportSpec, Method, unwrap

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass
class BuildContext:
    """Passed to a method factory.

    ``channels`` maps the data set's image keys to channel counts; ``data`` is what the data set
    says about itself (direction, image size, ...); ``source`` names the recipe in errors.
    ``losses`` records every loss built through :meth:`loss` (role -> loss): after ``prepare`` the
    engine moves those that are ``torch.nn.Module`` to the run's device and freezes them
    (:mod:`translate.engine.loss_device`). ``smoke=True`` builds a component whose table the recipe
    lacks with its ``smoke_options`` instead of its defaults (tiny networks, for
    :func:`translate.testing.check_method`).
    """

    recipe: Recipe
    registry: Registry
    channels: dict[str, int]
    data: DataInfo = field(default_factory=DataInfo)
    source: str = "<recipe>"
    records: list[ComponentRecord] = field(default_factory=list)
    losses: dict[str, Any] = field(default_factory=dict)
    smoke: bool = False
    _built: list[tuple[Any, ComponentRecord]] = field(default_factory=list, repr=False)

    def _spec(self, section: str, default: str | None, kind: str) -> tuple[str, ComponentSpec]:
        if section.startswith("losses."):
            spec = self.recipe.losses.get(section.split(".", 1)[1])
        else:
            spec = getattr(self.recipe, section, None)
        if spec is None:
            if default is None:
                raise RecipeError(self.source, [f"{section}: this method needs a [{section}] table"])
            options = dict(self.registry.get(kind, default).smoke_options) if self.smoke else {}
            spec = ComponentSpec(name=default, options=options)
        return section, spec

    def _component(self, kind: str, section: str, spec: ComponentSpec) -> tuple[Component, Any]:
        comp = self.registry.get(kind, spec.name)
        return comp, comp.parse_options(spec.options, f"{section}.options")

    def generator(
        self, *, in_channels: int, out_channels: int, section: str = "generator", default: str | None = None
    ) -> "torch.nn.Module":
        """Build the recipe's generator (``[generator]`` or another section) and record it for export."""
        section, spec = self._spec(section, default, "generator")
        comp, opts = self._component("generator", section, spec)
        module = comp.build(opts, in_channels=in_channels, out_channels=out_channels)
        self._record(module, comp, opts, in_channels, out_channels)
        return module

    def discriminator(
        self, *, in_channels: int, section: str = "discriminator", default: str | None = None
    ) -> "torch.nn.Module":
        """Build the recipe's discriminator."""
        section, spec = self._spec(section, default, "discriminator")
        comp, opts = self._component("discriminator", section, spec)
        module = comp.build(opts, in_channels=in_channels)
        self._record(module, comp, opts, in_channels, None)
        return module

    def loss(self, role: str, default: str | None = None) -> Any:
        """Build the loss for ``[losses.<role>]`` (or the method's default loss name) and record it in ``losses``.

        Raises:
            PluginError: the method's options model declares ``loss_roles`` and ``role`` is not one of them.
        """
        roles = self.loss_roles()
        if roles is not None and role not in roles:
            raise PluginError(
                f"method {self.recipe.method.name!r} asked for the loss role {role!r}, which its options model "
                f"does not declare in loss_roles ({', '.join(roles)}): add it to loss_roles"
            )
        section, spec = self._spec(f"losses.{role}", default, "loss")
        comp, opts = self._component("loss", section, spec)
        loss = comp.build(opts)
        key, n = role, 1
        while key in self.losses:  # the same role built twice: both are placed on the device
            n += 1
            key = f"{role}#{n}"
        self.losses[key] = loss
        return loss

    def loss_roles(self) -> tuple[str, ...] | None:
        """The loss roles the recipe's method declares (``loss_roles`` on its options model), or None."""
        if self.recipe.method.name not in self.registry.names("method"):
            return None
        return declared_loss_roles(self.registry.get("method", self.recipe.method.name))

    def _record(self, module: Any, comp: Component, opts: Any, cin: int, cout: int | None) -> None:
        rec = ComponentRecord(
            kind=comp.kind,
            name=comp.name,
            options=opts.model_dump(mode="json"),
            plugin_name=comp.plugin.name,
            distribution=comp.plugin.distribution,
            version=comp.plugin.version,
            in_channels=cin,
            out_channels=cout,
        )
        self._built.append((module, rec))
        self.records.append(rec)

    def record_of(self, module: Any) -> ComponentRecord | None:
        """How ``module`` (or the module inside a DDP / compile wrapper) was built here, or None."""
        module = unwrap(module)
        return next((rec for built, rec in self._built if built is module), None)

    def finish(self, method: Method) -> "BuiltMethod":
        """``method`` with the records of its networks (by name) and the losses built for it."""
        records = {name: rec for name, net in method.networks.items() if (rec := self.record_of(net)) is not None}
        return BuiltMethod(method=method, data=self.data, records=records, losses=dict(self.losses))

    def adam(
        self, params: Iterable["torch.nn.Parameter"], lr: float, betas: tuple[float, float] | list[float],
        *, reference: bool = False,
    ) -> "torch.optim.Optimizer":
        """Adam as in the papers (lr 2e-4, betas (0.5, 0.999) in the built-in methods).

        By default PyTorch's fused implementation (one kernel for all parameters; about 5x faster
        than the per-parameter loop on CPU for the 54M-parameter U-Net) when every parameter is a
        floating-point tensor: the same Adam up to rounding (a few ulp, which Adam's first step can
        amplify where a gradient is near ``eps``). ``reference=True`` gives ``torch.optim.Adam`` with
        its defaults (the for-loop on CPU, ``foreach`` on CUDA), as the authors' code uses, so that
        updates match theirs bit for bit.
        """
        import torch

        params = list(params)
        b = (float(betas[0]), float(betas[1]))
        if reference:
            return torch.optim.Adam(params, lr=lr, betas=b)
        fused = all(p.is_floating_point() for p in params)
        return torch.optim.Adam(params, lr=lr, betas=b, fused=fused)

    def fail(self, key: str, message: str) -> RecipeError:
        """A recipe error for a method-level consistency check (e.g. channel mismatch)."""
        return RecipeError(self.source, [f"{key}: {message}"])


@dataclass
class BuiltMethod:
    """A method as its factory built it, with what the builder recorded beside it.

    ``records`` maps a network's name in ``method.networks`` to how it was built (the model file
    stores it, the size checks read its kind); networks built outside the context have none.
    ``losses`` are the losses built through :meth:`BuildContext.loss` (role -> loss), placed on the
    run's device by the engine. ``data`` is what the training set says about itself.
    """

    method: Method
    data: DataInfo
    records: dict[str, ComponentRecord]
    losses: dict[str, Any]

    def exports(self) -> list[tuple[ExportSpec, "torch.nn.Module", ComponentRecord]]:
        """``(spec, network, record)`` for each generator ``method.exports()`` names, wrappers removed.

        Raises:
            PluginError: an export names a network the method lacks or one built outside the context.
        """
        out = []
        for spec in self.method.exports():
            if spec.network not in self.method.networks:
                raise PluginError(f"export {spec.name!r}: the method has no network {spec.network!r} "
                                  f"(it has {', '.join(self.method.networks)})")
            record = self.records.get(spec.network)
            if record is None:
                raise PluginError(f"export {spec.name!r}: network {spec.network!r} was not built through "
                                  "BuildContext.generator(), so nothing records how to rebuild it")
            out.append((spec, unwrap(self.method.networks[spec.network]), record))
        return out
