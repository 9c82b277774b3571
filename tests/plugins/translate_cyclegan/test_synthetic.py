"""The generated day/night set: each test scene also rendered in the other domain, so the val and test
splits are aligned and the unpaired quickstarts get a full-reference score offline."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import translate
from translate.evaluation.runner import GeneratorUnderTest, MetricSpec, evaluate_generators
from translate.plugin.loading import builtin_entry_points, load_plugins

ROOT = Path(__file__).resolve().parents[3]
try:  # installed with the package once its entry point is declared; else straight from the source tree
    import translate_cyclegan  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    sys.path.insert(0, str(ROOT / "plugins"))

from translate_cyclegan.datasets import DATASETS  # noqa: E402
from translate_cyclegan.synthetic import TRUTH_FOLDERS, render_scene  # noqa: E402

SMALL = {"count_a": 3, "count_b": 2, "test_count": 3, "image_size": 32, "preprocess": "none", "flip": False}


class _Plugin:
    @translate.hookimpl
    def register_datasets(self, register):
        for name, factory, options, smoke, description in DATASETS:
            register(name, factory, options=options, smoke_options=smoke, description=description)


@pytest.fixture(scope="module")
def plugins():
    metrics = [ep for ep in builtin_entry_points() if ep.name == "metrics"]
    loaded = load_plugins(strict=True, extra=[("cg", _Plugin())], entry_points=metrics)
    assert not loaded.errors
    return loaded


def _build(plugins, split: str, root: Path, **options):
    return plugins.registry.get("dataset", "synthetic_unpaired").build({"root": str(root), **SMALL, **options},
                                                                      split=split)


def _edges(path: Path) -> np.ndarray:
    image = np.asarray(Image.open(path), dtype=np.float32)
    return np.abs(np.diff(image.mean(axis=2), axis=1)) > 20


def test_each_test_scene_is_rendered_in_both_domains(plugins, tmp_path):
    _build(plugins, "train", tmp_path / "a")
    _build(plugins, "train", tmp_path / "b")
    for test, truth in TRUTH_FOLDERS.items():
        names = sorted(p.name for p in (tmp_path / "a" / test).glob("*.png"))
        assert names == sorted(p.name for p in (tmp_path / "a" / truth).glob("*.png")) and len(names) == 3
        for name in names:  # deterministic, byte for byte
            assert (tmp_path / "a" / truth / name).read_bytes() == (tmp_path / "b" / truth / name).read_bytes()
            # the same scene: its outlines line up (unpaired scenes' do not, test_unpaired.py)
            here, there = _edges(tmp_path / "a" / test / name), _edges(tmp_path / "a" / truth / name)
            assert (here & there).sum() > 0.4 * min(here.sum(), there.sum())
    sky = {sub: np.asarray(Image.open(next((tmp_path / "a" / sub).glob("*.png"))), np.float32)[:3].mean() / 255
           for sub in ("testA", "testA_night", "testB", "testB_day")}
    assert sky["testA"] > 0.6 and sky["testA_night"] < 0.2 and sky["testB"] < 0.2 and sky["testB_day"] > 0.6


def test_painting_a_scene_in_its_own_domain_changes_nothing():
    for domain, code in (("A", 1), ("B", 2)):
        key = [5, code, 2, 0]
        plain = render_scene(np.random.default_rng(key), 32, domain)
        same = render_scene(np.random.default_rng(key), 32, domain, painted_as=domain, extras=np.random.default_rng(1))
        assert np.array_equal(plain, same)
    with pytest.raises(ValueError, match="needs an `extras` generator"):
        render_scene(np.random.default_rng(0), 32, "A", painted_as="B")


def test_test_split_is_aligned_with_the_ground_truth_and_train_stays_unpaired(plugins, tmp_path):
    train = _build(plugins, "train", tmp_path / "set")
    assert not train.info.aligned and train.info.translations == (("AtoB", "A", "B"), ("BtoA", "B", "A"))
    assert "truth_B" not in train[(0, 0)]
    for split in ("val", "test"):
        ds = _build(plugins, split, tmp_path / "set")
        assert ds.info.aligned and ds.info.keys_for("AtoB") == ("A", "truth_B") and ds.info.keys_for("BtoA") == (
            "B", "truth_A")
        assert ds.info.domains == ("day", "night")
        item = ds[(1, 0)]
        truth = np.asarray(Image.open(tmp_path / "set" / "testA_night" / f"{item['name']}.png"), np.float32)
        assert torch.allclose(item["truth_B"], torch.from_numpy(truth / 127.5 - 1).permute(2, 0, 1), atol=1e-5)
        assert item["truth_A"].shape == item["B"].shape == (3, 32, 32)


def test_full_reference_metrics_evaluate_both_directions_offline(plugins, tmp_path):
    """What the unpaired quickstarts' [eval] tables compute: PSNR/SSIM, no downloaded weights."""
    test = _build(plugins, "test", tmp_path / "set")
    night = GeneratorUnderTest("AtoB", "AtoB", torch.nn.Identity())
    day = GeneratorUnderTest("BtoA", "BtoA", torch.nn.Identity())
    result = evaluate_generators([night, day], test, [MetricSpec("psnr", {}), MetricSpec("ssim", {})],
                                 plugins.registry, device="cpu")
    assert set(result.values) == {"AtoB/psnr", "AtoB/ssim", "BtoA/psnr", "BtoA/ssim"}
    assert all(np.isfinite(v) for v in result.values.values()) and result.values["AtoB/psnr"] < 15
    assert result.protocol["generators"]["AtoB"]["target_key"] == "truth_B"


@pytest.mark.parametrize("recipe", ["quickstart_unpaired", "quickstart_cut"])
def test_the_unpaired_quickstarts_print_a_full_reference_score(recipe):
    table = tomllib.loads((ROOT / "recipes" / f"{recipe}.toml").read_text())
    assert table["data"]["name"] == "synthetic_unpaired"
    assert {"psnr", "ssim"} <= set(table["eval"]["metrics"]) and table["eval"]["split"] == "test"


def test_without_ground_truth_the_set_stays_unpaired(plugins, tmp_path):
    test = _build(plugins, "test", tmp_path / "set", ground_truth=False)
    assert not test.info.aligned and test.info.keys_for("AtoB") == ("A", "B") and "truth_B" not in test[(0, 0)]
    assert not (tmp_path / "set" / "testA_night").exists() and test.info.domains == ("day", "night")
