"""Two "machines" on this host (``accelerate launch --num_machines 2``, one gloo process each, a shared
run folder as on a cluster with a shared file system): train, checkpoint, resume on the same two, and
end with the same weights as an uninterrupted two-machine run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from tests.support.ports import free_port
from translate.engine.setup import build_dataset
from translate.plugin.loading import get_registry
from translate.recipe import load_recipe
from translate.run.checkpoint import list_checkpoints

ACCELERATE = Path(sys.executable).parent / "accelerate"


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "HF_HOME": str(home)}  # no user accelerate config file
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "ACCELERATE_USE_CPU"):
        env.pop(var, None)
    return env


def _two_machines(recipe: Path, run: Path, *extra: str) -> None:
    """Start machine 0 and machine 1 (one process each) and wait for both."""
    port = free_port()
    procs = []
    for rank in (0, 1):
        cmd = [str(ACCELERATE), "launch", "--multi_gpu", "--num_machines", "2", "--machine_rank", str(rank),
               "--main_process_ip", "127.0.0.1", "--main_process_port", str(port), "--num_processes", "2",
               "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "translate", "run", str(recipe), "--output-dir", str(run), *extra]
        procs.append(subprocess.Popen(cmd, cwd=run.parent, env=_env(run.parent / "hf"), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for rank, (p, (_, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, f"machine {rank} failed:\n{err[-3000:]}"


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def test_two_machines_resume_to_the_same_weights(tiny_recipe: Path, tmp_path: Path) -> None:
    assert ACCELERATE.exists(), "the accelerate command comes with the accelerate dependency"
    registry = get_registry()
    build_dataset(load_recipe(tiny_recipe, None, registry)[0], registry, "train")  # data generated once, here

    straight = tmp_path / "straight"
    _two_machines(tiny_recipe, straight)
    manifest = json.loads((list_checkpoints(straight)[-1] / "manifest.json").read_text())
    assert manifest["num_processes"] == 2  # both machines trained, as one group of two
    assert {p.name for p in list_checkpoints(straight)[-1].glob("rng-rank*.json")} == {"rng-rank0.json",
                                                                                     "rng-rank1.json"}

    resumed = tmp_path / "resumed"
    _two_machines(tiny_recipe, resumed, "--max-steps", "4")
    assert list_checkpoints(resumed)[-1].name == "step-00000004"  # stopped halfway (of 8 steps)
    _two_machines(tiny_recipe, resumed, "--resume")
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
