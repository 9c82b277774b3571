"""Recipes refuse what would crash or exhaust the machine later: seeds out of range, absurd sizes and
counts; and an unknown key says which key was probably meant (issue 8, "Recipes")."""

from __future__ import annotations

from pathlib import Path

import pytest

from translate.errors import RecipeError
from translate.plugin.options import add_key_hints
from translate.recipe import MAX_SEED, load_recipe

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "recipes" / "quickstart.toml"
UNPAIRED = ROOT / "recipes" / "quickstart_unpaired.toml"


def problems(recipe: Path, *overrides: str) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe(recipe, list(overrides))
    return info.value.problems


def only_problem(recipe: Path, *overrides: str) -> str:
    lines = problems(recipe, *overrides)
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("seed", [-1, 2**32, 10**30])
def test_seed_out_of_range_is_a_recipe_error(seed: int) -> None:
    line = only_problem(QUICKSTART, f"seed={seed}")
    assert line.startswith("seed: Input should be ") and f"(got {seed})"[:20] in line


def test_largest_seed_is_accepted() -> None:
    recipe, _ = load_recipe(QUICKSTART, [f"seed={MAX_SEED}", f"data.options.seed={MAX_SEED}"])
    assert recipe.seed == MAX_SEED == 2**32 - 1


@pytest.mark.parametrize(
    ("recipe", "key", "value", "limit"),
    [
        (QUICKSTART, "data.batch_size", 10**6, 4096),
        (QUICKSTART, "data.num_workers", 10**4, 128),
        (QUICKSTART, "data.options.count", 10**12, 100000),
        (QUICKSTART, "data.options.val_count", 10**7, 10000),
        (QUICKSTART, "data.options.test_count", 10**7, 10000),
        (QUICKSTART, "data.options.image_size", 4096, 1024),
        (QUICKSTART, "data.options.load_size", 10**5, 8192),
        (QUICKSTART, "data.options.crop_size", 10**5, 8192),
        (QUICKSTART, "data.options.max_items", 10**12, 100000000),
        (QUICKSTART, "data.options.size_multiple", 65536, 1024),
        (QUICKSTART, "data.options.seed", 2**40, 2**32 - 1),
        (UNPAIRED, "data.options.count_a", 10**12, 100000),
        (UNPAIRED, "data.options.count_b", 10**12, 100000),
        (UNPAIRED, "data.options.test_count", 10**9, 10000),
        (UNPAIRED, "data.options.max_items", 10**12, 100000000),
    ],
)
def test_size_like_options_have_an_upper_bound(recipe: Path, key: str, value: int, limit: int) -> None:
    line = only_problem(recipe, f"{key}={value}")
    assert line == f"{key}: Input should be less than or equal to {limit} (got {value})"


def test_a_trillion_generated_images_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    root = tmp_path / "shapes"
    line = only_problem(QUICKSTART, "data.options.count=1000000000000", f"data.options.root={str(root)!r}")
    assert line.startswith("data.options.count: Input should be less than or equal to 100000")
    assert not root.exists()


def test_bounds_still_accept_real_sizes() -> None:
    recipe, _ = load_recipe(QUICKSTART, ["data.batch_size=64", "data.num_workers=8", "data.options.count=100000"])
    assert recipe.data.batch_size == 64 and recipe.data.options["count"] == 100000


def test_on_bad_file_is_validated_and_defaults_to_stop() -> None:
    recipe, resolved = load_recipe(QUICKSTART)
    assert recipe.data.on_bad_file == "stop" and resolved["data"]["on_bad_file"] == "stop"
    assert load_recipe(QUICKSTART, ["data.on_bad_file=skip"])[0].data.on_bad_file == "skip"
    assert only_problem(QUICKSTART, "data.on_bad_file=ignore").startswith("data.on_bad_file: Input should be 'stop' or 'skip'")


# --------------------------------------------------------------------------- did you mean


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        # a close key of the same table
        ("train.stepz=3", "train.stepz: unknown key; did you mean train.steps?"),
        ("output.sample_evry=3", "output.sample_evry: unknown key; did you mean output.sample_every?"),
        ("data.batchsize=3", "data.batchsize: unknown key; did you mean data.batch_size?"),
        ("sed=3", "sed: unknown key; did you mean seed?"),
        # the key lives in another table: say where
        ("train.lr=0.1", "train.lr: unknown key; did you mean method.options.lr?"),
        ("train.lrr=0.1", "train.lrr: unknown key; did you mean method.options.lr?"),
        ("output.batch_size=3", "output.batch_size: unknown key; did you mean data.batch_size or eval.batch_size?"),
        # component options tables, checked after the skeleton
        ("generator.options.ngff=3", "generator.options.ngff: unknown key; did you mean generator.options.ngf?"),
        ("method.options.steps=3", "method.options.steps: unknown key; did you mean train.steps?"),
        ("data.options.imagesize=32", "data.options.imagesize: unknown key; did you mean data.options.image_size?"),
        ("data.options.batch_size=3",
         "data.options.batch_size: unknown key; did you mean data.batch_size or eval.batch_size?"),
        # nothing close: the plain message
        ("train.qwxzv=1", "train.qwxzv: unknown key"),
    ],
)
def test_unknown_key_suggests_the_key_meant(override: str, expected: str) -> None:
    assert only_problem(QUICKSTART, override) == expected


def test_unknown_loss_option_suggests_from_the_loss_table() -> None:
    line = only_problem(UNPAIRED, "losses.adversarial.options.target_reall=1.0")
    assert line.startswith("losses.adversarial.options.target_reall: unknown key; did you mean ")
    assert "losses.adversarial.options.target_real" in line


def test_add_key_hints_rules() -> None:
    tables = {"": ["seed", "train"], "train": ["steps", "epochs"], "method.options": ["lr", "beta1"]}
    lines = ["train.lr: unknown key", "train.step: unknown key", "seed: Input should be", "nothing here"]
    assert add_key_hints(lines, tables) == [
        "train.lr: unknown key; did you mean method.options.lr?",
        "train.step: unknown key; did you mean train.steps?",
        "seed: Input should be",
        "nothing here",
    ]
    # a table the hints do not know (an unregistered component): other tables are still searched
    assert add_key_hints(["x.options.beta1: unknown key"], tables) == [
        "x.options.beta1: unknown key; did you mean method.options.beta1?"
    ]
