"""Recipes: strict validation with clear ``file: dotted.key: message`` errors, ``--set``,
``extends``, the shipped recipes (including the paper's ablations) and the resolved-recipe
round trip. Nothing here trains; the only networks built are tiny."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from translate.commands.main import main
from translate.components.build import BuildContext
from translate.errors import RecipeError
from translate.plugin.loading import get_registry
from translate.recipe import (
    apply_overrides,
    load_recipe,
    parse_override,
    read_recipe_file,
    resolved_dict,
    to_toml,
    validate,
)

ROOT = Path(__file__).resolve().parents[3]
RECIPES = sorted((ROOT / "recipes").rglob("*.toml"))
ABLATIONS = ROOT / "recipes" / "ablations"
FACADES = ROOT / "recipes" / "pix2pix_facades.toml"

VALID = """\
seed = 1

[method]
name = "pix2pix"

[generator]
name = "unet"

[generator.options]
num_downs = 5
ngf = 8

[discriminator]
name = "patchgan"

[discriminator.options]
n_layers = 2
ndf = 8

[data]
name = "synthetic_shapes"
batch_size = 2

[data.options]
root = "data/shapes"
image_size = 32

[train]
steps = 10
decay = 5
"""


def write(tmp_path: Path, text: str, name: str = "recipe.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def check(capsys: pytest.CaptureFixture[str], path: Path | str, *overrides: str) -> tuple[int, str]:
    """Run ``translate check`` in-process; return (exit status, stderr)."""
    argv = ["check", str(path)]
    for o in overrides:
        argv += ["--set", o]
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.err


def check_fails(capsys: pytest.CaptureFixture[str], path: Path, *overrides: str, expect: list[str]) -> str:
    """The CLI rejects the recipe with exit status 2, one ``error:`` message naming the file and keys."""
    rc, err = check(capsys, path, *overrides)
    assert rc == 2, err
    assert err.startswith("error: invalid recipe"), err
    assert path.name in err, err
    assert "Traceback" not in err, err
    for text in expect:
        assert text in err, f"{text!r} not in:\n{err}"
    return err


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_the_base_recipe_is_valid(tmp_path, capsys):
    rc, err = check(capsys, write(tmp_path, VALID))
    assert rc == 0, err


# ----------------------------------------------------------------------------- skeleton errors


def test_unknown_top_level_key(tmp_path, capsys):
    path = write(tmp_path, 'colour = "red"\n' + VALID)
    check_fails(capsys, path, expect=["colour: unknown key"])


def test_unknown_nested_key(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "steps = 10", "epoch = 10\nsteps = 10"))
    check_fails(capsys, path, expect=["train.epoch: unknown key"])


def test_unknown_output_key(tmp_path, capsys):
    path = write(tmp_path, VALID + "\n[output]\nsample_evry = 5\n")
    check_fails(capsys, path, expect=["output.sample_evry: unknown key"])


def test_wrong_type_is_not_coerced(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "batch_size = 2", 'batch_size = "4"'))
    check_fails(capsys, path, expect=["data.batch_size: Input should be a valid integer (got '4')"])


def test_wrong_type_bool(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "batch_size = 2", "batch_size = 2\nshuffle = 1"))
    check_fails(capsys, path, expect=["data.shuffle: Input should be a valid boolean (got 1)"])


def test_out_of_range(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "batch_size = 2", "batch_size = 0"))
    check_fails(capsys, path, expect=["data.batch_size: Input should be greater than or equal to 1 (got 0)"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.steps=-3", "train.steps: Input should be greater than or equal to 1 (got -3)"),
        ("data.num_workers=-1", "data.num_workers: Input should be greater than or equal to 0 (got -1)"),
        ("output.num_samples=65", "output.num_samples: Input should be less than or equal to 64 (got 65)"),
        ("train.mixed_precision=fp8", "train.mixed_precision: Input should be 'auto', 'no', 'bf16' or 'fp16' (got 'fp8')"),
    ],
)
def test_limits_and_choices(tmp_path, capsys, override, message):
    check_fails(capsys, write(tmp_path, VALID), override, expect=[message])


def test_both_epochs_and_steps(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "steps = 10", "steps = 10\nepochs = 2"))
    check_fails(capsys, path, expect=["train: ", "give exactly one of train.epochs or train.steps"])


def test_neither_epochs_nor_steps(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "steps = 10\ndecay = 5", "decay = 0"))
    check_fails(capsys, path, expect=["train: ", "give exactly one of train.epochs or train.steps"])


def test_missing_required_section(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "[train]\nsteps = 10\ndecay = 5\n", ""))
    check_fails(capsys, path, expect=["train: required key is missing"])


def test_decay_longer_than_the_run(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "decay = 5", "decay = 11"))
    check_fails(capsys, path, expect=["train: ", "train.decay (11) is longer than the run (10)"])


def test_all_skeleton_problems_are_reported_together(tmp_path, capsys):
    text = 'colour = "red"\n' + edit(edit(VALID, "batch_size = 2", "batch_size = 0"), "steps = 10", "stepz = 10")
    check_fails(capsys, write(tmp_path, text),
                expect=["colour: unknown key", "data.batch_size: ", "train.stepz: unknown key"])


# ----------------------------------------------------------------------------- component errors


def test_unknown_component_suggests_close_matches_and_lists_choices(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, 'name = "unet"', 'name = "unet256"'))
    err = check_fails(capsys, path, expect=["generator.name: unknown generator 'unet256'", "did you mean 'unet_256'"])
    assert "Installed generators: " in err
    for name in get_registry().names("generator"):
        assert name in err.split("Installed generators: ", 1)[1]


@pytest.mark.parametrize(
    ("section", "kind", "typo", "suggestion"),
    [
        ("method", "method", "pix2pics", "pix2pix"),
        ("discriminator", "discriminator", "patchgan70", "patchgan_70"),
        ("data", "dataset", "synthetic_shape", "synthetic_shapes"),
        ("losses.adversarial", "loss", "vanila", "vanilla"),
    ],
)
def test_unknown_component_of_each_kind(tmp_path, capsys, section, kind, typo, suggestion):
    path = write(tmp_path, VALID)
    check_fails(capsys, path, f"{section}.name={typo}",
                expect=[f"{section}.name: unknown {kind} {typo!r}", f"did you mean {suggestion!r}",
                        f"Installed {'losses' if kind == 'loss' else kind + 's'}:"])


def test_component_option_errors_name_their_dotted_path(tmp_path, capsys):
    text = edit(VALID, "ngf = 8", "ngf = -1\nbogus = 1")
    text = edit(text, "ndf = 8", 'ndf = 8\nnorm = "group"')
    err = check_fails(
        capsys,
        write(tmp_path, text),
        expect=[
            "generator.options.ngf: Input should be greater than or equal to 1 (got -1)",
            "generator.options.bogus: unknown key",
            "discriminator.options.norm: Input should be 'batch', 'instance' or 'none' (got 'group')",
        ],
    )
    assert err.count("\n  ") == 3, err  # exactly three problem lines


def test_option_type_errors_are_not_coerced(tmp_path, capsys):
    check_fails(capsys, write(tmp_path, VALID), "generator.options.ngf=8.0", "method.options.conditional=yes",
                expect=["generator.options.ngf: Input should be a valid integer (got 8.0)",
                        "method.options.conditional: Input should be a valid boolean (got 'yes')"])


def test_loss_and_data_option_errors(tmp_path, capsys):
    check_fails(capsys, write(tmp_path, VALID), "losses.adversarial.name=lsgan",
                "losses.adversarial.options.target_real=0.9", "data.options.crop_size=64",
                "data.options.load_size=40",
                expect=["losses.adversarial.options.target_real: unknown key",
                        "data.options: ", "crop_size (64) must not exceed load_size (40)"])


def test_lambda_l1_and_lambda_gan_both_zero_is_rejected(tmp_path, capsys):
    check_fails(capsys, write(tmp_path, VALID), "method.options.lambda_l1=0", "method.options.lambda_gan=0",
                expect=["method.options: ", "lambda_l1 and lambda_gan are both 0"])
    rc, err = check(capsys, write(tmp_path, VALID), "method.options.lambda_l1=0")
    assert rc == 0, err
    rc, err = check(capsys, write(tmp_path, VALID), "method.options.lambda_gan=0")
    assert rc == 0, err


def test_validate_raises_recipe_error_with_problem_lines():
    data = tomllib.loads(edit(VALID, "ngf = 8", "ngf = 0"))
    with pytest.raises(RecipeError) as info:
        validate(data, get_registry(), "somewhere.toml")
    assert info.value.source == "somewhere.toml"
    assert info.value.problems == ["generator.options.ngf: Input should be greater than or equal to 1 (got 0)"]


# ----------------------------------------------------------------------------- file errors


def test_toml_syntax_error_names_file_and_line(tmp_path, capsys):
    path = write(tmp_path, 'seed = 1\n\n[method\nname = "pix2pix"\n')
    check_fails(capsys, path, expect=["not valid TOML", "line 3"])


def test_duplicate_key_is_a_toml_error(tmp_path, capsys):
    path = write(tmp_path, edit(VALID, "seed = 1", "seed = 1\nseed = 2"))
    check_fails(capsys, path, expect=["not valid TOML", "line 2"])


def test_missing_file(tmp_path, capsys):
    check_fails(capsys, tmp_path / "nowhere.toml", expect=["nowhere.toml", "file not found"])


# ----------------------------------------------------------------------------- --set


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("train.epochs=5", ["train", "epochs"], 5),
        ("method.options.lr=0.0001", ["method", "options", "lr"], 0.0001),
        ("method.options.lr=1e-4", ["method", "options", "lr"], 1e-4),
        ("data.shuffle=false", ["data", "shuffle"], False),
        ("data.shuffle=true", ["data", "shuffle"], True),
        ("data.options.root=data/facades", ["data", "options", "root"], "data/facades"),
        ("data.options.direction=BtoA", ["data", "options", "direction"], "BtoA"),
        ('output.dir="runs/2024"', ["output", "dir"], "runs/2024"),
        ('seed="7"', ["seed"], "7"),
        ("a.list=[1, 2, 3]", ["a", "list"], [1, 2, 3]),
        ('a.list=["x", "y"]', ["a", "list"], ["x", "y"]),
        ('losses.reconstruction={name = "l2"}', ["losses", "reconstruction"], {"name": "l2"}),
        (" train.steps = 12 ", ["train", "steps"], 12),
        ("output.dir=runs/a=b", ["output", "dir"], "runs/a=b"),
        ("output.dir=", ["output", "dir"], ""),
    ],
)
def test_parse_override(text, key, value):
    parts, parsed = parse_override(text)
    assert parts == key
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["train.epochs", "=5", ".a=1", "a..b=1", "a.=1"])
def test_parse_override_rejects_bad_keys(text):
    with pytest.raises(RecipeError) as info:
        parse_override(text)
    assert info.value.source == "--set"
    assert repr(text) in str(info.value)


def test_apply_overrides_creates_nested_tables_and_does_not_mutate():
    data = {"seed": 0, "method": {"name": "pix2pix"}}
    out = apply_overrides(data, ["losses.reconstruction.name=smooth_l1",
                                 "losses.reconstruction.options.beta=0.5", "method.options.lr=1e-3"])
    assert out["losses"] == {"reconstruction": {"name": "smooth_l1", "options": {"beta": 0.5}}}
    assert out["method"] == {"name": "pix2pix", "options": {"lr": 1e-3}}
    assert data == {"seed": 0, "method": {"name": "pix2pix"}}


def test_later_overrides_win():
    assert apply_overrides({}, ["seed=1", "seed=2"]) == {"seed": 2}


def test_setting_below_a_value_is_an_error():
    with pytest.raises(RecipeError) as info:
        apply_overrides({"seed": 0}, ["seed.x=1"])
    assert info.value.problems == ["seed.x: seed is a value, not a table"]
    with pytest.raises(RecipeError) as info:
        apply_overrides({"method": {"name": "pix2pix"}}, ["method.name.x=1"])
    assert info.value.problems == ["method.name.x: method.name is a value, not a table"]


def test_set_through_the_cli(tmp_path, capsys):
    path = write(tmp_path, VALID)
    rc, err = check(capsys, path, "generator.options.ngf=16", "train.steps=20", "data.options.root=elsewhere/shapes")
    assert rc == 0, err
    recipe, resolved = load_recipe(path, ["generator.options.ngf=16", "data.options.root=elsewhere/shapes"])
    assert recipe.generator.options["ngf"] == 16
    assert resolved["data"]["options"]["root"] == "elsewhere/shapes"
    err = check_fails(capsys, path, "data.batch_size=abc", expect=["data.batch_size: ", "(got 'abc')"])
    assert "(with --set overrides)" in err
    rc, err = check(capsys, path, "seed.x=1")
    assert rc == 2 and err.startswith("error: invalid recipe --set") and "seed.x: seed is a value" in err


def test_set_adds_a_new_table(tmp_path, capsys):
    path = write(tmp_path, VALID)
    rc, err = check(capsys, path, "losses.reconstruction.name=smooth_l1", "losses.reconstruction.options.beta=0.5")
    assert rc == 0, err
    recipe, _ = load_recipe(path, ["losses.reconstruction.name=smooth_l1"])
    assert recipe.losses["reconstruction"].name == "smooth_l1"


# ----------------------------------------------------------------------------- extends

BASE_FOR_EXTENDS = VALID + """
[method.options]
lambda_l1 = 50.0
lr = 0.001

