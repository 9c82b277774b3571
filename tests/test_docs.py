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
from pydantic import Field

import translate


class ZzOptions(translate.Options):
    zz_width: int = Field(8, ge=1, le=64, description="the width of the zz network")


@translate.hookimpl
def register_generators(register):
    register("zz_third_party_gen", lambda options, in_channels, out_channels: torch.nn.Identity(),
             options=ZzOptions, description="a third-party generator")
"""


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """A third-party plugin installed beside translate: distribution translate-zz-third-party 1.0."""
    import importlib
    import sys

    from translate.plugin.loading import ENTRY_POINT_GROUP

    site = tmp_path / "site"
    site.mkdir()
    (site / "translate_zz_third_party.py").write_text(THIRD_PARTY)
    info = site / "translate_zz_third_party-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: translate-zz-third-party\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nzz = translate_zz_third_party\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("TRANSLATE_LOAD_PLUGINS", raising=False)
    importlib.invalidate_caches()
    yield
    sys.modules.pop("translate_zz_third_party", None)


def test_third_party_components_are_left_out(generated, third_party):
    """A third-party plugin installed beside translate (and loaded by it) changes nothing on the page."""
    from translate.plugin.loading import load_plugins

    installed = load_plugins(strict=True).registry
    assert not installed.get("generator", "zz_third_party_gen").plugin.builtin  # installed, and loads
    page = docs.recipes_markdown()
    assert "zz_third_party_gen" not in page
    assert page == generated


def test_docs_recipes_plugins_adds_the_third_party_components(generated, third_party, capsys):
    from translate.plugin import loading

    loading.reset()  # the command line loads the plugins installed now
    try:
        assert main(["docs", "recipes", "--plugins"]) == 0
    finally:
        loading.reset()
    page = capsys.readouterr().out
    assert page.startswith(generated.rstrip("\n"))  # the built-in page, then the installed section
    extra = page[len(generated.rstrip("\n")):]
    assert "## Installed third-party components" in extra and "#### `zz_third_party_gen`" in extra
    assert "Plugin `zz` from the distribution `translate-zz-third-party` 1.0." in extra
    assert "| `zz_width` | integer | `8` | >= 1, <= 64 | the width of the zz network |" in extra
    assert "#### `unet`" not in extra  # built-in components stay in their own section


def test_plugins_options_shows_every_plugins_options_and_distribution(third_party, capsys):
    import json

    from translate.plugin import loading

    loading.reset()
    try:
        assert main(["plugins", "--options"]) == 0
        text = capsys.readouterr().out
        assert main(["plugins", "--options", "--json"]) == 0
        entries = json.loads(capsys.readouterr().out)
    finally:
        loading.reset()
    assert "zz: translate-zz-third-party 1.0\n  generator zz_third_party_gen: a third-party generator\n" \
           "    zz_width (integer, default 8, >= 1, <= 64): the width of the zz network\n" in text
    described = [line for line in text.splitlines() if line.startswith("    ") and "(no description)" not in line]
    assert any(line.startswith("    ngf (integer") for line in described)  # built-in options too, with descriptions
    zz = next(e for e in entries if e["name"] == "zz")
    assert zz["distribution"] == "translate-zz-third-party" and zz["builtin"] is False
    assert zz["components"]["generator"][0]["options"] == [{
        "name": "zz_width", "type": "integer", "default": "8", "constraints": ">= 1, <= 64",
        "description": "the width of the zz network"}]


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


# --------------------------------------------------------------------------- the plugin contract in the docs

ARCHITECTURE_MD = ROOT / "docs" / "architecture.md"
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12}


def _between(text: str, start: str, end: str) -> str:
    assert start in text, f"{start!r} is missing"
    part = text.split(start, 1)[1]
    return part.split(end, 1)[0] if end in part else part


def test_every_datainfo_field_is_documented_for_data_sets():
    """docs/plugins.md's data-set contract names every field of DataInfo (evaluation reads translations, aligned and
    file_formats; a field missing from the guide is a field plugin authors do not set)."""
    import dataclasses

    from translate.data.contract import DataInfo

    section = _between(PLUGINS_MD.read_text(), "**Data sets** (`register_datasets`)", "**Data sources**")
    table = {row.split("|")[1].strip().strip("`") for row in section.splitlines() if row.startswith("| `")}
    table.discard("DataInfo` field")  # the header
    assert table == {f.name for f in dataclasses.fields(DataInfo)}, "the DataInfo table of docs/plugins.md"


def test_every_register_keyword_is_documented():
    import inspect

    from translate.plugin.registry import Registry

    keywords = [n for n, p in inspect.signature(Registry.add).parameters.items() if p.kind is p.KEYWORD_ONLY]
    text = PLUGINS_MD.read_text()
    section = _between(text, "### `register`", "## 3.")
    for keyword in ["name", "factory", *keywords]:
        assert f"| `{keyword}` " in section, f"register(..., {keyword}=) is not in the table of docs/plugins.md"
        if keyword not in ("name", "factory"):
            assert f"{keyword}=" in section.split("```")[1], f"the register() signature lacks {keyword}"
    hookspecs_doc = hookspecs.__doc__ or ""
    assert all(f"{k}=" in hookspecs_doc for k in keywords), "translate/plugin/hookspecs.py's docstring"


@pytest.mark.parametrize("page, start, end", [
    (PLUGINS_MD, "| group | names in `translate.api` |", "\n\n"),
    (ARCHITECTURE_MD, "| group | names |", "\n\n"),
])
def test_the_api_tables_list_every_public_name(page, start, end):
    import translate.api

    table = _between(page.read_text(), start, end)
    missing = [n for n in translate.api.__all__ if f"`{n}`" not in table]
    assert missing == [], f"{page.name}: the public API table lacks {missing}"


def test_architecture_counts_the_hooks_it_declares():
    text = ARCHITECTURE_MD.read_text()
    counts = re.findall(r"declares (\w+) hooks", text)
    assert counts, "docs/architecture.md no longer says how many hooks hookspecs.py declares"
    assert [NUMBER_WORDS.get(c, c) for c in counts] == [len(hookspecs.KINDS)] * len(counts)
    table = _between(text, "| hook | registers |", "\n\n")
    assert len([row for row in table.splitlines() if row.startswith("| `register_")]) == len(hookspecs.KINDS)


def test_every_testing_check_is_documented():
    import translate.testing

    section = _between(PLUGINS_MD.read_text(), "## 9. Testing with `translate.testing`", "## 10.")
    functions = [n for n in translate.testing.__all__ if callable(getattr(translate.testing, n)) and n[0].islower()]
    assert [n for n in functions if f"| `{n}(" not in section] == []


def test_the_example_plugin_tests_import_only_the_public_api():
    import ast

    tests = ROOT / "docs" / "examples" / "translate-example-plugin" / "tests"
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                if name == "translate" or name.startswith("translate."):
                    assert name in ("translate", "translate.api", "translate.testing"), f"{path.name} imports {name}"


def _worked_example() -> tuple[str, str, str]:
    section = _between(PLUGINS_MD.read_text(), "### A worked example: a data set, a metric and their tests",
                       "## 11b.")
    blocks = re.findall(r"```(?:python|toml)\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 3, "the worked example shows the module, its test and a recipe"
    return blocks[0], blocks[1], blocks[2]


def test_the_worked_data_set_and_metric_pass_their_own_tests(tmp_path, monkeypatch):
    """The data set and metric of docs/plugins.md, as a plugin author copies them, pass the test shown beside them,
    and the recipe shown validates with them installed."""
    import importlib
    import sys

    from translate.recipe.check import check_recipe
    from translate.testing import load_registry_with

    module, test, recipe = _worked_example()
    (tmp_path / "translate_example_data.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        namespace: dict = {}
        exec(compile(test, "plugins.md: the worked example's test", "exec"), namespace)  # noqa: S102 - the page's code
        namespace["test_ramps_and_mean_error"]()
        registry = load_registry_with(sys.modules["translate_example_data"], installed=True)
        (tmp_path / "ramps.toml").write_text(recipe)
        status, line = check_recipe(tmp_path / "ramps.toml", [], registry)
        assert status == 0, line
        status, line = check_recipe(tmp_path / "ramps.toml", ["eval.best=mean_eror"], registry)
        assert status != 0 and "mean_eror" in line
    finally:
        sys.modules.pop("translate_example_data", None)


def test_the_readme_states_the_measured_times_once_with_the_machine():
    """The quickstart's training time and the test suite's duration, measured, with the machine; the
    quickstart recipe points there instead of carrying a time of its own."""
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("The unpaired counterpart")]
    assert "2 cores of an AMD EPYC" in head and "1250 training" in head and "8 min 11 s" in head
    assert re.search(r"the suite took \d+ min \d+ s on the same 2 idle cores", head)
    assert "3 to 7 minutes" not in readme
    header = [line for line in (ROOT / "recipes" / "quickstart.toml").read_text().splitlines() if line.startswith("#")][:5]
    assert "minutes" not in " ".join(header) and "the README gives the measured times" in " ".join(header)
