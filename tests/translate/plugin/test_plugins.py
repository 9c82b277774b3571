"""Plugin discovery, selection, error reporting and listing (``translate plugins``).

Third-party plugins are faked without installing anything: :func:`fake_dist` writes a
module and a ``*.dist-info`` folder (METADATA + entry_points.txt) into a temporary
directory on ``sys.path``, which ``importlib.metadata`` discovers exactly like a
pip-installed distribution. The real example plugin
(``docs/examples/translate-example-plugin``) must be pip-installed; CI does that.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Callable

import pytest
from pydantic import BaseModel

import translate
from translate.commands.main import main
from translate.components.build import BuildContext
from translate.errors import PluginError, RecipeError
from translate.plugin import loading as plugins_mod
from translate.plugin.loading import DISTRIBUTION, ENTRY_POINT_GROUP, load_plugins
from translate.plugin.registry import UnknownComponent
from translate.recipe import validate
from translate.testing import (
    check_discriminator,
    check_generator,
    check_options_strict,
    load_plugins_with,
    load_registry_with,
)

BUILTIN_PLUGINS = {"pix2pix", "losses", "datasets", "cyclegan", "metrics", "segmentation", "perceptual", "srgan", "cut",
                   "commands"}
EXAMPLE_DIST = "translate-example-plugin"
EXAMPLE_GENERATOR = "tiny_resnet"
ENV_VARS = ("TRANSLATE_LOAD_PLUGINS", "TRANSLATE_STRICT_PLUGINS", "TRANSLATE_TRACE_PLUGINS")
REPO = Path(__file__).resolve().parents[3]

BROKEN_MODULE = 'raise RuntimeError("boom: this plugin is broken")\n'


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def clean_plugin_state(monkeypatch: pytest.MonkeyPatch):
    """No plugin env vars, no cached plugins; whatever a test (or ``main``) sets is undone."""
    for var in ENV_VARS:
        monkeypatch.setenv(var, "")  # records the original value, so teardown restores it
        monkeypatch.delenv(var)
    plugins_mod.reset()
    yield
    plugins_mod.reset()


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Factory: ``fake_dist(dist, module, source, entry="name")`` -> folder now on sys.path.

    The folder holds ``<module>.py`` and a dist-info declaring the entry point
    ``<entry> = <module>`` in the group ``translate``.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def make(dist: str, module: str, source: str, entry: str | None = None, version: str = "0.3.1") -> Path:
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry or module} = {module}\n")
        modules.append(module)
        importlib.invalidate_caches()
        return site

    yield make
    for module in modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


@pytest.fixture
def example_installed() -> None:
    """The example plugin must be pip-installed (CI does); elsewhere the test is skipped."""
    try:
        metadata.distribution(EXAMPLE_DIST)
    except metadata.PackageNotFoundError:
        hint = f"{EXAMPLE_DIST} is not installed: pip install ./docs/examples/translate-example-plugin"
        if os.environ.get("CI"):
            pytest.fail(hint)
        pytest.skip(hint)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``translate ARGV`` in-process on freshly loaded plugins."""
    plugins_mod.reset()
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    plugins_mod.reset()
    return code, out, err


def run_subprocess(*argv: str, pythonpath: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m translate ARGV`` in a fresh interpreter."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRANSLATE_")}
    if pythonpath is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), environ.get("PYTHONPATH")]))
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "translate", *argv],
        capture_output=True, text=True, env=environ, cwd=REPO, timeout=300,
    )


def entry(listing: list[dict], name: str) -> dict:
    found = [e for e in listing if e["name"] == name]
    assert len(found) == 1, f"plugin {name!r} listed {len(found)} times in {listing}"
    return found[0]


# ------------------------------------------------------------------- test-local plugins


def noop_factory(options, **kwargs):  # noqa: ANN001, ANN201 - a dummy factory
    return None


class GeneratorPlugin:
    """Registers one dummy generator under ``name``."""

    def __init__(self, name: str = "dup_gen") -> None:
        self.generator_name = name

    @translate.hookimpl
    def register_generators(self, register) -> None:  # noqa: ANN001
        register(self.generator_name, noop_factory, description="dummy")


class MisspeltHook:
    @translate.hookimpl
    def register_generator(self, register) -> None:  # noqa: ANN001 - missing "s" on purpose
        register("never_registered", noop_factory)