[losses.adversarial]
name = "lsgan"

[losses.adversarial.options]
target_real_label = 0.9
"""


def test_extends_merges_key_by_key(tmp_path):
    write(tmp_path, BASE_FOR_EXTENDS, "base.toml")
    child = write(tmp_path, 'extends = "../base.toml"\nseed = 5\n\n[method.options]\nlr = 0.0005\n'
                  '\n[generator.options]\nngf = 16\n', "sub/child.toml")
    data = read_recipe_file(child)
    assert "extends" not in data
    assert data["seed"] == 5
    assert data["method"] == {"name": "pix2pix", "options": {"lambda_l1": 50.0, "lr": 0.0005}}
    assert data["generator"] == {"name": "unet", "options": {"num_downs": 5, "ngf": 16}}
    assert data["losses"]["adversarial"]["options"] == {"target_real_label": 0.9}
    recipe, _ = load_recipe(child)
    assert recipe.generator.options["ngf"] == 16 and recipe.generator.options["num_downs"] == 5


def test_extends_same_component_name_keeps_options(tmp_path):
    write(tmp_path, BASE_FOR_EXTENDS, "base.toml")
    child = write(tmp_path, 'extends = "base.toml"\n\n[generator]\nname = "unet"\n', "child.toml")
    assert read_recipe_file(child)["generator"] == {"name": "unet", "options": {"num_downs": 5, "ngf": 8}}


def test_extends_different_component_name_drops_base_options(tmp_path):
    write(tmp_path, BASE_FOR_EXTENDS, "base.toml")
    child = write(tmp_path, 'extends = "base.toml"\n\n[generator]\nname = "unet_128"\n'
                  '\n[discriminator]\nname = "pixelgan"\n\n[discriminator.options]\nndf = 4\n'
                  '\n[losses.adversarial]\nname = "hinge"\n', "child.toml")
    data = read_recipe_file(child)
    # the base's unet options (num_downs is no option of unet_128) are dropped, not merged
    assert data["generator"] == {"name": "unet_128"}
    assert data["discriminator"] == {"name": "pixelgan", "options": {"ndf": 4}}
    assert data["losses"]["adversarial"] == {"name": "hinge"}
    recipe, _ = load_recipe(child)
    assert recipe.discriminator.options["ndf"] == 4


def test_extends_chain(tmp_path):
    write(tmp_path, BASE_FOR_EXTENDS, "a.toml")
    write(tmp_path, 'extends = "a.toml"\nseed = 2\n', "b.toml")
    c = write(tmp_path, 'extends = "b.toml"\n\n[train]\nsteps = 30\n', "c.toml")
    data = read_recipe_file(c)
    assert data["seed"] == 2 and data["train"] == {"steps": 30, "decay": 5}


def test_extends_self_is_a_cycle(tmp_path, capsys):
    path = write(tmp_path, 'extends = "loop.toml"\n' + VALID, "loop.toml")
    check_fails(capsys, path, expect=["extends: ", "cycle"])


def test_extends_cycle_of_two(tmp_path, capsys):
    write(tmp_path, 'extends = "two.toml"\n' + VALID, "one.toml")
    two = write(tmp_path, 'extends = "one.toml"\n', "two.toml")
    rc, err = check(capsys, two)
    assert rc == 2 and "cycle" in err and "extends: " in err and "Traceback" not in err


def test_extends_missing_base(tmp_path, capsys):
    path = write(tmp_path, 'extends = "missing_base.toml"\n' + VALID)
    check_fails(capsys, path, expect=["extends: base recipe", "missing_base.toml", "not found"])


def test_extends_must_be_a_string(tmp_path, capsys):
    path = write(tmp_path, "extends = 3\n" + VALID)
    check_fails(capsys, path, expect=["extends: expected a file path string (got 3)"])


def test_extends_errors_in_the_base_name_the_base(tmp_path, capsys):
    write(tmp_path, "[method\n", "base.toml")
    child = write(tmp_path, 'extends = "base.toml"\n', "child.toml")
    rc, err = check(capsys, child)
    assert rc == 2 and "base.toml" in err and "not valid TOML" in err


# ----------------------------------------------------------------------------- shipped recipes


@pytest.mark.parametrize("path", RECIPES, ids=[p.relative_to(ROOT / "recipes").as_posix() for p in RECIPES])
def test_every_recipe_validates(path, capsys):
    rc, err = check(capsys, path)
    assert rc == 0, err
    assert err == ""


def test_recipes_exist():
    names = {p.relative_to(ROOT / "recipes").as_posix() for p in RECIPES}
    assert {"quickstart.toml", "pix2pix_facades.toml", "pix2pix_edges2shoes.toml"} <= names
    assert len([n for n in names if n.startswith("ablations/")]) >= 7


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


MISSING = "<missing>"

# What each ablation changes relative to the full pix2pix facades recipe (besides output.dir).
EXPECTED_ABLATIONS: dict[str, dict[str, Any]] = {
    "facades_l1_only.toml": {"method.options.lambda_gan": 0.0},
    "facades_cgan_only.toml": {"method.options.lambda_l1": 0.0},
    "facades_l1_gan.toml": {"method.options.conditional": False},
    "facades_encoder_decoder.toml": {"generator.name": "encoder_decoder_256"},
    "facades_pixelgan.toml": {"discriminator.name": "pixelgan", "discriminator.options.n_layers": MISSING},
    "facades_patchgan_16.toml": {"discriminator.options.n_layers": 1},
    "facades_imagegan_286.toml": {"discriminator.options.n_layers": 5},
}


def test_every_ablation_recipe_is_covered():
    assert sorted(p.name for p in ABLATIONS.glob("*.toml")) == sorted(EXPECTED_ABLATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ABLATIONS))
def test_ablation_changes_exactly_what_the_paper_changes(name):
    _, base = load_recipe(FACADES)
    _, ablation = load_recipe(ABLATIONS / name)
    flat_base, flat = _flat(base), _flat(ablation)
    diff = {k: flat.get(k, MISSING) for k in set(flat_base) | set(flat)
            if flat.get(k, MISSING) != flat_base.get(k, MISSING)}
    assert diff.pop("output.dir") == f"runs/ablations/{Path(name).stem}"
    assert diff == EXPECTED_ABLATIONS[name]
    assert read_recipe_file(ABLATIONS / name)  # extends resolves from the file's own folder


def _build(path: Path, *overrides: str):
    """Build the recipe's method with tiny networks (3 -> 3 channels)."""
    registry = get_registry()
    recipe, _ = load_recipe(path, ["generator.options.ngf=8", *overrides], registry)
    ctx = BuildContext(recipe=recipe, registry=registry, channels={"input": 3, "target": 3}, source=str(path))
    comp = registry.get("method", recipe.method.name)
    return comp.factory(comp.parse_options(recipe.method.options, "method.options"), ctx=ctx), ctx


