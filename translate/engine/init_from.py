"""``train.init_from``: start training from the generators of a model file (fine-tuning).

The model may be any translate model: one trained here, or one converted from the authors'
checkpoints by ``translate convert``. Each generator the method exports (:meth:`Method.exports`)
takes the weights of the model's generator with the same export name; a model with a single
generator fills a method that exports a single generator whatever the names. Discriminators and
optimizers start fresh. The weights must fit exactly (names and shapes): a mismatch is a recipe
error naming the tensors, never a silent partial load.
"""

from __future__ import annotations

from typing import Any

from ..components.method import Method
from ..errors import ModelFileError, RecipeError
from ..plugin.registry import Registry


def init_from_model(method: Method, path: str, registry: Registry, source: str) -> list[str]:
    """Load the generators of the model at ``path`` into ``method``'s networks; returns one line per network.

    Raises:
        RecipeError: the model cannot be read, or a generator does not fit the network it should initialise.
    """
    from ..models import load_model

    key = "train.init_from"
    try:
        loaded = load_model(path, registry=registry)
    except ModelFileError as err:
        raise RecipeError(source, [f"{key}: {err}"]) from None
    exports = method.exports()
    names = list(loaded.names)
    lines = []
    for spec in exports:
        if spec.name in loaded.modules:
            name = spec.name
        elif len(exports) == 1 and len(names) == 1:
            name = names[0]
        else:
            raise RecipeError(source, [f"{key}: the model {path} has generators {names}, none named {spec.name!r} "
                                       f"(the method exports {[s.name for s in exports]})"])
        _load(method.networks[spec.network], loaded.modules[name].state_dict(), key, source,
              f"generator {name!r} of {path}", spec.network)
        lines.append(f"{spec.network} <- generator {name!r} of {path}")
    return lines


def _load(net: Any, state: dict[str, Any], key: str, source: str, what: str, network: str) -> None:
    own = net.state_dict()
    extra, missing = sorted(set(state) - set(own)), sorted(set(own) - set(state))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(set(state) & set(own))
              if state[k].shape != own[k].shape]
    problems = ([f"it has {_few(extra)} that the network lacks"] if extra else []) + \
               ([f"it lacks {_few(missing)}"] if missing else []) + \
               ([f"shapes differ: {_few(shapes)}"] if shapes else [])
    if problems:
        raise RecipeError(source, [f"{key}: {what} does not fit network {network!r} of this recipe: "
                                   + "; ".join(problems) + " (build the same generator and options as the model's "
                                   "config.json says)"])
    net.load_state_dict(state, strict=True)


def _few(items: list[str], show: int = 4) -> str:
    return ", ".join(items[:show]) + (f" and {len(items) - show} more" if len(items) > show else "")
