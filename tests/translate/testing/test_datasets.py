"""``translate.testing.check_dataset``: a correct data set passes (the built-in ones too), and each contract
breach a plugin author makes is named."""

from __future__ import annotations

import dataclasses
import random
from typing import Any, Literal

import pytest
import torch
from pydantic import Field

import translate
from translate.testing import check_component, check_dataset, load_registry_with

Bug = Literal["none", "no_info", "no_translations", "unknown_key", "channels", "range", "dtype", "unseeded",
              "int_key", "no_index_error", "size", "direction", "no_name", "file_formats", "seed_overflow"]


class PairsOptions(translate.Options):
    root: str = Field("unused", description="where the pairs would live")
    bug: Bug = Field("none", description="which contract breach to make")
    image_size: int = Field(16, ge=4, description="training crop side")


class Pairs:
    """A paired data set of random images, with one contract breach chosen by ``bug``."""

    def __init__(self, options: PairsOptions, *, split: str) -> None:
        self.bug, self.size = options.bug, options.image_size
        self.channels = {"input": 1, "target": 3}
        info = translate.DataInfo(image_size=self.size, direction="AtoB", folder="pairs",
                                  translations=(("AtoB", "input", "target"),), aligned=True)
        if self.bug == "no_translations":
            info = dataclasses.replace(info, translations=())
        elif self.bug == "unknown_key":
            info = dataclasses.replace(info, translations=(("AtoB", "input", "photo"),))
        elif self.bug == "direction":
            info = dataclasses.replace(info, direction="BtoA")
        elif self.bug == "file_formats":
            info = dataclasses.replace(info, file_formats=(("A", "png", 3),))
        if self.bug != "no_info":
            self.info = info

    def __len__(self) -> int:
        return 3

    def __getitem__(self, key: Any) -> dict[str, Any]:
        if self.bug == "int_key" and not isinstance(key, tuple):
            raise TypeError("keys are (index, seed)")
        resolve = translate.split_key if self.bug == "no_index_error" else lambda k: translate.resolve_key(k, len(self))
        index, seed = resolve(key)
        if self.bug == "unseeded":
            seed = random.randrange(1 << 30)
        if self.bug == "seed_overflow":
            seed = seed * 7919 + index  # overflows torch's seed for the engine's 63-bit seeds
        g = torch.Generator().manual_seed(seed)
        side = self.size + 2 if self.bug == "size" else self.size
        x = torch.rand(1 if self.bug != "channels" else 2, side, side, generator=g) * 2 - 1
        y = torch.rand(3, side, side, generator=g) * (4 if self.bug == "range" else 2) - 1
        item = {"input": x.double() if self.bug == "dtype" else x, "target": y, "name": f"pair{index}"}
        if self.bug == "no_name":
            del item["name"]
        return item


class PairsPlugin:
    @translate.hookimpl
    def register_datasets(self, register):
        register("pairs", Pairs, options=PairsOptions, description="random pairs", folder_option="root")


@pytest.fixture(scope="module")
def registry():
    return load_registry_with(PairsPlugin())


def test_a_correct_data_set_passes(registry):
    dataset = check_dataset(registry, "pairs", paired=True)
    assert dataset.info.aligned and dataset.channels == {"input": 1, "target": 3}
    assert check_component(registry.get("dataset", "pairs")).info.folder == "pairs"  # check_component routes here


@pytest.mark.parametrize("bug, message", [
    ("no_info", r"`info` must be a translate.DataInfo"),
    ("no_translations", r"DataInfo.translations is empty, so `translate eval`"),
    ("unknown_key", r"names the image key 'photo', which the items do not hold"),
    ("channels", r"\['input'\] is torch.float32 \(2, 16, 16\), expected float32 \(1, H, W\)"),
    ("range", r"\['target'\] has values outside \[-1, 1\]"),
    ("dtype", r"\['input'\] is torch.float64"),
    ("unseeded", r"gave two different items; every random choice must come from the key's seed"),
    ("int_key", r"a plain int key failed"),
    ("no_index_error", r"index 3 \(past the end\)"),
    ("size", r"is 18x18, but DataInfo says image_size=16"),
    ("direction", r"DataInfo.direction is 'BtoA', but translations cover only AtoB"),
    ("no_name", r"has no string 'name'"),
    ("file_formats", r"DataInfo.file_formats entry \('A', 'png', 3\)"),
    ("seed_overflow", r"raised ValueError: Overflow .*seeds are ints from 0 to 2\*\*63 - 1"),
])
def test_each_breach_is_named(registry, bug, message):
    with pytest.raises(AssertionError, match=message):
        check_dataset(registry, "pairs", options={"bug": bug})


def test_paired_is_checked_against_aligned(registry):
    with pytest.raises(AssertionError, match=r"DataInfo.aligned is True, but the test says the data is unpaired"):
        check_dataset(registry, "pairs", paired=False)


def test_a_training_only_data_set_may_leave_translations_out(registry):
    check_dataset(registry, "pairs", options={"bug": "no_translations"}, evaluable=False)


def test_folder_sets_the_folder_option(registry, tmp_path):
    seen = []

    class Spy(PairsPlugin):
        @translate.hookimpl
        def register_datasets(self, register):
            def build(options, *, split):
                seen.append(options.root)
                return Pairs(options, split=split)
            register("spy", build, options=PairsOptions, folder_option="root")
            register("nofolder", Pairs, options=PairsOptions)

    spies = load_registry_with(Spy())
    check_dataset(spies, "spy", folder=tmp_path)
    assert seen == [str(tmp_path)]
    with pytest.raises(AssertionError, match="registered no folder_option"):
        check_dataset(spies, "nofolder", folder=tmp_path)


@pytest.mark.parametrize("name, paired", [("synthetic_shapes", True), ("synthetic_unpaired", False)])
def test_the_built_in_generated_sets_pass(name, paired, tmp_path):
    registry = load_registry_with(installed=True)
    dataset = check_dataset(registry, name, folder=tmp_path / name, paired=paired)
    assert dataset.info.translations
