"""Choosing the checkpoint to resume from: the newest one that is whole, with a word about the others.

A checkpoint is checked before anything is loaded from it: its manifest must be valid JSON with
the expected keys, and every state file must be present, and each safetensors file's header must
cover the file exactly (a truncated file fails that). Damaged newer checkpoints are renamed to
``step-XXXXXXXX.damaged`` (kept for inspection, ignored from then on) so that later saves never
prune the good ones in their favour.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import TranslateError
from .checkpoint import FORMAT, checkpoint_dir, list_checkpoints

_STATES = ("optimizers", "method", "extra")


def checkpoint_problem(path: Path, rank: int = 0) -> str | None:
    """Why the checkpoint at ``path`` cannot be resumed from, or None when it looks whole."""
    from safetensors import safe_open

    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"manifest.json is unreadable ({type(err).__name__}: {err})"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"manifest.json has no format {FORMAT} record"
    prog = manifest.get("progress")
    if not isinstance(prog, dict) or not all(isinstance(prog.get(k), int) for k in ("step", "epoch", "batch_in_epoch")):
        return "manifest.json has no valid progress (step, epoch, batch_in_epoch)"
    if not isinstance(manifest.get("networks"), list) or not isinstance(manifest.get("optimizers"), list):
        return "manifest.json lists no networks or optimizers"
    files = ["networks.safetensors"] + [f"{s}.{ext}" for s in _STATES for ext in ("safetensors", "json")]
    if (path / f"rng-rank{rank}.json").exists():
        files += [f"rng-rank{rank}.safetensors"]
    for name in files:
        file = path / name
        if not file.is_file():
            return f"{name} is missing"
        try:
            if name.endswith(".json"):
                json.loads(file.read_text(encoding="utf-8"))
            else:
                with safe_open(str(file), framework="pt") as fh:
                    keys = list(fh.keys())
                if name == "networks.safetensors":
                    absent = [n for n in manifest["networks"] if not any(k.startswith(f"{n}.") for k in keys)]
                    if absent:
                        return f"{name} holds no weights for {', '.join(absent)}"
        except Exception as err:  # safetensors raises its own error type for a bad header
            return f"{name} is damaged ({err})"
    return None


def choose_checkpoint(run_dir: Path, *, rank: int = 0, rename: bool = True) -> tuple[Path, list[str]]:
    """The newest whole checkpoint, and one note per damaged newer one (renamed aside when ``rename``).

    Raises:
        TranslateError: there is no checkpoint, or none is whole (each one's problem is named).
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise TranslateError(f"--resume: no checkpoint found in {checkpoint_dir(run_dir)}")
    damaged: list[tuple[Path, str]] = []
    for path in reversed(found):
        problem = checkpoint_problem(path, rank)
        if problem is not None:
            damaged.append((path, problem))
            continue
        notes = []
        for bad, why in damaged:
            aside = bad.with_name(bad.name + ".damaged")
            if rename and not aside.exists():
                bad.rename(aside)
                notes.append(f"checkpoint {bad} is damaged: {why}; kept as {aside.name}")
            else:
                notes.append(f"checkpoint {bad} is damaged: {why}")
        if notes:
            notes.append(f"falling back to {path.name}, the newest whole checkpoint")
        return path, notes
    raise TranslateError(
        f"--resume: no whole checkpoint in {checkpoint_dir(run_dir)} ("
        + "; ".join(f"{p.name}: {why}" for p, why in damaged)
        + "); nothing was changed; start a new run in another --output-dir"
    )