class WrongHookArgument:
    @translate.hookimpl
    def register_generators(self, registry) -> None:  # noqa: ANN001 - "registry" is not a hook argument
        pass


class LooseOptions(BaseModel):
    """A pydantic model that silently accepts unknown keys (the default)."""

    width: int = 8


class LooseOptionsPlugin:
    @translate.hookimpl
    def register_generators(self, register) -> None:  # noqa: ANN001
        register("loose_gen", noop_factory, options=LooseOptions)


class RecipeHelpers:
    """A dummy method and data set, so that a recipe validates whatever the built-ins hold."""

    @translate.hookimpl
    def register_methods(self, register) -> None:  # noqa: ANN001
        register("dummy_method", noop_factory, description="test-only method")

    @translate.hookimpl
    def register_datasets(self, register) -> None:  # noqa: ANN001
        register("dummy_data", noop_factory, description="test-only data set")


class TinyNets:
    """Test-local networks for the translate.testing checks."""

    @translate.hookimpl
    def register_generators(self, register) -> None:  # noqa: ANN001
        register("conv_gen", _conv_generator, options=ChannelsOptions, smoke_options={"width": 4})
        register("shrinking_gen", _shrinking_generator, options=ChannelsOptions)
        register("nan_gen", _nan_generator, options=ChannelsOptions)

    @translate.hookimpl
    def register_discriminators(self, register) -> None:  # noqa: ANN001
        register("conv_d", _conv_discriminator, options=ChannelsOptions, smoke_options={"width": 4})


class ChannelsOptions(translate.Options):
    width: int = 8


def _conv_generator(options: ChannelsOptions, *, in_channels: int, out_channels: int):  # noqa: ANN202
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(in_channels, options.width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(options.width, out_channels, 3, padding=1), nn.Tanh(),
    )


def _shrinking_generator(options: ChannelsOptions, *, in_channels: int, out_channels: int):  # noqa: ANN202
    from torch import nn

    return nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1)  # halves H and W: wrong


def _nan_generator(options: ChannelsOptions, *, in_channels: int, out_channels: int):  # noqa: ANN202
    from torch import nn

    class NaNs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, 1)

        def forward(self, x):  # noqa: ANN001, ANN202
            return self.conv(x) * float("nan")

    return NaNs()


def _conv_discriminator(options: ChannelsOptions, *, in_channels: int):  # noqa: ANN202
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(in_channels, options.width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(options.width, 1, 4, padding=1),
    )


# --------------------------------------------------------------------- built-in plugins


def test_entry_point_group_is_translate() -> None:
    assert ENTRY_POINT_GROUP == "translate"
    assert DISTRIBUTION == "translate-i2i"


def test_builtins_are_entry_points_of_translate_i2i() -> None:
    declared = {ep.name for ep in metadata.distribution(DISTRIBUTION).entry_points if ep.group == "translate"}
    assert BUILTIN_PLUGINS <= declared


def test_builtins_discovered_and_load_cleanly() -> None:
    plugins = load_plugins()
    for name in BUILTIN_PLUGINS:
        info = plugins.infos[name]
        assert info.distribution == DISTRIBUTION
        assert info.version == metadata.version(DISTRIBUTION)
        assert info.builtin
    assert [e for e in plugins.errors if e.distribution == DISTRIBUTION] == []


def test_builtins_listed_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plugins", "--json")
    assert code == 0
    listing = json.loads(out)
    for name in BUILTIN_PLUGINS:
        item = entry(listing, name)
        assert item["distribution"] == DISTRIBUTION
        assert item["version"] == metadata.version(DISTRIBUTION)
        assert item["builtin"] is True
        assert item["errors"] == []
        assert set(item["components"]) <= set(translate.plugin.hookspecs.KINDS)


# ---------------------------------------------------------------- the example plugin


