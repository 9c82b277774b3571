"""Documentation stays in step with the code: docs/recipes.md is generated from the schema,
docs/plugins.md documents every hook, and the examples shown on the pages behave as shown."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pluggy
import pytest

from translate.apps import docs
from translate.commands.main import main
from translate.plugin import hookspecs
from translate.plugin.loading import get_registry
from translate.recipe import Recipe, load_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPES_MD = ROOT / "docs" / "recipes.md"
PLUGINS_MD = ROOT / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def generated() -> str:
    return docs.recipes_markdown()


@pytest.fixture(scope="module")
def recipes_md() -> str:
    assert RECIPES_MD.is_file(), f"docs/recipes.md is missing; generate it with `{docs.REGENERATE}`"
    return RECIPES_MD.read_text()


def test_recipes_md_is_up_to_date(generated, recipes_md):
    assert recipes_md == generated, (
        "docs/recipes.md is out of date with the recipe schema or the built-in plugins; "
        f"regenerate it with `{docs.REGENERATE}` (from the repository root) and commit the result"
    )


def test_cli_prints_the_same_page(capsys, generated):
    assert main(["docs", "recipes"]) == 0
    assert capsys.readouterr().out == generated


def test_generation_is_deterministic(generated, monkeypatch):
    assert docs.recipes_markdown() == generated
    monkeypatch.setenv("TRANSLATE_LOAD_PLUGINS", "")  # no third-party plugins: same page
    assert docs.recipes_markdown() == generated


def test_every_hook_is_documented_in_plugins_md():
    text = PLUGINS_MD.read_text()
    for kind, hook in hookspecs.KINDS.items():
        assert f"`{hook}`" in text, f"hook {hook} is not documented in docs/plugins.md"
        assert f"`{kind}`" in text, f"component kind {kind} is not documented in docs/plugins.md"
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    specs = [name for name, caller in vars(pm.hook).items() if isinstance(caller, pluggy.HookCaller) and caller.has_spec()]
    assert sorted(specs) == sorted(hookspecs.KINDS.values())  # every hook of the contract has a kind, and back


def test_every_builtin_component_is_documented(recipes_md):
    registry = get_registry()
    builtin = [c for c in registry if c.plugin.builtin]
    assert builtin, "no built-in components loaded"
    assert {(c.kind, c.name) for c in builtin} == {(c.kind, c.name) for c in docs.builtin_components()}
    for comp in builtin:
        if comp.kind == "command":  # not used in recipes: `translate --help` lists them (tests/translate/plugin/test_plugins.py)
            continue
        if comp.kind == "data_source":
            assert f"| `{comp.name}` | {docs.md_text(comp.description)} |" in recipes_md, comp.name
            continue
        assert f"#### `{comp.name}`\n\n{docs.md_text(comp.description)}\n" in recipes_md, f"{comp.kind} {comp.name}"
        for option in comp.options.model_fields:
            assert f"| `{option}` |" in recipes_md, f"{comp.kind} {comp.name} option {option}"


THIRD_PARTY = """
import torch
import translate


@translate.hookimpl
def register_generators(register):
    register("zz_third_party_gen", lambda options, in_channels, out_channels: torch.nn.Identity(),
             description="a third-party generator")
"""


def test_third_party_components_are_left_out(generated, tmp_path, monkeypatch):
    """A third-party plugin installed beside translate (and loaded by it) changes nothing on the page."""
    import importlib

    from translate.plugin.loading import ENTRY_POINT_GROUP, load_plugins

    site = tmp_path / "site"
    site.mkdir()
    (site / "translate_zz_third_party.py").write_text(THIRD_PARTY)
    info = site / "translate_zz_third_party-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: translate-zz-third-party\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nzz = translate_zz_third_party\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    try:
        installed = load_plugins(strict=True).registry
        assert not installed.get("generator", "zz_third_party_gen").plugin.builtin  # installed, and loads
        page = docs.recipes_markdown()
    finally:
        import sys

        sys.modules.pop("translate_zz_third_party", None)
    assert "zz_third_party_gen" not in page
    assert page == generated


def test_every_skeleton_key_is_documented(recipes_md):
    from translate.recipe import ComponentSpec, DataSpec, EvalSpec, OutputSpec, TrainSpec

    for model in (Recipe, ComponentSpec, DataSpec, TrainSpec, OutputSpec, EvalSpec):
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in recipes_md, f"{model.__name__}.{name}"
            assert docs.md_text(field.description or "") in recipes_md


def test_options_tables_are_sorted(recipes_md):
    for block in recipes_md.split("\n#### ")[1:]:
        block = block.split("\n#")[0]  # up to the next heading
        names = re.findall(r"^\| `([^`]+)` \|", block, flags=re.M)
        assert names == sorted(names), block.split("\n", 1)[0]


def test_example_recipe_validates(tmp_path, capsys):
    path = tmp_path / "facades.toml"
    path.write_text(docs.EXAMPLE_RECIPE)
    assert main(["check", str(path)]) == 0, capsys.readouterr().err


def test_extends_example_validates_and_drops_the_base_options(tmp_path):
    (tmp_path / "ablations").mkdir()
    shutil.copy(ROOT / "recipes" / "pix2pix_facades.toml", tmp_path / "pix2pix_facades.toml")
    path = tmp_path / "ablations" / "facades_pixelgan.toml"
    path.write_text(docs.EXTENDS_EXAMPLE)
    recipe, _ = load_recipe(path)
    assert recipe.discriminator.name == "pixelgan" and "n_layers" not in recipe.discriminator.options
    shipped = ROOT / "recipes" / "ablations" / "facades_pixelgan.toml"
    assert tomllib.loads(docs.EXTENDS_EXAMPLE) == tomllib.loads(shipped.read_text())  # the page shows the real file


@pytest.mark.parametrize("text", [docs.BAD_SKELETON, docs.BAD_COMPONENTS])
def test_bad_examples_fail_as_shown(text, recipes_md):
    rc, printed = docs.run_check(text)
    assert rc == 2
    assert printed.startswith("error: invalid recipe bad.toml:")
    assert printed.rstrip("\n") in recipes_md


@pytest.mark.parametrize(("text", "_"), docs.SET_EXAMPLES)
def test_set_examples_are_on_the_page(text, _, recipes_md):
    assert f"`--set '{text}'`" in recipes_md


def test_ablation_section_lists_every_ablation_recipe(recipes_md):
    section = recipes_md.split("## 7. The paper's ablations as recipes", 1)[1]
    files = sorted(p.name for p in (ROOT / "recipes" / "ablations").glob("*.toml"))
    listed = sorted(re.findall(r"`recipes/ablations/([^`]+\.toml)`", section))
    assert sorted(set(listed)) == files
    for name in files:
        recipe, _ = load_recipe(ROOT / "recipes" / "ablations" / name)
        assert recipe.method.name == "pix2pix"


def test_gan_only_command_on_the_page_is_valid(recipes_md, capsys):
    assert "recipes/ablations/facades_l1_gan.toml --set method.options.lambda_l1=0" in recipes_md
    rc = main(["check", str(ROOT / "recipes/ablations/facades_l1_gan.toml"), "--set", "method.options.lambda_l1=0",
               "--set", "output.dir=runs/ablations/facades_gan_only"])
    assert rc == 0, capsys.readouterr().err


def test_docs_topic_choices():
    with pytest.raises(SystemExit):
        main(["docs", "nothing"])
