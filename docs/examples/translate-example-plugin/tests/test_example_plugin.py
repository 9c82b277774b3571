"""Tests of translate-example-plugin, written with translate.testing.

Run them with ``pytest`` from this folder (after ``pip install -e .``), or from the
translate checkout: ``pytest docs/examples/translate-example-plugin/tests``.
"""

from __future__ import annotations

from importlib import metadata

import pytest

import translate_example_plugin
from translate.testing import Registry, check_generator, check_options_strict, load_registry_with, option_errors


@pytest.fixture(scope="module")
def registry() -> Registry:
    """A registry holding this plugin alone (no other installed plugin is loaded)."""
    return load_registry_with(translate_example_plugin)


def test_registers_tiny_resnet(registry: Registry) -> None:
    assert registry.names("generator") == ["tiny_resnet"]
    comp = registry.get("generator", "tiny_resnet")
    assert comp.options is translate_example_plugin.TinyResNetOptions
    assert comp.description


def test_options_are_strict(registry: Registry) -> None:
    check_options_strict(registry.get("generator", "tiny_resnet"))


def test_option_errors_name_the_key(registry: Registry) -> None:
    lines = option_errors(registry.get("generator", "tiny_resnet"), {"ngf": 64, "width": 2}, "generator.options")
    assert "generator.options.ngf: unknown key" in lines
    assert any(line.startswith("generator.options.width:") for line in lines)
    assert option_errors(registry.get("generator", "tiny_resnet"), {"width": 8}) == []


def test_smoke(registry: Registry) -> None:
    net = check_generator(registry, "tiny_resnet")
    assert net.size_multiple == 2


@pytest.mark.parametrize(
    "options",
    [
        {"width": 4, "blocks": 0, "downsampling": 0, "norm": "none"},
        {"width": 8, "blocks": 2, "downsampling": 2, "norm": "batch", "dropout": 0.5},
        {"width": 4, "blocks": 1, "downsampling": 3},
    ],
)
def test_option_combinations(registry: Registry, options: dict) -> None:
    net = check_generator(registry, "tiny_resnet", options=options, in_channels=1, out_channels=3)
    assert net.size_multiple == 2 ** options["downsampling"]


def test_non_square_input(registry: Registry) -> None:
    check_generator(registry, "tiny_resnet", size=(32, 48), batch_size=1)


def test_installed_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed with pip, the plugin is found through its entry point like any other."""
    monkeypatch.delenv("TRANSLATE_LOAD_PLUGINS", raising=False)  # every installed plugin, whatever the shell says
    comp = load_registry_with(installed=True).get("generator", "tiny_resnet")
    assert comp.plugin.name == "example"
    assert comp.plugin.distribution == "translate-example-plugin"
    assert comp.plugin.version == metadata.version("translate-example-plugin")


def test_importing_the_plugin_does_not_import_torch() -> None:
    """translate loads every plugin at start-up; torch must wait until a network is built."""
    import subprocess
    import sys

    code = "import sys, translate_example_plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
