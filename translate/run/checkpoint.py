"""Resumable checkpoints in the run folder, written so that a kill never destroys the last good one.

Layout: ``RUN/checkpoints/step-00001000/`` holding

- ``networks.safetensors``: every network's weights as ``<name>.<param>``;
- ``optimizers.*``, ``method.*``: optimizer and method state (safetensors + JSON, see state.py);
- ``rng-rank<R>.*``: each process's RNG states;
- ``manifest.json``: format, step, epoch, batch-in-epoch, network and optimizer names,
  written last. A folder without a manifest is incomplete and ignored.

A checkpoint is assembled in ``step-XXXXXXXX.tmp``, flushed to disk (every file, then the
folder) and renamed into place, so that a kill or a power cut at any moment leaves either the
whole checkpoint or none; left-overs of a killed save are removed by the next save. Older ones
beyond ``keep`` are removed only after the new one is complete, manifest first (a half-removed
folder is never taken for a checkpoint), except those of protected steps (the best checkpoint
of an ``[eval]`` table with ``best``). No pickle is used.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..errors import TranslateError
from ..utils.atomic import write_text_atomic
from .layout import RunFolder
from .nospace import disk_full_error, is_disk_full, state_nbytes
from .state import load_state, save_state

FORMAT = 1


@dataclass
class Progress:
    """Where training stands: optimizer steps done, epoch, batches done in that epoch."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


def checkpoint_dir(run_dir: Path) -> Path:
    """``RUN/checkpoints`` (:attr:`RunFolder.checkpoints`)."""
    return RunFolder(run_dir).checkpoints


_NAME = re.compile(r"step-(\d+)")
_TMP = re.compile(r"step-\d+\.tmp")


def checkpoint_step(path: Path) -> int | None:
    """The step of a checkpoint folder named ``step-<digits>``; None for any other name."""
    match = _NAME.fullmatch(path.name)
    return int(match.group(1)) if match else None


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints (``step-<digits>`` with a manifest), oldest first; other names are ignored."""
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir()
            if checkpoint_step(p) is not None and p.is_dir() and (p / "manifest.json").is_file()]
    return sorted(done, key=lambda p: checkpoint_step(p) or 0)


def _incomplete(run_dir: Path) -> list[Path]:
    """Left-overs of saves that were killed halfway (``.tmp`` folders, or step folders without manifest)."""
    return [p for p in checkpoint_dir(run_dir).iterdir()
            if p.is_dir() and (_TMP.fullmatch(p.name)
                               or (checkpoint_step(p) is not None and not (p / "manifest.json").is_file()))]


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder``, then the folder itself, to disk (POSIX; a no-op where folders cannot
    be opened)."""
    for file in folder.iterdir():
        if file.is_file():
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows: folders are not opened this way
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder; the files are on disk already
        pass
    finally:
        os.close(fd)


