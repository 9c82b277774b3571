"""The paper recipes name the numbers their papers published, under protocols translate can match."""

from __future__ import annotations

from pathlib import Path

import pytest

from translate.plugin.loading import get_registry
from translate.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
PAPERS = {
    "pix2pix_cityscapes.toml": {("fcn_pixel_acc", 0.66), ("fcn_class_acc", 0.23), ("fcn_iou", 0.17),
                                ("fcn_pixel_acc", 0.80), ("fcn_class_acc", 0.26), ("fcn_iou", 0.21)},
    "cut_horse2zebra.toml": {("fid", 45.5), ("fid", 43.71), ("fid", 77.2)},
    "fastcut_horse2zebra.toml": {("fid", 73.4), ("fid", 72.53), ("fid", 77.2)},
    "cyclegan_horse2zebra.toml": {("AtoB/fid", 77.2), ("AtoB/fid", 62.11)},
    "cut_cat2dog.toml": {("fid", 76.2), ("fid", 85.9)},
    "fastcut_cat2dog.toml": {("fid", 94.0), ("fid", 85.9)},
    "cyclegan_cat2dog.toml": {("AtoB/fid", 85.9)},
    "cut_cityscapes.toml": {("fid", 56.4), ("fid", 68.8), ("fid", 76.3)},
}
TEST_SETS = {"horse2zebra": (120, 140), "cat2dog": (500, 500), "cityscapes": (500, 500)}


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_a_paper_recipe_lists_its_published_numbers(name: str) -> None:
    recipe, _ = load_recipe(RECIPES / name, registry=get_registry())
    assert recipe.eval is not None
    published = recipe.eval.published
    assert {(p.metric, p.value) for p in published} == PAPERS[name]
    for p in published:
        assert p.metric.split("/")[-1].split("_")[0] in {m.split("_")[0] for m in recipe.eval.metrics}
        assert p.source and (p.protocol or p.note), p  # a protocol to match, or a note saying why not
        if "mode" in p.protocol:
            assert p.protocol["mode"] in ("clean", "legacy_tensorflow", "legacy_pytorch")
            counts = (p.protocol["generated_images"], p.protocol["real_images"])
            assert counts == TEST_SETS[name.split("_")[1].removesuffix(".toml")]  # the data set's test split