@pytest.mark.usefixtures("example_installed")
class TestExamplePlugin:
    def test_discovered(self) -> None:
        plugins = load_plugins()
        comp = plugins.registry.get("generator", EXAMPLE_GENERATOR)
        assert comp.plugin.distribution == EXAMPLE_DIST
        assert comp.plugin.version == metadata.version(EXAMPLE_DIST)
        assert not comp.plugin.builtin
        assert plugins.errors == []

    def test_listed_as_text(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, err = run_cli(capsys, "plugins")
        assert code == 0 and err == ""
        version = metadata.version(EXAMPLE_DIST)
        assert f"example: {EXAMPLE_DIST} {version}\n  generator: {EXAMPLE_GENERATOR}\n" in out
        assert "pix2pix: translate-i2i" in out

    def test_listed_as_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run_cli(capsys, "plugins", "--json")
        assert code == 0
        item = entry(json.loads(out), "example")
        assert item == {
            "name": "example",
            "distribution": EXAMPLE_DIST,
            "version": metadata.version(EXAMPLE_DIST),
            "builtin": False,
            "components": {"generator": [EXAMPLE_GENERATOR]},
            "errors": [],
        }

    def test_listed_by_the_installed_command(self) -> None:
        proc = run_subprocess("plugins", "--json")
        assert proc.returncode == 0, proc.stderr
        names = {e["name"] for e in json.loads(proc.stdout)}
        assert {"example"} | BUILTIN_PLUGINS <= names

    def test_passes_the_component_checks(self) -> None:
        registry = load_plugins(strict=True).registry
        comp = registry.get("generator", EXAMPLE_GENERATOR)
        check_options_strict(comp)
        check_generator(comp)

    def test_usable_from_a_recipe(self) -> None:
        registry = load_plugins_with(RecipeHelpers(), installed=True).registry
        recipe = validate(_recipe({"width": 8, "blocks": 1}), registry)
        assert recipe.generator.options == {
            "width": 8, "blocks": 1, "downsampling": 2, "norm": "instance", "dropout": 0.0,
        }
        ctx = BuildContext(recipe=recipe, registry=registry, channels={"A": 3, "B": 3})
        net = ctx.generator(in_channels=3, out_channels=3)
        assert net.size_multiple == 4
        record = ctx.record_of(net)
        assert (record.name, record.distribution) == (EXAMPLE_GENERATOR, EXAMPLE_DIST)

    def test_recipe_options_validated_by_the_plugin_model(self) -> None:
        registry = load_plugins_with(RecipeHelpers(), installed=True).registry
        with pytest.raises(RecipeError) as info:
            validate(_recipe({"ngf": 64, "norm": "layer"}), registry, "r.toml")
        assert "generator.options.ngf: unknown key" in info.value.problems
        assert any(p.startswith("generator.options.norm:") for p in info.value.problems)

    def test_translate_check_with_a_recipe_file(
        self, capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path], tmp_path: Path
    ) -> None:
        """End to end: the recipe names the example generator; a fake dist supplies method and data."""
        fake_dist("translate-recipe-helpers", "translate_recipe_helpers", _RECIPE_HELPERS_SOURCE)
        path = tmp_path / "tiny.toml"
        path.write_text(_RECIPE_TOML.format(options="width = 8"))
        code, out, err = run_cli(capsys, "check", str(path))
        assert code == 0, err
        assert "ok" in out

        path.write_text(_RECIPE_TOML.format(options="widht = 8"))
        code, out, err = run_cli(capsys, "check", str(path))
        assert code == 2
        assert "generator.options.widht: unknown key" in err
        assert "Traceback" not in err

    def test_real_pix2pix_recipe(self) -> None:
        registry = load_plugins(strict=True).registry
        assert "pix2pix" in registry.names("method"), "the built-in pix2pix method is not registered"
        data_names = registry.names("dataset")
        assert data_names, "no built-in data set is registered"
        data = {"name": data_names[0], "options": {}}
        recipe_dict = _recipe({"width": 8}, method="pix2pix", data=data)
        try:
            validate(recipe_dict, registry)
            problems: list[str] = []
        except RecipeError as err:
            problems = err.problems
        # The data set may require options (a folder); the generator part must validate.
        assert [p for p in problems if not p.startswith("data.")] == []


_RECIPE_HELPERS_SOURCE = """
    import translate

    def _factory(options, *args, **kwargs):
        return None

    @translate.hookimpl
    def register_methods(register):
        register("dummy_method", _factory)

    @translate.hookimpl
    def register_datasets(register):
        register("dummy_data", _factory)
"""