def _first_conv_in_channels(module) -> int:
    import torch

    return next(m for m in module.modules() if isinstance(m, torch.nn.Conv2d)).in_channels


def test_l1_only_builds_no_discriminator():
    method, ctx = _build(ABLATIONS / "facades_l1_only.toml")
    assert "G" in method.networks
    assert "D" not in method.networks
    assert set(method.optimizers) == {"G"}
    assert [r.kind for r in ctx.records] == ["generator"]


def test_full_pix2pix_builds_a_conditional_discriminator():
    method, _ = _build(FACADES, "discriminator.options.ndf=8")
    assert set(method.networks) == {"G", "D"}
    assert _first_conv_in_channels(method.networks["D"]) == 6  # input and output stacked


def test_l1_gan_discriminator_sees_only_the_output():
    method, _ = _build(ABLATIONS / "facades_l1_gan.toml", "discriminator.options.ndf=8")
    assert _first_conv_in_channels(method.networks["D"]) == 3


def test_encoder_decoder_and_pixelgan_build_the_named_components():
    _, ctx = _build(ABLATIONS / "facades_encoder_decoder.toml", "discriminator.options.ndf=8")
    assert [(r.kind, r.name) for r in ctx.records] == [("generator", "encoder_decoder_256"), ("discriminator", "patchgan")]
    _, ctx = _build(ABLATIONS / "facades_pixelgan.toml", "discriminator.options.ndf=8")
    assert [(r.kind, r.name) for r in ctx.records] == [("generator", "unet_256"), ("discriminator", "pixelgan")]


