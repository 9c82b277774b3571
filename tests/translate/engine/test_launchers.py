"""Real launchers on CPU: torchrun and ``accelerate launch`` start 2 gloo processes, or are refused clearly;
CycleGAN's image pools resume per process in a 2-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from tests.support.ports import free_port
from tests.support.tiny_recipes import CYCLEGAN, write_recipe
from translate.engine.distributed import check_joined, check_not_alone, requested_processes, wants_cpu
from translate.engine.setup import build_dataset
from translate.errors import TranslateError
from translate.plugin.loading import get_registry
from translate.recipe import load_recipe
from translate.run.checkpoint import list_checkpoints
from translate.run.state import load_state

BIN = Path(sys.executable).parent


def _generate_data(recipe_path: Path) -> Path:
    """Generate the recipe's data set here, so that two ranks do not both generate it."""
    registry = get_registry()
    build_dataset(load_recipe(recipe_path, None, registry)[0], registry, "train")
    return recipe_path


@pytest.fixture
def launch_recipe(tiny_recipe: Path) -> Path:
    """The tiny pix2pix recipe, its data already generated."""
    return _generate_data(tiny_recipe)


def _launch(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "HF_HOME": str(cwd / "hf")}  # no user accelerate config file
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "ACCELERATE_USE_CPU"):
        env.pop(var, None)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def _assert_two_process_run(done: subprocess.CompletedProcess[str], run: Path) -> None:
    assert done.returncode == 0, done.stderr[-3000:]
    ckpt = list_checkpoints(run)[-1]
    assert ckpt.name == "step-00000002"
    assert json.loads((ckpt / "manifest.json").read_text())["num_processes"] == 2
    assert {p.name for p in ckpt.glob("rng-rank*.json")} == {"rng-rank0.json", "rng-rank1.json"}


def test_torchrun_two_cpu_processes_join_one_group(launch_recipe: Path) -> None:
    done = _launch([str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "translate", "run",
                    str(launch_recipe), "--max-steps", "2"], launch_recipe.parent)
    _assert_two_process_run(done, launch_recipe.parent / "run")


def test_accelerate_launch_multi_gpu_form_runs_two_cpu_processes(launch_recipe: Path) -> None:
    # The README's command: on a machine without GPUs the two processes join a gloo group.
    done = _launch([str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
                    "--main_process_port", str(free_port()), "-m", "translate", "run",
                    str(launch_recipe), "--max-steps", "2"], launch_recipe.parent)
    _assert_two_process_run(done, launch_recipe.parent / "run")


def test_accelerate_launch_that_starts_one_of_two_is_refused(launch_recipe: Path) -> None:
    done = _launch([str(BIN / "accelerate"), "launch", "--num_processes", "2", "-m", "translate", "run",
                    str(launch_recipe), "--max-steps", "2"], launch_recipe.parent)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert "asked for 2 processes but started only this one" in errors[0]
    assert "torchrun --nproc_per_node 2 -m translate run" in errors[0]
    assert "accelerate launch --multi_gpu --num_processes 2" in errors[0]
    assert not (launch_recipe.parent / "run").exists()  # refused before anything was written


CHILD = {"ACCELERATE_USE_CPU": "False", "ACCELERATE_MIXED_PRECISION": "no"}


