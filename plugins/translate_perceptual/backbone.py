"""timm feature extractors (``features_only``) with pretrained weights that are never silently random.

:func:`create_features` builds ``timm.create_model(name, features_only=True, out_indices=..., in_chans=...)``
and fills it, for ``weights="pretrained"``, from (in this order) the file the user names
(``weights_file``, resolved by :func:`translate.api.resolve_weights`: a path, a folder or an
``hf://`` id), a file under its usual name in the usual folders (``<model>.safetensors``, and for
VGG-16/19 torchvision's ``vgg16-397923af.pth`` / ``vgg19-dcbb9e9d.pth``), or timm's own download
from the Hugging Face Hub (its cache; ``HF_HUB_OFFLINE=1`` is honoured; when the Hub cannot be
reached, :func:`translate.api.hub_unreachable`, the cache is read directly). When none has them the
error names the model, the option and what to do. A file's keys are mapped to the feature model's
(timm flattens ``features.3`` to ``features_3``); missing keys and shape mismatches are errors that
name the keys, keys the feature model does not use (a classifier head, layers after the deepest
feature) are ignored and listed in :attr:`Features.ignored_keys`.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from translate.api import (
    ModelFileError,
    TranslateError,
    WeightsMissing,
    hub_unreachable,
    load_weights,
    resolve_weights,
)

#: timm model -> torchvision's file name of the same ImageNet weights (download.pytorch.org/models/).
TORCHVISION_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class Features:
    """A built feature extractor and where its weights came from."""

    net: nn.Module
    source: str
    ignored_keys: list[str] = field(default_factory=list)


def check_model_name(name: str, what: str) -> None:
    """Raise a :class:`TranslateError` with close matches when timm has no model ``name``."""
    if ":" in name or timm.is_model(name.split(".", 1)[0]):  # hf-hub:..., local-dir:...: timm resolves those
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else " (see timm.list_models())"
    raise TranslateError(f"{what}: timm has no model {name!r}{hint}")


def feature_layout(name: str, in_chans: int = 3) -> nn.Module:
    """The feature model with all its features, built on the meta device (its ``feature_info``; no memory)."""
    check_model_name(name, f"timm model {name!r}")
    with torch.device("meta"):
        return _create(name, f"timm model {name!r}", features_only=True, pretrained=False, in_chans=in_chans)


def _create(name: str, what: str, **kwargs: Any) -> nn.Module:
    """``timm.create_model`` without pretrained weights; timm's refusal (no features_only, bad out_indices) is a
    :class:`TranslateError` naming the model."""
    try:
        return timm.create_model(name, **kwargs)
    except TranslateError:
        raise
    except Exception as err:  # noqa: BLE001 - timm raises RuntimeError, ValueError, AssertionError, ...
        settings = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise TranslateError(f"{what}: timm cannot build {name!r} ({settings}): {type(err).__name__}: {err}") from None


def layer_names(net: nn.Module) -> list[list[str]]:
    """Names of each feature of ``net``: timm's module name, plus ``reluB_K`` / ``poolB`` for VGG models."""
    names = [[m] for m in net.feature_info.module_name()]
    aliases: dict[str, str] = {}
    block, conv = 1, 0
    for child_name, child in net.named_children():
        if isinstance(child, nn.Conv2d):
            conv += 1
        elif isinstance(child, nn.ReLU) and conv:
            aliases[child_name] = f"relu{block}_{conv}"
        elif isinstance(child, nn.MaxPool2d):
            aliases[child_name] = f"pool{block}"
            block, conv = block + 1, 0
    if str(getattr(net, "pretrained_cfg", {}).get("architecture", "")).startswith("vgg"):
        for entry in names:
            alias = aliases.get(entry[0].replace(".", "_"))
            if alias:
                entry.insert(0, alias)
    return names