# ----------------------------------------------------------------------------- resolved recipe round trip


@pytest.mark.parametrize("path", RECIPES, ids=[p.relative_to(ROOT / "recipes").as_posix() for p in RECIPES])
def test_resolved_recipe_round_trips_through_toml(path, tmp_path):
    recipe, resolved = load_recipe(path)
    assert resolved == resolved_dict(recipe)
    text = to_toml(resolved)
    assert tomllib.loads(text) == resolved
    again, resolved_again = load_recipe(write(tmp_path, text, "resolved.toml"))
    assert resolved_again == resolved


def test_round_trip_keeps_unusual_values(tmp_path):
    path = write(tmp_path, VALID)
    overrides = ['output.dir=runs/with "quotes" and \\ backslash', "method.options.lr=1e-07",
                 "losses.reconstruction.name=smooth_l1", "method.options.lr_d=0.0003"]
    _, resolved = load_recipe(path, overrides)
    assert tomllib.loads(to_toml(resolved)) == resolved
    assert resolved["method"]["options"]["lr_d"] == 0.0003
    _, plain = load_recipe(path)
    assert "lr_d" not in plain["method"]["options"]  # unset options are left out, as TOML has no null


def test_a_missing_recipe_lists_the_recipes_and_the_closest_name(tmp_path: Path, monkeypatch) -> None:
    from translate.recipe import read_recipe_file

    for name in ("quickstart.toml", "pix2pix_facades.toml"):
        (tmp_path / name).write_text("seed = 1\n")
    with pytest.raises(RecipeError) as info:
        read_recipe_file(tmp_path / "quickstrat.toml")
    assert (f"file not found; did you mean {tmp_path / 'quickstart.toml'}?; the recipes in {tmp_path}/: "
            "pix2pix_facades.toml, quickstart.toml") in str(info.value)
    monkeypatch.chdir(tmp_path)  # a folder that does not exist: ./recipes is listed
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "cut.toml").write_text("seed = 1\n")
    with pytest.raises(RecipeError, match=r"file not found; the recipes in recipes/: cut\.toml$"):
        read_recipe_file(tmp_path / "nowhere" / "zzz.toml")
    (tmp_path / "recipes" / "cut.toml").unlink()
    with pytest.raises(RecipeError, match=r"file not found$"):
        read_recipe_file(tmp_path / "nowhere" / "zzz.toml")