_RECIPE_TOML = """
[method]
name = "dummy_method"

[generator]
name = "tiny_resnet"
options = {{ {options} }}

[data]
name = "dummy_data"

[train]
epochs = 1
"""


def _recipe(gen_options: dict, method: str = "dummy_method", data: dict | None = None) -> dict:
    return {
        "method": {"name": method},
        "generator": {"name": EXAMPLE_GENERATOR, "options": gen_options},
        "data": data or {"name": "dummy_data"},
        "train": {"epochs": 1},
    }


# --------------------------------------------------------------- TRANSLATE_LOAD_PLUGINS


def test_empty_selection_loads_only_builtins(
    monkeypatch: pytest.MonkeyPatch, fake_dist: Callable[..., Path]
) -> None:
    fake_dist("translate-other", "translate_other", _generator_source("other_gen"))
    monkeypatch.setenv("TRANSLATE_LOAD_PLUGINS", "")
    plugins = load_plugins()
    assert set(plugins.infos) == BUILTIN_PLUGINS
    assert all(info.builtin for info in plugins.infos.values())
    with pytest.raises(UnknownComponent):
        plugins.registry.get("generator", "other_gen")


def test_unset_selection_loads_every_plugin(fake_dist: Callable[..., Path]) -> None:
    fake_dist("translate-other", "translate_other", _generator_source("other_gen"))
    plugins = load_plugins()
    assert plugins.registry.get("generator", "other_gen").plugin.distribution == "translate-other"
    assert BUILTIN_PLUGINS <= set(plugins.infos)


@pytest.mark.usefixtures("example_installed")
@pytest.mark.parametrize("value", [EXAMPLE_DIST, "Translate_Example_Plugin", f" {EXAMPLE_DIST} , translate-nope"])
def test_selection_by_distribution_name(
    monkeypatch: pytest.MonkeyPatch, fake_dist: Callable[..., Path], value: str
) -> None:
    fake_dist("translate-other", "translate_other", _generator_source("other_gen"))
    monkeypatch.setenv("TRANSLATE_LOAD_PLUGINS", value)
    plugins = load_plugins()
    assert set(plugins.infos) == BUILTIN_PLUGINS | {"example"}
    assert plugins.registry.get("generator", EXAMPLE_GENERATOR).plugin.distribution == EXAMPLE_DIST


def _generator_source(name: str) -> str:
    return f"""
        import translate

        def _factory(options, *, in_channels, out_channels):
            return None

        @translate.hookimpl
        def register_generators(register):
            register({name!r}, _factory, description="from a fake distribution")
    """


# ------------------------------------------------------------------- broken plugins


def test_import_error_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path]
) -> None:
    fake_dist("translate-broken", "translate_broken", BROKEN_MODULE, entry="broken")
    code, out, err = run_cli(capsys, "plugins")
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    for part in ("'broken'", "translate-broken", "RuntimeError: boom: this plugin is broken",
                 "TRANSLATE_LOAD_PLUGINS", "pip uninstall translate-broken"):
        assert part in line, f"{part!r} missing from: {line}"
    assert "Traceback" not in err
    assert "broken: translate-broken 0.3.1" in out
    assert "load error: RuntimeError: boom: this plugin is broken" in out
    assert "pix2pix: translate-i2i" in out  # the rest keeps working


def test_import_error_in_json_listing(capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path]) -> None:
    fake_dist("translate-broken", "translate_broken", BROKEN_MODULE, entry="broken")
    code, out, _ = run_cli(capsys, "plugins", "--json")
    assert code == 0
    item = entry(json.loads(out), "broken")
    assert item["distribution"] == "translate-broken"
    assert item["version"] == "0.3.1"
    assert item["components"] == {}
    assert item["errors"] == ["RuntimeError: boom: this plugin is broken"]


def test_other_plugins_still_usable_after_a_failure(fake_dist: Callable[..., Path]) -> None:
    fake_dist("translate-broken", "translate_broken", BROKEN_MODULE, entry="broken")
    fake_dist("translate-other", "translate_other", _generator_source("other_gen"))
    plugins = load_plugins()
    assert [e.plugin for e in plugins.errors] == ["broken"]
    assert plugins.registry.get("generator", "other_gen")
    assert BUILTIN_PLUGINS <= set(plugins.infos)