def resolve_layers(net: nn.Module, layers: list[int | str], what: str) -> list[int]:
    """Feature indices of ``layers`` (indices, module names or VGG ``reluB_K`` names) in ``net``."""
    names = layer_names(net)
    known = ", ".join(f"{i}: {' = '.join(n)}" for i, n in enumerate(names))
    out = []
    for layer in layers:
        if isinstance(layer, int):
            if not 0 <= layer < len(names):
                raise TranslateError(f"{what}: layers: feature index {layer} is out of range; the features are {known}")
            out.append(layer)
            continue
        found = [i for i, n in enumerate(names) if layer in n]
        if not found:
            raise TranslateError(f"{what}: layers: {layer!r} is not a feature layer of this model; the features are "
                                 f"{known} (timm returns only these layers with features_only)")
        out.append(found[0])
    return out


def input_stats(net: nn.Module, in_chans: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The backbone's normalisation, shaped (1, C, 1, 1): pretrained_cfg's mean and std (averaged if in_chans != 3)."""
    cfg = getattr(net, "pretrained_cfg", {}) or {}
    mean = torch.tensor(cfg.get("mean", IMAGENET_MEAN), dtype=torch.float32)
    std = torch.tensor(cfg.get("std", IMAGENET_STD), dtype=torch.float32)
    if mean.numel() != in_chans:
        mean, std = mean.mean().repeat(in_chans), std.mean().repeat(in_chans)
    return mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)


def create_features(name: str, *, out_indices: list[int] | None, in_chans: int, weights: str,
                    weights_file: str | None, what: str, option: str) -> Features:
    """The timm feature model ``name`` with the weights ``weights`` asks for ("pretrained", "random", "stored").

    Args:
        what: what the network is for, for messages ("the VGG network of the perceptual loss").
        option: how the user names the weights file option, for messages.

    Raises:
        WeightsMissing: ``weights="pretrained"`` and no file, folder or Hub copy has the weights.
        ModelFileError: the file does not hold this model's weights (names the missing or misshapen keys).
    """
    check_model_name(name, what)
    kwargs: dict[str, Any] = {"features_only": True, "in_chans": in_chans}
    if out_indices is not None:
        kwargs["out_indices"] = tuple(out_indices)
    if weights != "pretrained":
        return Features(_create(name, what, pretrained=False, **kwargs), weights)
    if torch.get_default_device().type == "meta":  # a shape-only build holds no values: nothing to load
        return Features(_create(name, what, pretrained=False, **kwargs), "pretrained (not loaded on the meta device)")
    path = _local_file(name, weights_file, what, option)
    if path is None:
        unreachable = hub_unreachable()
        if unreachable is None or _hub_id(name) is None:
            return Features(_from_hub(name, kwargs, what, option), f"timm pretrained ({_hub_id(name) or name})")
        path = _hub_cached(name, unreachable, what, option)  # timm would retry for a minute, then read it
    net = _create(name, what, pretrained=False, **kwargs)
    ignored = load_into(net, load_weights(path), path=path, model=name, in_chans=in_chans)
    return Features(net, str(path), ignored)


def usual_names(name: str) -> list[str]:
    """The file names searched for in the usual folders when ``weights_file`` is unset."""
    return [f"{name}.safetensors"] + ([TORCHVISION_FILES[name]] if name in TORCHVISION_FILES else [])


def _local_file(name: str, spec: str | None, what: str, option: str) -> Path | None:
    origin = _origin(name)
    if spec is not None:
        return resolve_weights(spec, filename=usual_names(name)[0], what=what, origin=origin, option=option)
    for filename in usual_names(name):
        try:
            return resolve_weights(None, filename=filename, what=what, origin=origin, option=option)
        except WeightsMissing:
            continue
    return None


@functools.lru_cache(maxsize=64)
def _hub_id(name: str) -> str | None:
    cfg = feature_layout(name).pretrained_cfg or {}
    return cfg.get("hf_hub_id") or cfg.get("url") or None


def _origin(name: str) -> str:
    hub = _hub_id(name)
    if hub and "://" not in hub:
        return f"https://huggingface.co/{hub} (model.safetensors)"
    return hub or f"the author of timm model {name!r}"


def _todo(name: str, option: str) -> str:
    folders = "$TRANSLATE_WEIGHTS_DIR, ~/.cache/translate/weights/ or torch's hub cache checkpoints/"
    return (f"download {_origin(name)} once and set {option} to its path, or put it in one of the searched folders "
            f"({folders}) as {usual_names(name)[0]}; or set weights = \"random\" for an untrained network (tests "
            "only)")


#: The files timm fetches from a model's Hub repository, in the order it tries them.
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def _hub_cached(name: str, unreachable: str, what: str, option: str) -> Path:
    """timm's weights for ``name`` from the Hugging Face cache, read without asking the Hub."""
    from huggingface_hub import try_to_load_from_cache

    hub = _hub_id(name)
    if hub and "://" not in hub:
        repo, _, revision = hub.partition("@")
        for filename in HUB_FILES:
            found = try_to_load_from_cache(repo, filename, revision=revision or None)
            if isinstance(found, str):
                return Path(found)
    raise WeightsMissing(f"{what}: no pretrained weights for timm model {name!r}: {option} is not set, no "
                         f"{' or '.join(usual_names(name))} in the usual folders, none in the Hugging Face cache, "
                         f"and {unreachable}. To provide them offline: {_todo(name, option)}")


def _from_hub(name: str, kwargs: dict[str, Any], what: str, option: str) -> nn.Module:
    todo = _todo(name, option)
    if _hub_id(name) is None:
        raise WeightsMissing(f"{what}: timm knows no pretrained weights for {name!r} and {option} is not set; {todo}")
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as err:  # noqa: BLE001 - offline, not cached, or any download failure
        from huggingface_hub import constants

        offline = "; offline mode is on (HF_HUB_OFFLINE=1)" if constants.is_offline_mode() else ""
        cause = (str(err).strip().splitlines() or [""])[0]
        raise WeightsMissing(f"{what}: no pretrained weights for timm model {name!r}: {option} is not set, no "
                             f"{' or '.join(usual_names(name))} in the usual folders, and timm could not load them "
                             f"from the Hugging Face Hub or its cache ({type(err).__name__}: {cause}{offline}). "
                             f"To provide them offline: {todo}") from None


def load_into(net: nn.Module, state: dict[str, torch.Tensor], *, path: Path | str, model: str,
              in_chans: int = 3) -> list[str]:
    """Fill ``net`` (a timm feature model) from a full-model or feature-model state dict; return the ignored keys.

    Keys match after '.' and '_' are made the same (timm's feature models flatten ``features.3`` to
    ``features_3``). A first convolution saved for 3 channels is adapted to ``in_chans`` as timm does.
    """
    own = net.state_dict()
    canonical: dict[str, str] = {}
    for key in own:
        canonical.setdefault(key.replace(".", "_"), key)
    first_conv = str((getattr(net, "pretrained_cfg", {}) or {}).get("first_conv") or "") + ".weight"
    picked, ignored, shapes = {}, [], []
    for key, tensor in state.items():
        target = canonical.get(key.replace(".", "_"))
        if target is None:
            ignored.append(key)
            continue
        if target.replace(".", "_") == first_conv.replace(".", "_") and tensor.dim() == 4 \
                and tensor.shape[1] != own[target].shape[1]:
            from timm.models import adapt_input_conv

            tensor = adapt_input_conv(in_chans, tensor)
        if tuple(tensor.shape) != tuple(own[target].shape):
            shapes.append(f"{key}: file {tuple(tensor.shape)} vs network {tuple(own[target].shape)}")
            continue
        picked[target] = tensor
    missing = [k for k in own if k not in picked and not k.endswith("num_batches_tracked")]
    if missing or shapes:
        problems = [f"{label}: {_listing(items)}" for label, items in (
            ("missing keys", missing), ("shape mismatches", shapes), ("keys the feature model does not use", ignored),
        ) if items]
        raise ModelFileError(f"{path}: not the weights of timm model {model!r} (features_only):\n  "
                             + "\n  ".join(problems))
    for key in own:
        picked.setdefault(key, own[key])  # BatchNorm step counters: not weights
    net.load_state_dict(picked, strict=True)
    return ignored


def _listing(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
