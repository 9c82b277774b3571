"""Joining the process group a launcher started (torchrun, ``accelerate launch``, srun through either).

Accelerate joins a process group on a machine without usable CUDA only when told to use the CPU;
:func:`wants_cpu` says so whenever the environment announces several processes. A launcher that was
asked for several processes but started only this one (``accelerate launch --num_processes 2``
without ``--multi_gpu`` and with fewer than 2 GPUs) leaves no trace in the environment, so
:func:`requested_processes` reads the count from the launcher's own command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import TranslateError

# The variables Accelerate reads for the number of processes (torchrun/accelerate, then MPI launchers).
_WORLD_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_world_size(env: dict[str, str] | None = None) -> int:
    """The number of processes the environment says were started (1 when it says nothing)."""
    env = os.environ if env is None else env
    for var in _WORLD_VARS:
        value = env.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def wants_cpu(recipe_cpu: bool, cuda_available: bool, env: dict[str, str] | None = None) -> bool:
    """Whether to create the Accelerator with ``cpu=True``: asked for, or several processes without CUDA.

    With ``cpu=True`` Accelerate's PartialState joins a gloo group (MULTI_CPU) when WORLD_SIZE > 1;
    without it, on a machine without CUDA, every rank would think it is alone.
    """
    return recipe_cpu or (launched_world_size(env) > 1 and not cuda_available)


def _launch_args(cmdline: list[str]) -> list[str] | None:
    """The arguments after ``accelerate launch`` in a command line, or None if it is not one."""
    for i, token in enumerate(cmdline):
        name = Path(token).name
        if name == "accelerate" and cmdline[i + 1:i + 2] == ["launch"]:
            return cmdline[i + 2:]
        if name == "accelerate-launch" or (token == "accelerate.commands.launch" and cmdline[i - 1:i] == ["-m"]):
            return cmdline[i + 1:]
    return None


def _requested_in(args: list[str]) -> int | None:
    """The process count an ``accelerate launch`` argument list asks for (flag, else config file)."""
    from accelerate.commands.config import default_config_file, load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    try:
        parsed, _ = launch_command_parser().parse_known_args(args)
    except (SystemExit, Exception):  # an argument list accelerate itself would refuse
        return None
    if parsed.num_processes is not None:
        return int(parsed.num_processes)
    config = parsed.config_file or (default_config_file if os.path.isfile(default_config_file) else None)
    if config is None:
        return None
    try:
        return int(load_config_from_file(config).num_processes)
    except (SystemExit, Exception):
        return None


def requested_processes(env: dict[str, str] | None = None, parent_cmdline: list[str] | None = None) -> int | None:
    """How many processes ``accelerate launch`` was asked for, when it started this process alone.

    Only for a child of Accelerate's single-process launcher (``ACCELERATE_USE_CPU`` set, no
    WORLD_SIZE/LOCAL_RANK); None otherwise or when the launcher's command line cannot be read.
    """
    env = os.environ if env is None else env
    if "ACCELERATE_USE_CPU" not in env or "LOCAL_RANK" in env or launched_world_size(env) > 1:
        return None
    if parent_cmdline is None:
        try:
            raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
        except OSError:  # not Linux, or the launcher is gone
            return None
        parent_cmdline = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    args = _launch_args(parent_cmdline)
    return None if args is None else _requested_in(args)


def check_not_alone(env: dict[str, str] | None = None, parent_cmdline: list[str] | None = None) -> None:
    """Refuse a process that would train alone although it was started as one of several:
    ``accelerate launch`` asked for N > 1 but started one, or ``srun`` started several bare tasks.

    Raises:
        TranslateError: the launcher asked for several processes and this one would not join them.
    """
    env = os.environ if env is None else env
    tasks = env.get("SLURM_STEP_NUM_TASKS", "")
    if tasks.isdigit() and int(tasks) > 1 and launched_world_size(env) == 1:
        raise TranslateError(
            f"srun started {tasks} tasks but no launcher told them about each other (WORLD_SIZE is not set), "
            "so each would train alone; nothing was run. Run one task per machine that starts the processes: "
            "`srun --ntasks-per-node 1 torchrun --nnodes $SLURM_NNODES --nproc_per_node N "
            "--rdzv_backend c10d --rdzv_endpoint HOST:PORT -m translate run RECIPE`"
        )
    wanted = requested_processes(env, parent_cmdline)
    if wanted is not None and wanted > 1:
        raise TranslateError(
            f"accelerate launch was asked for {wanted} processes but started only this one (without "
            "--multi_gpu, and with fewer than 2 GPUs, it starts a single process); nothing was run. "
            "Add --multi_gpu to the same command (it also runs on a machine without GPUs: the processes "
            f"then join a gloo group on the CPU), e.g. `accelerate launch --multi_gpu --num_processes {wanted} "
            f"-m translate run RECIPE`, or use `torchrun --nproc_per_node {wanted} -m translate run RECIPE`"
        )


def check_joined(accelerator: Any, env: dict[str, str] | None = None) -> None:
    """Refuse to train when the Accelerator did not join all the processes the launcher started.

    Raises:
        TranslateError: ``accelerator.num_processes`` differs from the launcher's WORLD_SIZE.
    """
    world = launched_world_size(env)
    if accelerator.num_processes != world:
        raise TranslateError(
            f"the launcher started {world} processes (WORLD_SIZE={world}) but this one joined a group of "
            f"{accelerator.num_processes} ({accelerator.distributed_type}); every process would train alone "
            "and they would overwrite each other's checkpoints; nothing was run. On GPUs, start one process per GPU "
            "(torchrun --nproc_per_node N, or accelerate launch --multi_gpu --num_processes N); "
            "to train on the CPU with gloo, pass --set train.cpu=true"
        )