@pytest.mark.parametrize(("cmdline", "wanted"), [
    (["/venv/bin/python", "/venv/bin/accelerate", "launch", "--num_processes", "3", "-m", "translate", "run",
      "r.toml"], 3),
    (["python", "-m", "accelerate.commands.launch", "--num-processes=2", "--cpu", "train.py"], 2),
    # a --num_processes after the script belongs to the script, not to the launcher
    (["/venv/bin/accelerate", "launch", "-m", "translate", "run", "--num_processes", "4"], None),
    (["bash", "-c", "python -m translate run r.toml"], None),
])
def test_requested_processes_reads_the_launchers_command_line(cmdline: list[str], wanted: int | None,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr("accelerate.commands.config.default_config_file", str(tmp_path / "none.yaml"))
    assert requested_processes(CHILD, cmdline) == wanted


def test_only_a_lone_child_of_the_single_process_launcher_is_checked() -> None:
    two = ["accelerate", "launch", "--num_processes", "2", "x.py"]
    assert requested_processes({}, two) is None  # not started by accelerate's simple launcher
    assert requested_processes({**CHILD, "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, two) is None  # torchrun child
    check_not_alone({}, two)
    with pytest.raises(TranslateError, match="asked for 2 processes"):
        check_not_alone(CHILD, two)


def test_check_joined_refuses_ranks_that_think_they_are_alone() -> None:
    alone = SimpleNamespace(num_processes=1, distributed_type="NO")
    check_joined(alone, {})
    check_joined(SimpleNamespace(num_processes=2, distributed_type="MULTI_CPU"), {"WORLD_SIZE": "2"})
    with pytest.raises(TranslateError, match=r"started 2 processes \(WORLD_SIZE=2\) but this one joined a group of 1"):
        check_joined(alone, {"WORLD_SIZE": "2"})


def test_cpu_switch_when_several_processes_have_no_cuda() -> None:
    assert wants_cpu(False, cuda_available=False, env={"WORLD_SIZE": "2"})
    assert not wants_cpu(False, cuda_available=True, env={"WORLD_SIZE": "2"})
    assert not wants_cpu(False, cuda_available=False, env={})
    assert wants_cpu(True, cuda_available=True, env={})


_POOL_RUNS = """
import os, sys
import torch.multiprocessing as mp
from translate.engine.trainer import train

def rank(index, port, args):
    os.environ.update(RANK=str(index), LOCAL_RANK=str(index), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    recipe, out, steps, resume = args
    train(recipe, output_dir=out, max_steps=steps, resume=resume)

if __name__ == "__main__":
    recipe, base, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    for port, args in zip(ports, [(recipe, base + "/full", 4, False), (recipe, base + "/part", 3, False),
                                  (recipe, base + "/part", 4, True)]):
        mp.start_processes(rank, args=(port, args), nprocs=2, start_method="fork")
"""


def test_cyclegan_pools_resume_per_process(tmp_path: Path) -> None:
    # Two gloo processes started by hand (WORLD_SIZE and RANK only, as any launcher sets them):
    # 4 steps straight vs 3 steps + resume must agree, each rank with its own pools.
    recipe = _generate_data(write_recipe(CYCLEGAN, tmp_path / "cg.toml", data=tmp_path / "unpaired",
                                         run=tmp_path / "unused"))
    script = tmp_path / "pools.py"
    script.write_text(_POOL_RUNS)
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(script), str(recipe), str(tmp_path),
                           *(str(free_port()) for _ in range(3))],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    full, part = (list_checkpoints(tmp_path / name)[-1] for name in ("full", "part"))
    assert full.name == part.name == "step-00000004"
    states = [load_state(ckpt / "method") for ckpt in (full, part)]
    ranks = states[0]["ranks"]
    assert len(ranks) == 2 and not torch.equal(ranks[0]["pool_A"]["images"], ranks[1]["pool_A"]["images"])
    for a, b in zip(ranks, states[1]["ranks"]):
        for pool in ("pool_A", "pool_B"):
            assert torch.equal(a[pool]["images"], b[pool]["images"])
            assert torch.equal(a[pool]["generator"], b[pool]["generator"])
    weights = [load_file(str(ckpt / "networks.safetensors")) for ckpt in (full, part)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_bare_srun_tasks_are_refused() -> None:
    slurm = {"SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1"}
    with pytest.raises(TranslateError, match="srun started 2 tasks but no launcher"):
        check_not_alone(slurm, [])
    check_not_alone({**slurm, "WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}, [])  # srun torchrun's child
    check_not_alone({"SLURM_STEP_NUM_TASKS": "1"}, [])