def _remove(folder: Path) -> None:
    """Remove a checkpoint folder, its manifest first: a kill halfway leaves an incomplete folder (ignored
    and removed by the next save), never a listed checkpoint with files missing."""
    (folder / "manifest.json").unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def rng_state() -> dict[str, Any]:
    """This process's RNG states as tensors and JSON values."""
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    run_dir: Path,
    progress: Progress,
    *,
    networks: dict[str, torch.nn.Module],
    optimizers: dict[str, Any],
    method_state: dict[str, Any],
    extra: dict[str, Any],
    accelerator: Any,
    keep: int,
    protect: tuple[int, ...] | list[int] = (),
) -> Path:
    """Save a checkpoint from every process (all must call it). Returns its folder.

    Afterwards only the last ``keep`` checkpoints are kept, and those of the ``protect`` steps.

    Raises:
        DiskFull: the disk filled up; the partial folder is removed, earlier checkpoints are kept.
    """
    final = checkpoint_dir(run_dir) / f"step-{progress.step:08d}"
    tmp = final.with_name(final.name + ".tmp")
    last_good = latest_checkpoint(run_dir)
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    rng = rng_state()
    nbytes = state_nbytes(rng)
    try:
        save_state(rng, tmp / f"rng-rank{accelerator.process_index}")
        if accelerator.is_main_process:
            weights = {}
            for name, net in networks.items():
                for key, value in accelerator.unwrap_model(net).state_dict().items():
                    weights[f"{name}.{key}"] = value.detach().to("cpu").contiguous()
            opt_states = {name: opt.state_dict() for name, opt in optimizers.items()}
            nbytes += state_nbytes(weights) + state_nbytes(opt_states) + state_nbytes(method_state)
            save_file(weights, str(tmp / "networks.safetensors"))
            save_state(opt_states, tmp / "optimizers")
            save_state(method_state, tmp / "method")
            save_state(extra, tmp / "extra")
            manifest = {
                "format": FORMAT,
                "progress": asdict(progress),
                "networks": list(networks),
                "optimizers": list(optimizers),
                "num_processes": accelerator.num_processes,
            }
            write_text_atomic(tmp / "manifest.json", json.dumps(manifest, indent=2))
    except Exception as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(err):
            raise disk_full_error(f"checkpoint {final.name}", tmp.parent, nbytes, last_good) from None
        raise
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _fsync_tree(tmp)  # every process's files are written (the barrier above)
        if final.exists():  # a checkpoint of the same step (e.g. a re-run): replace it
            old = final.with_name(final.name + ".old")
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old)
        else:
            tmp.rename(final)
        _fsync_dir(final.parent)
        older = [p for p in list_checkpoints(run_dir)[:-keep] if checkpoint_step(p) not in set(protect)]
        for stale in older + _incomplete(run_dir):
            _remove(stale)
    accelerator.wait_for_everyone()
    return final


def _few(names: list[str], show: int = 4) -> str:
    return ", ".join(names[:show]) + (f" and {len(names) - show} more" if len(names) > show else "")


def load_checkpoint(
    path: Path,
    *,
    networks: dict[str, torch.nn.Module],
    optimizers: dict[str, Any],
    accelerator: Any,
) -> tuple[Progress, dict[str, Any], dict[str, Any]]:
    """Restore networks, optimizers and this process's RNG. Returns progress, method state, extra."""
    manifest = json.loads((path / "manifest.json").read_text())
    if manifest.get("format") != FORMAT:
        raise TranslateError(f"checkpoint {path}: unknown format {manifest.get('format')!r} (expected {FORMAT})")
    saved = manifest.get("num_processes")
    if isinstance(saved, int) and saved != accelerator.num_processes:
        raise TranslateError(
            f"checkpoint {path}: written by a run of {saved} training process(es), but this run has "
            f"{accelerator.num_processes}; each process resumes its own share of the data and its own random "
            f"state, so resume with {saved} process(es) (the same launcher options and number of machines)"
        )
    for what, have in (("networks", networks), ("optimizers", optimizers)):
        if manifest[what] != list(have):
            raise TranslateError(
                f"checkpoint {path}: holds {what} {manifest[what]} but this recipe builds {list(have)}; "
                "resume with the recipe that started the run"
            )
    weights = load_file(str(path / "networks.safetensors"))
    for name, net in networks.items():
        prefix = f"{name}."
        sub = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        module = accelerator.unwrap_model(net)
        have, want = set(sub), set(module.state_dict())
        if have != want:  # e.g. a run started by an older translate whose network defaults differed
            extra, missing = sorted(have - want), sorted(want - have)
            raise TranslateError(
                f"checkpoint {path}: network {name!r} does not fit the network this recipe builds"
                + (f"; the checkpoint has {_few(extra)} that it lacks" if extra else "")
                + (f"; it lacks {_few(missing)}" if missing else "")
                + ". If the run was started by another translate version, an option's default may have changed: "
                "set the options the run was trained with in the recipe (the component docs list the options that "
                "select an older layout, e.g. bias = \"v0.1\"), or resume with the translate version that started it")
        module.load_state_dict(sub, strict=True)
    opt_states = load_state(path / "optimizers")
    for name, opt in optimizers.items():
        opt.load_state_dict(opt_states[name])
    rng_file = path / f"rng-rank{accelerator.process_index}.json"
    if rng_file.exists():
        set_rng_state(load_state(rng_file.with_suffix("")))
    progress = Progress(**manifest["progress"])
    return progress, load_state(path / "method"), load_state(path / "extra")
