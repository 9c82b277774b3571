"""The training environment record (translate/engine/environment.py): RUN/environment.json."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path

import pytest
import torch

import translate
import translate.plugin.loading
from tests.support.tiny_plugin import TinyPlugin
from translate.engine.environment import LIBRARIES, cpu_summary, environment, write_environment
from translate.plugin.loading import load_plugins


class MisspeltHook:
    @translate.hookimpl
    def register_generator(self, register) -> None:  # noqa: ANN001 - missing "s" on purpose
        pass


def test_environment_describes_this_process() -> None:
    env = environment(num_processes=1)
    json.dumps(env)  # JSON-friendly throughout
    assert env["translate"] == translate.__version__
    assert env["python"]["version"] == platform.python_version()
    assert env["platform"]["system"] == platform.system() and env["platform"]["machine"] == platform.machine()
    assert env["cpu"]["logical_cores"] == os.cpu_count() and env["cpu"]["usable_cores"] >= 1
    if Path("/proc/cpuinfo").is_file():  # the features that decide the speed plan, as /proc/cpuinfo lists them
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
        assert env["cpu"]["features"]["avx2"] == (" avx2" in flags)
        assert env["cpu"]["features"]["avx512_bf16"] == (" avx512_bf16" in flags)
        assert set(env["cpu"]["features"]) == {"avx2", "avx512", "avx512_bf16", "amx"}
        assert "cores usable" in cpu_summary()
    assert "speed_plan" not in env
    assert environment(speed_plan="fast: bf16 autocast")["speed_plan"] == "fast: bf16 autocast"
    assert set(env["libraries"]) == set(LIBRARIES)
    for name in ("torch", "accelerate", "torchvision", "timm", "kornia"):
        assert env["libraries"][name] == metadata.version(name)
    acc = env["accelerator"]
    assert acc["cuda_build"] == torch.version.cuda and acc["available"] == torch.cuda.is_available()
    assert len(acc["devices"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert env["num_processes"] == 1
    builtin = {p["name"]: p for p in env["plugins"] if p.get("builtin")}
    assert {"pix2pix", "cyclegan", "datasets", "losses"} <= set(builtin)
    assert builtin["pix2pix"]["distribution"] == "translate-i2i"
    assert builtin["pix2pix"]["version"] == metadata.version("translate-i2i")


@pytest.mark.gpu
def test_environment_names_the_gpus() -> None:
    acc = environment()["accelerator"]
    assert acc["available"] and acc["cudnn"] == torch.backends.cudnn.version()
    assert [d["name"] for d in acc["devices"]] == [torch.cuda.get_device_name(i)
                                                 for i in range(torch.cuda.device_count())]
    assert all(d["memory_gib"] > 0 for d in acc["devices"])


def test_plugins_of_a_given_registry() -> None:
    plugins = load_plugins(entry_points=[], extra=[("tiny", TinyPlugin())])
    env = environment(registry=plugins.registry)
    assert env["plugins"] == [{"name": "tiny", "distribution": "(in-process)", "version": "0", "builtin": False}]


def test_plugins_that_failed_to_load_are_listed(install_plugins, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = load_plugins(strict=False, entry_points=[], extra=[("tiny", TinyPlugin()), ("broken", MisspeltHook())])
    capsys.readouterr()
    install_plugins(plugins)
    listed = environment()["plugins"]
    assert [p["name"] for p in listed] == ["tiny", "broken"]
    assert "register_generator" in listed[1]["error"]


def test_number_of_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert environment(num_processes=2)["num_processes"] == 2
    from accelerate.state import is_initialized

    if not is_initialized():
        assert environment()["num_processes"] == 3
    monkeypatch.delenv("WORLD_SIZE")
    assert environment()["num_processes"] in (None, 1)
    from accelerate import Accelerator

    Accelerator(cpu=True)  # Accelerate's state, once set up, says how many processes train
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert environment()["num_processes"] == 1


def test_write_environment_atomically(tmp_path: Path) -> None:
    run = tmp_path / "run"
    path = write_environment(run, num_processes=1)
    assert path == run / "environment.json"
    first = json.loads(path.read_text(encoding="utf-8"))
    assert first["format"] == 1 and first["num_processes"] == 1
    assert first == json.loads(json.dumps(environment(num_processes=1)))
    path.write_text("{half", encoding="utf-8")
    write_environment(run, num_processes=2)  # replaces the old record
    assert json.loads(path.read_text(encoding="utf-8"))["num_processes"] == 2
    assert [p.name for p in run.iterdir()] == ["environment.json"]  # no temp file left
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # the usual file mode, not mkstemp's