def test_skip_hint_works(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path]
) -> None:
    """Following the hint (select plugins without the broken one) silences the error."""
    fake_dist("translate-broken", "translate_broken", BROKEN_MODULE, entry="broken")
    fake_dist("translate-other", "translate_other", _generator_source("other_gen"))
    monkeypatch.setenv("TRANSLATE_LOAD_PLUGINS", "translate-other")
    code, out, err = run_cli(capsys, "plugins")
    assert code == 0 and err == ""
    assert "other_gen" in out and "broken" not in out


def test_multiline_error_reported_on_one_line(
    capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path]
) -> None:
    fake_dist("translate-broken", "translate_broken", 'raise ImportError("first line\\n  second line")\n')
    code, _, err = run_cli(capsys, "plugins")
    assert code == 0
    assert err.count("\n") == 1 and "ImportError: first line second line" in err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_strict_mode_is_fatal_without_traceback(
    how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path]
) -> None:
    fake_dist("translate-broken", "translate_broken", BROKEN_MODULE, entry="broken")
    if how == "env":
        monkeypatch.setenv("TRANSLATE_STRICT_PLUGINS", "1")
        argv = ["plugins"]
    else:
        argv = ["--strict-plugins", "plugins"]
    code, out, err = run_cli(capsys, *argv)
    assert code != 0
    assert out == ""
    assert err.startswith("error: ")
    assert "'broken'" in err and "translate-broken" in err and "strict plugin loading is on" in err
    assert "Traceback" not in err


def test_broken_plugin_in_a_subprocess(fake_dist: Callable[..., Path]) -> None:
    site = fake_dist("translate-broken", "translate_broken", BROKEN_MODULE, entry="broken")
    proc = run_subprocess("plugins", "--json", pythonpath=site)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "translate-broken" in proc.stderr
    assert entry(json.loads(proc.stdout), "broken")["errors"]

    proc = run_subprocess("--strict-plugins", "plugins", pythonpath=site)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr

    proc = run_subprocess("plugins", pythonpath=site, TRANSLATE_LOAD_PLUGINS="")
    assert proc.returncode == 0 and proc.stderr == ""


def test_error_inside_a_hook_is_reported() -> None:
    class Raises:
        @translate.hookimpl
        def register_losses(self, register) -> None:  # noqa: ANN001
            raise ValueError("bad loss table")

    plugins = load_plugins(extra=[("raises", Raises())], entry_points=[])
    assert [(e.plugin, e.error) for e in plugins.errors] == [
        ("raises", "register_losses: ValueError: bad loss table")
    ]


# ------------------------------------------------------------- registration mistakes


def test_duplicate_names_name_both_plugins() -> None:
    plugins = load_plugins(extra=[("first", GeneratorPlugin()), ("second", GeneratorPlugin())], entry_points=[])
    assert len(plugins.errors) == 1
    message = plugins.errors[0].error
    assert "duplicate generator 'dup_gen'" in message
    assert "'first'" in message and "'second'" in message
    assert plugins.registry.get("generator", "dup_gen").plugin.name == "first"

    with pytest.raises(PluginError, match=r"registered by plugin 'first' .* and by plugin 'second'"):
        load_plugins(strict=True, extra=[("first", GeneratorPlugin()), ("second", GeneratorPlugin())],
                     entry_points=[])


@pytest.mark.usefixtures("example_installed")
def test_duplicate_across_distributions(capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path]) -> None:
    fake_dist("translate-copycat", "translate_copycat", _generator_source(EXAMPLE_GENERATOR), entry="copycat")
    code, _, err = run_cli(capsys, "plugins")
    assert code == 0
    assert f"duplicate generator {EXAMPLE_GENERATOR!r}" in err
    assert EXAMPLE_DIST in err and "translate-copycat" in err


def test_duplicate_plugin_name() -> None:
    plugins = load_plugins(extra=[("same", GeneratorPlugin("a")), ("same", GeneratorPlugin("b"))], entry_points=[])
    assert len(plugins.errors) == 1 and "already loaded" in plugins.errors[0].error


