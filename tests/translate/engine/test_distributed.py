"""The multi-process path on CPU: 2 processes (gloo) train, checkpoint and export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from translate.engine.sampler import EpochSampler
from translate.run.checkpoint import list_checkpoints

_LAUNCH = """
import json, sys
from pathlib import Path
from accelerate import PartialState, debug_launcher
from translate.engine.trainer import train

def run():
    result = train(sys.argv[1], max_steps=4)
    state = PartialState()
    Path(sys.argv[2], f"rank{state.process_index}.json").write_text(
        json.dumps({"step": result.step, "world": state.num_processes}))

if __name__ == "__main__":
    debug_launcher(run, num_processes=2)
"""


def test_two_processes_train_and_checkpoint(tiny_recipe: Path, tmp_path: Path) -> None:
    # A fresh interpreter: forking a process whose thread pools are already running can hang.
    script = tmp_path / "launch.py"
    script.write_text(_LAUNCH)
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), str(tiny_recipe), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks == [{"step": 4, "world": 2}] * 2
    run = tiny_recipe.parent / "run"
    ckpt = list_checkpoints(run)[-1]
    assert ckpt.name == "step-00000004"
    assert {p.name for p in ckpt.glob("rng-rank*.json")} == {"rng-rank0.json", "rng-rank1.json"}
    assert json.loads((ckpt / "manifest.json").read_text())["num_processes"] == 2
    model = load_file(str(run / "model.safetensors"))
    assert model and all(not k.startswith("G.module.") for k in model)  # saved unwrapped


def test_sampler_shards_are_disjoint_and_resume_mid_epoch() -> None:
    shards = [list(EpochSampler(10, seed=1, rank=r, world=2, batch_size=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert sorted(i for s in shards for i, _ in s) == list(range(10))
    full = EpochSampler(10, seed=1, rank=1, world=2, batch_size=2)
    full.set_epoch(3)
    tail = EpochSampler(10, seed=1, rank=1, world=2, batch_size=2)
    tail.set_epoch(3, start_batch=1)
    assert list(tail) == list(full)[2:]
    other = EpochSampler(10, seed=1, rank=1, world=2, batch_size=2)
    other.set_epoch(4)
    assert list(other) != list(full)


@pytest.mark.gpu
def test_cuda_bf16_step(tiny_recipe: Path) -> None:
    from translate.engine.trainer import train

    result = train(tiny_recipe, overrides=['train.mixed_precision="bf16"'], max_steps=2)
    assert result.step == 2 and torch.cuda.is_available()
