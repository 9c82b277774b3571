"""Core building blocks for data set plugins: translate.data.generated, translate.data.options, resolve_key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import Field, ValidationError

from translate.data.contract import resolve_key
from translate.data.generated import ensure_generated, is_complete, read_manifest
from translate.data.options import AugmentOptions, FixedSizeOptions, GeneratedOptions
from translate.data.shapes import SHAPE_KINDS, shape_mask
from translate.errors import DataError

PARAMS = {"generator_version": 1, "seed": 0, "count": 2}
EXPECTED = {"train": 2, "val": 1}


class _Writer:
    """A ``generate`` callback that writes tiny PNGs and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, folder: Path) -> None:
        self.calls += 1
        assert folder.is_dir() and not any(folder.iterdir())  # a fresh temporary folder
        for sub, n in EXPECTED.items():
            (folder / sub).mkdir()
            for i in range(n):
                Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(folder / sub / f"{i}.png")


def _ensure(root: Path, writer: _Writer, params: dict = PARAMS) -> bool:
    return ensure_generated(root, params, dataset="tiny", expected=EXPECTED, generate=writer)


def test_generates_once_then_reuses(tmp_path):
    root, writer = tmp_path / "sets" / "tiny", _Writer()
    assert _ensure(root, writer) is True
    assert json.loads((root / "manifest.json").read_text()) == {"dataset": "tiny", **PARAMS}
    assert list(json.loads((root / "manifest.json").read_text()))[0] == "dataset"
    assert read_manifest(root) == {"dataset": "tiny", **PARAMS}
    assert is_complete(root, {"dataset": "tiny", **PARAMS}, EXPECTED)
    assert _ensure(root, writer) is False and writer.calls == 1
    assert sorted(p.name for p in root.parent.iterdir()) == ["tiny"]  # no temporary folder left


def test_generating_says_so_before_and_after_and_reuse_is_quiet(tmp_path, capsys):
    """The seconds of generation at the start of a quickstart are announced, not silent."""
    root, writer = tmp_path / "tiny", _Writer()
    _ensure(root, writer)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"generating data set tiny into {root} (first use: 3 images) ..."
    assert out[1].startswith("generated tiny in ") and out[1].endswith(" s") and len(out) == 2
    _ensure(root, writer)
    assert capsys.readouterr().out == ""
    _ensure(root, writer, {**PARAMS, "seed": 1})
    assert capsys.readouterr().out.startswith(f"generating data set tiny into {root} (parameters changed: 3 images)")


def test_regenerates_when_parameters_change_or_files_are_missing(tmp_path):
    root, writer = tmp_path / "tiny", _Writer()
    _ensure(root, writer)
    assert _ensure(root, writer, {**PARAMS, "seed": 1}) is True
    assert read_manifest(root)["seed"] == 1
    (root / "val" / "0.png").unlink()
    assert _ensure(root, writer, {**PARAMS, "seed": 1}) is True and (root / "val" / "0.png").is_file()
    assert writer.calls == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


def test_never_replaces_a_foreign_folder(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep")
    with pytest.raises(DataError, match="mine exists but is not a tiny folder .* choose another root for tiny"):
        _ensure(root, _Writer())
    assert (root / "notes.txt").read_text() == "keep"
    (root / "manifest.json").write_text(json.dumps({"dataset": "other"}))  # another set's folder
    with pytest.raises(DataError, match="not a tiny folder"):
        _ensure(root, _Writer())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _ensure(empty, _Writer()) is True  # an empty folder is fine


def test_a_failing_generator_leaves_nothing_behind(tmp_path):
    def fail(folder: Path) -> None:
        (folder / "train").mkdir()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ensure_generated(tmp_path / "tiny", PARAMS, dataset="tiny", expected=EXPECTED, generate=fail)
    assert list(tmp_path.iterdir()) == []


def test_keeps_a_set_that_another_process_swapped_in_meanwhile(tmp_path):
    root = tmp_path / "tiny"
    other = _Writer()

    def racing(folder: Path) -> None:
        # another process finishes first: root appears, complete, while we generate
        _ensure(root, other)
        stamp.append((root / "manifest.json").stat().st_mtime_ns)
        _Writer()(folder)

    stamp: list[int] = []
    assert ensure_generated(root, PARAMS, dataset="tiny", expected=EXPECTED, generate=racing) is True
    assert other.calls == 1 and (root / "manifest.json").stat().st_mtime_ns == stamp[0]  # theirs was kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


@pytest.mark.parametrize("kind", SHAPE_KINDS)
def test_shape_masks_are_filled_and_within_reach(kind):
    dy, dx = np.mgrid[-1.5:1.5:301j, -1.5:1.5:301j]
    for theta in (0.0, 0.7, 2.0):
        mask = shape_mask(kind, dx, dy, theta)
        assert mask.shape == dx.shape and mask[150, 150]  # the centre is inside
        assert 0.1 < mask.mean() < 0.4 and np.hypot(dx, dy)[mask].max() <= 1.1
    with pytest.raises(ValueError, match="unknown shape kind 'star'"):
        shape_mask("star", dx, dy, 0.0)


# --------------------------------------------------------------------------- data_options


class _Folder(FixedSizeOptions):
    root: str = Field(description="data folder")


class _Generated(GeneratedOptions):
    root: str = Field("data/x", description="where the generated files go")


def test_augment_options_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        AugmentOptions()


def test_fixed_and_generated_sizes():
    folder = _Folder(root="x")
    assert folder.resolved_sizes() == (286, 256)
    aug = folder.augment("train")
    assert (aug.preprocess, aug.load_size, aug.crop_size, aug.flip, aug.train) == ("resize_and_crop", 286, 256, True, True)
    assert folder.augment("val").train is False
    assert _Generated().resolved_sizes() == (72, 64)
    assert _Generated(image_size=32, crop_size=16).resolved_sizes() == (36, 16)
    assert _Generated(image_size=32, load_size=40).augment("test").load_size == 40


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        (_Folder, {"root": "x", "load_size": 100, "crop_size": 128}, r"crop_size \(128\) must not exceed load_size \(100\)"),
        (_Folder, {"root": "x", "crop_size": 250, "size_multiple": 4}, "must be a multiple of size_multiple"),
        (_Generated, {"image_size": 64, "load_size": 32}, r"crop_size \(64\) must not exceed load_size \(32\)"),
        (_Folder, {"root": "x", "input_channels": 65}, "input_channels"),
        (_Folder, {"root": "x", "preprocess": "zoom"}, "preprocess"),
    ],
)
def test_size_rules(model, options, message):
    with pytest.raises(ValidationError, match=message):
        model(**options)
    assert _Folder(root="x", preprocess="none", crop_size=250, size_multiple=4).crop_size == 250


def test_data_options_and_generated_do_not_import_heavy_modules():
    code = (
        "import sys, translate.data.options, translate.data.generated, translate.data.contract; "
        "heavy = [m for m in ('torch', 'albumentations', 'cv2') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


# --------------------------------------------------------------------------- resolve_key


def test_resolve_key():
    assert resolve_key(3, 5) == (3, 3)
    assert resolve_key((1, 99), 5) == (1, 99)
    assert resolve_key((-1, 7), 5) == (4, 7)
    for key in (5, (-6, 0)):
        with pytest.raises(IndexError, match="out of range for 5 items"):
            resolve_key(key, 5)
