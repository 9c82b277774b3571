"""Batch augmentation on the device (translate.data.device_augment, kornia): the same parameters for the
images of one item, different ones across items, determinism under the run seed, a training run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.data.device_augment import DeviceAugment, device_augmentation
from translate.data.options import DeviceAugmentOptions, FixedSizeOptions
from translate.errors import RecipeError

GAIN = torch.tensor([0.5, -0.8, 0.25]).view(1, 3, 1, 1)
OFFSET = torch.tensor([0.1, 0.0, -0.6]).view(1, 3, 1, 1)


def related(x: torch.Tensor) -> torch.Tensor:
    """A target that is an affine function of the input, pixel by pixel (1 -> 3 channels, within [-1, 1])."""
    return GAIN * x + OFFSET


def smooth_batch(n: int = 6, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random (N, 1, H, W) images in [-1, 1] with structure (no two items alike, not flip-symmetric)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)


def augment(options: dict, channels: dict | None = None, seed: int = 0, rank: int = 0) -> DeviceAugment:
    return DeviceAugment(DeviceAugmentOptions.model_validate(options), channels or {"input": 1, "target": 3},
                         seed=seed, rank=rank)


def test_input_and_target_get_the_same_parameters_and_items_their_own() -> None:
    x = smooth_batch()
    batch = {"input": x, "target": related(x), "name": [f"n{i}" for i in range(len(x))]}
    aug = augment({"flip": True, "vflip": True, "crop_scale": [0.3, 0.6]})
    out = aug(batch, epoch=0, index=0)
    assert out["name"] == batch["name"] and out["input"].shape == x.shape and out["target"].shape == (6, 3, 32, 32)
    # crop (bilinear) and flips commute with an affine per-pixel map: the relation holds after augmentation
    assert torch.allclose(out["target"], related(out["input"]), atol=1e-5)
    assert not torch.allclose(out["input"], x, atol=1e-2)  # something happened
    # the same image in every item: each item gets its own crop/flip
    same = {"input": x[:1].repeat(6, 1, 1, 1), "target": related(x[:1]).repeat(6, 1, 1, 1)}
    got = aug(same, epoch=0, index=1)["input"]
    assert len({tuple(got[i].flatten()[:64].tolist()) for i in range(6)}) == 6
    assert torch.allclose(aug(same, epoch=0, index=1)["target"], related(got), atol=1e-5)


def test_colour_jitter_is_the_same_on_both_images() -> None:
    rgb = torch.rand(4, 3, 16, 16) * 2 - 1
    aug = augment({"flip": False, "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1},
                  {"input": 3, "target": 3})
    out = aug({"input": rgb, "target": rgb.clone()}, epoch=2, index=7)
    assert torch.equal(out["input"], out["target"])
    assert (out["input"] - rgb).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # every item jittered
    per_item = [(out["input"][i] - rgb[i]).abs().mean().item() for i in range(4)]
    assert len({round(v, 6) for v in per_item}) == 4  # with its own factors
    assert out["input"].min() >= -1 and out["input"].max() <= 1


def test_colour_jitter_refused_for_images_of_different_kinds() -> None:
    with pytest.raises(RecipeError, match=r"data.options.device_augment: colour jitter .* input 1, target 3"):
        augment({"brightness": 0.2})
    with pytest.raises(RecipeError, match="saturation and hue need colour images"):
        augment({"saturation": 0.2}, {"input": 1, "target": 1})
    augment({"brightness": 0.2, "contrast": 0.1}, {"input": 1, "target": 1})  # grey pairs: fine


def test_determinism_under_the_run_seed_and_the_global_rng_untouched() -> None:
    x = smooth_batch()
    batch = {"input": x, "target": related(x)}
    options = {"crop_scale": [0.4, 0.9]}
    state = torch.get_rng_state()
    first = augment(options, seed=11)(batch, epoch=1, index=3)["input"]
    assert torch.equal(torch.get_rng_state(), state)  # dropout's RNG is not consumed
    assert torch.equal(augment(options, seed=11)(batch, epoch=1, index=3)["input"], first)
    for other in (augment(options, seed=12)(batch, 1, 3), augment(options, seed=11)(batch, 1, 4),
                  augment(options, seed=11)(batch, 2, 3), augment(options, seed=11, rank=1)(batch, 1, 3)):
        assert not torch.allclose(other["input"], first)


def test_options_validation_and_the_default_is_off() -> None:
    with pytest.raises(ValidationError, match="crop_scale must be"):
        DeviceAugmentOptions.model_validate({"crop_scale": [0.9, 0.5]})
    with pytest.raises(ValidationError, match="hue"):
        DeviceAugmentOptions.model_validate({"hue": 0.7})
    with pytest.raises(ValidationError, match="flips"):
        DeviceAugmentOptions.model_validate({"flips": True})
    off = device_augmentation(FixedSizeOptions.model_validate({}), {"input": 3, "target": 3}, seed=0)
    batch = {"input": torch.zeros(1, 3, 8, 8)}
    assert off(batch, 0, 0) is batch
    on = device_augmentation(FixedSizeOptions.model_validate({"device_augment": {"vflip": True}}),
                             {"input": 3, "target": 3}, seed=0)
    assert isinstance(on, DeviceAugment) and on.options.vflip and on.options.flip


def test_training_run_applies_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from translate.engine.trainer import train

    seen: list[tuple[int, int]] = []
    real = DeviceAugment.__call__

    def spy(self: DeviceAugment, batch: dict, epoch: int, index: int) -> dict:
        out = real(self, batch, epoch, index)
        assert out["input"].shape == batch["input"].shape and not torch.equal(out["input"], batch["input"])
        seen.append((epoch, index))
        return out

    monkeypatch.setattr(DeviceAugment, "__call__", spy)
    text = PIX2PIX.replace('image_size = 32\n', 'image_size = 32\nflip = false\n\n'
                           '[data.options.device_augment]\ncrop_scale = [0.5, 0.9]\nbrightness = 0.3\n')
    recipe = write_recipe(text, tmp_path / "aug.toml", data=tmp_path / "shapes", run=tmp_path / "run")
    result = train(recipe, max_steps=4, overrides=['train.cpu=true'])
    assert result.step == 4 and result.model_path is not None and result.model_path.is_file()
    # the speed calibration times the first batch as the loop will see it, (0, 0), before the loop does
    assert seen == [(0, 0), (0, 0), (0, 1), (0, 2), (0, 3)]
    assert "device_augment" in (tmp_path / "run" / "recipe.toml").read_text()


def test_jitter_on_a_grey_to_colour_recipe_is_a_recipe_error() -> None:
    from translate.plugin.loading import load_plugins
    from translate.recipe import load_recipe

    recipe = Path(__file__).resolve().parents[3] / "recipes" / "quickstart_colorization.toml"
    registry = load_plugins(strict=True).registry
    with pytest.raises(RecipeError, match=r"data.options: device_augment: colour jitter .* input_channels is 1"):
        load_recipe(recipe, ["data.options.device_augment={brightness=0.2}"], registry)
    parsed, _ = load_recipe(recipe, ["data.options.device_augment={crop_scale=[0.5, 1.0]}"], registry)
    assert parsed.data.options["device_augment"]["crop_scale"] == [0.5, 1.0]


def test_images_of_different_sizes_are_refused() -> None:
    from translate.errors import DataError

    aug = augment({"crop_scale": [0.5, 1.0]}, {"input": 3, "target": 3})
    with pytest.raises(DataError, match="one size to share a crop and flip, but the batch has input 16x16, "
                                        "target 64x64"):
        aug({"input": torch.zeros(2, 3, 16, 16), "target": torch.zeros(2, 3, 64, 64)}, 0, 0)
