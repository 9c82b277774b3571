"""BuildContext: how a method builds its networks, losses and optimizers from a recipe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ..data.contract import DataInfo
from ..errors import PluginError, RecipeError
from ..plugin.registry import Component, Registry
from ..recipe import ComponentSpec, Recipe, declared_loss_roles
from .method import ComponentRecord

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
        module.translate_record = rec
        self.records.append(rec)

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