def test_misspelt_hook_is_reported() -> None:
    plugins = load_plugins(extra=[("typo", MisspeltHook())], entry_points=[])
    assert len(plugins.errors) == 1
    error = plugins.errors[0]
    assert error.plugin == "typo"
    assert "unknown hook 'register_generator'" in error.error
    assert "did you mean 'register_generators'?" in error.error
    assert "typo" not in plugins.infos
    with pytest.raises(PluginError, match="did you mean 'register_generators'"):
        load_plugins(strict=True, extra=[("typo", MisspeltHook())], entry_points=[])


def test_hook_with_wrong_argument_is_reported() -> None:
    plugins = load_plugins(extra=[("wrongarg", WrongHookArgument())], entry_points=[])
    assert [e.plugin for e in plugins.errors] == ["wrongarg"]
    assert "registry" in plugins.errors[0].error


def test_options_model_must_forbid_unknown_keys() -> None:
    plugins = load_plugins(extra=[("loose", LooseOptionsPlugin())], entry_points=[])
    assert len(plugins.errors) == 1
    assert "accepts unknown keys" in plugins.errors[0].error
    assert "translate.Options" in plugins.errors[0].error
    assert "loose_gen" not in plugins.registry.names("generator")


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("bad name!", noop_factory), {}, "invalid name"),
        (("ok_name", "not callable"), {}, "not callable"),
        (("ok_name", noop_factory), {"options": dict}, "not a pydantic model"),
        (("ok_name", noop_factory), {"unknown_keyword": 1}, "unknown_keyword"),
        (("ok_name", noop_factory), {"folder_option": "root"}, "only a data set names the option that holds"),
        (("ok_name", noop_factory), {"values": ("x",)}, "only a metric declares values"),
        (("ok_name", noop_factory), {"arguments": print}, "only a command takes one"),
    ],
)
def test_invalid_registrations(args: tuple, kwargs: dict, expected: str) -> None:
    class Plugin:
        @translate.hookimpl
        def register_generators(self, register) -> None:  # noqa: ANN001
            register(*args, **kwargs)

    with pytest.raises(PluginError, match=expected):
        load_plugins(strict=True, extra=[("p", Plugin())], entry_points=[])


def test_unknown_component_suggests_close_matches() -> None:
    registry = load_registry_with(GeneratorPlugin("tiny_unet"), GeneratorPlugin("resnet_9blocks"))
    with pytest.raises(UnknownComponent) as info:
        registry.get("generator", "tiny_unt")
    message = str(info.value)
    assert "unknown generator 'tiny_unt'" in message
    assert "did you mean 'tiny_unet'" in message
    assert "resnet_9blocks" in message  # the installed choices are listed


