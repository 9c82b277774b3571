"""How a generator exposes its intermediate features: a contract of :mod:`translate.api`.

A generic contract, not a CUT special case: any generator plugin can implement it, and any
method that needs encoder features (CUT's PatchNCE, feature losses on the generator itself) asks
for them through it. Plugins use ``translate.FeatureEncoder``, ``translate.feature_encoder`` and
``translate.check_feature_layers``.

A *feature layer* is an integer id naming a point in the network's forward pass, in forward
order; the generator decides what the ids mean and says so in :meth:`FeatureEncoder.feature_layers`.
For the CUT plugin's ResNet generators the id ``i`` is the output of ``model[i]``, the ``i``-th
module of the generator's top-level ``nn.Sequential``, exactly as the CUT authors number their
``nce_layers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import torch


@runtime_checkable
class FeatureEncoder(Protocol):
    """A network that can return intermediate activations as well as its output.

    Implementations provide:

    - ``feature_layers()``: every feature layer id the network offers, in forward order, with a
      one-line description of each (``{0: "input, reflection-padded by 3 (3 ch)", ...}``);
    - ``feature_channels(layers)``: the channel count of each requested layer, without running
      the network (a method builds heads on them before the first batch);
    - ``features(x, layers)``: the activations ``(N, C_l, H_l, W_l)`` at ``layers`` (strictly
      increasing ids), in that order. The forward pass stops after the last requested layer;
    - ``forward(x, layers=None)``: the output image when ``layers`` is None, else
      ``features(x, layers)``. Methods call the network itself (``G(x, layers=...)``) rather than
      ``features``, so that the call goes through the wrappers the engine puts around networks
      (DistributedDataParallel, ``torch.compile``), which only forward ``__call__``.

    Errors: an unknown or non-increasing layer list raises ``ValueError`` naming the layers on offer.
    """

    def feature_layers(self) -> Mapping[int, str]:
        """Feature layer ids the network offers, in forward order, with a description of each."""
        ...

    def feature_channels(self, layers: Sequence[int]) -> list[int]:
        """Channels of the features at ``layers``."""
        ...

    def features(self, x: "torch.Tensor", layers: Sequence[int]) -> list["torch.Tensor"]:
        """Activations at ``layers`` for input ``x``."""
        ...


def check_feature_layers(encoder: FeatureEncoder, layers: Sequence[int], *, key: str = "layers") -> list[int]:
    """``layers`` as a list, after checking them against what ``encoder`` offers.

    Raises:
        ValueError: a layer is not offered, or the ids are not strictly increasing; the message
            names ``key`` (e.g. ``method.options.nce_layers``) and the layers on offer.
    """
    offered = encoder.feature_layers()
    wanted = [int(i) for i in layers]
    if not wanted:
        raise ValueError(f"{key}: no feature layers given")
    if any(b <= a for a, b in zip(wanted, wanted[1:])):
        raise ValueError(f"{key}: feature layers must be strictly increasing, got {wanted}")
    unknown = [i for i in wanted if i not in offered]
    if unknown:
        raise ValueError(f"{key}: the generator offers no feature layer {unknown}; it offers "
                         f"{min(offered)}..{max(offered)} ({len(offered)} layers)")
    return wanted


def feature_encoder(network: Any) -> FeatureEncoder | None:
    """``network`` as a :class:`FeatureEncoder`, or None when it does not implement the contract."""
    return network if isinstance(network, FeatureEncoder) else None


__all__ = ["FeatureEncoder", "check_feature_layers", "feature_encoder"]