def test_trace_prints_hook_calls(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRANSLATE_TRACE_PLUGINS", "1")
    load_plugins(extra=[("traced", GeneratorPlugin("traced_gen"))], entry_points=[])
    err = capsys.readouterr().err
    assert "[translate trace] register_generators(register) -> plugin 'traced'" in err
    assert "registered generator 'traced_gen'" in err


# ------------------------------------------------------------------ translate.testing


def test_testing_loads_a_plugin_alone() -> None:
    plugins = load_plugins_with(GeneratorPlugin("alone"))
    assert list(plugins.infos) == ["GeneratorPlugin"]
    assert plugins.registry.names("generator") == ["alone"]


def test_testing_loading_is_strict() -> None:
    with pytest.raises(PluginError, match="did you mean"):
        load_registry_with(MisspeltHook())


def test_testing_checks_pass_on_good_networks() -> None:
    registry = load_registry_with(TinyNets())
    check_options_strict(registry.get("generator", "conv_gen"))
    net = check_generator(registry, "conv_gen", in_channels=1, out_channels=2, size=(16, 24))
    assert net[0].in_channels == 1
    check_discriminator(registry, "conv_d")
    check_discriminator(registry.get("discriminator", "conv_d"), in_channels=3, size=32)


def test_testing_checks_catch_broken_networks() -> None:
    registry = load_registry_with(TinyNets())
    with pytest.raises(AssertionError, match=r"output shape \(2, 3, 16, 16\) for input \(2, 3, 32, 32\), expected \(2, 3, 32, 32\)"):
        check_generator(registry, "shrinking_gen")
    with pytest.raises(AssertionError, match="NaN"):
        check_generator(registry, "nan_gen")
    with pytest.raises(AssertionError, match=r"expected \(2, 1, h, w\)"):
        check_discriminator(_as_discriminator(registry))
    with pytest.raises(AssertionError, match="options .* rejected"):
        check_generator(registry, "conv_gen", options={"widht": 4})


def _as_discriminator(registry):  # noqa: ANN001, ANN202
    """The conv_gen component relabelled as a discriminator: 3 output channels, so the check must fail."""
    from dataclasses import replace

    gen = registry.get("generator", "conv_gen")
    return replace(gen, kind="discriminator", factory=lambda o, *, in_channels: gen.factory(o, in_channels=in_channels, out_channels=3))


def test_check_options_strict_rejects_loose_models() -> None:
    from translate.plugin.registry import Component, PluginInfo

    loose = Component("generator", "loose", noop_factory, LooseOptions, "", PluginInfo("p", "d", "0"))
    with pytest.raises(AssertionError, match="must forbid unknown keys"):
        check_options_strict(loose)


def test_check_options_strict_catches_tuple_options() -> None:
    from translate.plugin.registry import Component, PluginInfo

    class TupleOptions(translate.Options):
        betas: tuple[float, float] = (0.5, 0.999)

    comp = Component("loss", "tuples", noop_factory, TupleOptions, "", PluginInfo("p", "d", "0"))
    with pytest.raises(AssertionError, match="JSON round trip"):
        check_options_strict(comp)


def test_lazy_factory_imports_its_builder_on_first_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazy_builder_module.py").write_text("def build(options, *, size, depth):\n    return (options, size, depth)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("lazy_builder_module", None)
    factory = translate.lazy_factory("lazy_builder_module", "build", depth=3)
    assert "lazy_builder_module" not in sys.modules
    assert factory("opts", size=8) == ("opts", 8, 3)
    assert "lazy_builder_module" in sys.modules
    assert factory.__name__ == "build" and "lazy_builder_module.build(depth=3)" in factory.__doc__
    sys.modules.pop("lazy_builder_module", None)


# ---- commands: the register_commands hook (built-in commands are registered the same way)

COMMAND_PLUGIN = """
import translate

def add_arguments(parser):
    parser.add_argument("name")
    parser.add_argument("--times", type=int, default=1)

def run(args):
    if args.name == "bad":
        raise translate.TranslateError("no greeting for 'bad'")
    if args.name == "registry":  # the command line hands its registry down
        print("greet" in args.registry.names("command"))
        return 0
    print(" ".join(["hello", args.name] * args.times))
    return 0

@translate.hookimpl
def register_commands(register):
    register("greet", run, arguments=add_arguments, description="greet someone")
"""


def test_a_plugin_adds_a_command(capsys: pytest.CaptureFixture[str], fake_dist: Callable[..., Path]) -> None:
    fake_dist("translate-greet", "translate_greet", COMMAND_PLUGIN, entry="greet")
    with pytest.raises(SystemExit) as exit_:
        run_cli(capsys, "--help")
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    line = next(line for line in out.splitlines() if line.strip().startswith("greet"))
    assert "greet someone [translate-greet]" in line  # one line, marked with the distribution it comes from
    assert run_cli(capsys, "greet", "ada", "--times", "2")[:2] == (0, "hello ada hello ada\n")
    assert run_cli(capsys, "greet", "registry")[:2] == (0, "True\n")
    code, out, err = run_cli(capsys, "greet", "bad")
    assert (code, out) == (2, "") and err == "error: no greeting for 'bad'\n"


def test_every_built_in_command_comes_through_the_hook(capsys: pytest.CaptureFixture[str]) -> None:
    registry = load_plugins(strict=True).registry
    builtin = {c.name for c in registry if c.kind == "command" and c.plugin.name == "commands"}
    assert {"run", "check", "plugins", "infer", "export", "eval", "report", "push", "serve", "demo", "convert",
            "data", "docs"} == builtin
    plugin_tools = {c.name: c.plugin.name for c in registry if c.kind == "command" and c.plugin.name != "commands"}
    assert plugin_tools == {"convert-fcn8s": "segmentation", "prepare-cityscapes": "segmentation",
                            "bicubic-baseline": "srgan"}
    with pytest.raises(SystemExit):
        run_cli(capsys, "--help")
    out = capsys.readouterr().out
    plugins_mod.reset()
    assert all(f"    {name} " in out or f"    {name}\n" in out for name in builtin | set(plugin_tools))


def test_a_command_clashing_with_a_built_in_is_refused(capsys: pytest.CaptureFixture[str],
                                                       fake_dist: Callable[..., Path]) -> None:
    fake_dist("translate-greet", "translate_greet", COMMAND_PLUGIN.replace('register("greet"', 'register("run"'),
              entry="greet")
    code, _, err = run_cli(capsys, "check", "nothing.toml")
    assert "duplicate command 'run'" in err and "'commands'" in err and "translate-greet" in err


@pytest.mark.parametrize("kind, arguments", [("command", None), ("command", "not callable"), ("loss", print)])
def test_arguments_belong_to_commands_only(kind: str, arguments: object) -> None:
    from translate.plugin.registry import PluginInfo, Registry

    with pytest.raises(PluginError, match="a command needs a callable"):
        Registry().add(kind, PluginInfo("p", "dist", "1"), "x", print, arguments=arguments)


def test_help_imports_neither_torch_nor_the_commands() -> None:
    code = ("import sys\nfrom translate.commands.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'translate.commands.eval', 'translate_srgan.bicubic') if m in sys.modules]\n"
            "assert heavy == [], heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_strict_holds_after_a_lenient_load(fake_dist: Callable[..., Path]) -> None:
    fake_dist("translate-broken", "translate_broken", BROKEN_MODULE, entry="broken")
    plugins_mod.reset()
    try:
        assert plugins_mod.get_plugins().errors  # lenient: reported, skipped
        with pytest.raises(PluginError, match="strict plugin loading is on"):
            plugins_mod.get_plugins(strict=True)
    finally:
        plugins_mod.reset()


# ---- one builder, and what the core reads from built objects (declared in translate.api)


class _TraitsPlugin:
    """Generators whose declared size_multiple / scale_factor are right or wrong."""

    @translate.hookimpl
    def register_generators(self, register) -> None:  # noqa: ANN001
        import torch

        def build(value_name: str, value: object):
            def factory(options, in_channels, out_channels):  # noqa: ANN001
                net = torch.nn.Conv2d(in_channels, out_channels, 1)
                setattr(net, value_name, value)
                return net
            return factory

        register("good", build("size_multiple", 4))
        register("zero_multiple", build("size_multiple", 0))
        register("float_multiple", build("size_multiple", 2.0))
        register("bool_scale", build("scale_factor", True))


def test_a_network_is_checked_once_when_it_is_built() -> None:
    registry = load_plugins(extra=[("traits", _TraitsPlugin())], entry_points=[], strict=True).registry
    net = registry.create("generator", "good", {}, in_channels=3, out_channels=3)
    assert translate.size_multiple(net) == 4 and translate.scale_factor(net) == 1
    for name, attribute in (("zero_multiple", "size_multiple"), ("float_multiple", "size_multiple"),
                            ("bool_scale", "scale_factor")):
        with pytest.raises(PluginError, match=rf"generator '{name}' of plugin 'traits' .*: {attribute} must be an int"):
            registry.create("generator", name, {}, in_channels=3, out_channels=3)


def test_create_validates_options_once_under_the_given_path() -> None:
    registry = load_plugins(strict=True).registry
    with pytest.raises(translate.errors.OptionsInvalid) as err:
        registry.create("generator", "unet_256", {"ngf": "many"}, path="generator.options",
                        in_channels=3, out_channels=3)
    assert any(line.startswith("generator.options.ngf") for line in err.value.lines)


def test_trainable_is_declared_and_checked() -> None:
    class Loss:
        trainable = "yes"

    assert translate.is_trainable(object()) is False
    with pytest.raises(PluginError, match="loss 'perceptual': trainable must be True or False"):
        translate.is_trainable(Loss(), "loss 'perceptual'")


def test_the_authors_interface_is_a_declared_protocol() -> None:
    registry = load_plugins(strict=True).registry
    import torch

    with torch.device("meta"):
        unet = registry.create("generator", "unet_256", {}, in_channels=3, out_channels=3)
        patchgan = registry.create("discriminator", "patchgan", {}, in_channels=6)
    assert isinstance(unet, translate.AuthorsCheckpoint)
    assert isinstance(torch.nn.Conv2d(1, 1, 1), translate.AuthorsCheckpoint) is False
    assert patchgan is not None
