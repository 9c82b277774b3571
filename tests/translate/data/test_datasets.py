"""Built-in data sets: paired_ab, paired_folders, synthetic_shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translate.errors import DataError
from translate.plugin.loading import get_registry
from translate.plugin.registry import OptionsInvalid

EXACT = {"preprocess": "none", "flip": False}  # items equal the files


def _build(name: str, split: str = "train", **options):
    return get_registry().get("dataset", name).build(options, split=split)


def _rgb(seed: int, h: int = 16, w: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _as_tensor(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(u8.astype(np.float32) / 255.0).permute(2, 0, 1) * 2 - 1


@pytest.fixture
def ab_root(tmp_path: Path) -> tuple[Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    root = tmp_path / "facades"
    pairs = {}
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        for i in range(3):
            a, b = _rgb(i), _rgb(100 + i)
            Image.fromarray(np.concatenate([a, b], axis=1)).save(root / split / f"{i}.png")
            pairs[f"{i}"] = (a, b)
    return root, pairs


def test_paired_ab_splits_a_and_b(ab_root):
    root, pairs = ab_root
    ds = _build("paired_ab", root=str(root), **EXACT)
    assert len(ds) == 3 and ds.channels == {"input": 3, "target": 3}
    item = ds[(1, 99)]
    assert item["name"] == "1"
    a, b = pairs["1"]
    torch.testing.assert_close(item["input"], _as_tensor(a))
    torch.testing.assert_close(item["target"], _as_tensor(b))
    swapped = _build("paired_ab", root=str(root), direction="BtoA", **EXACT)[1]
    torch.testing.assert_close(swapped["input"], _as_tensor(b))
    torch.testing.assert_close(swapped["target"], _as_tensor(a))


def test_paired_ab_channels_and_max_items(ab_root):
    root, _ = ab_root
    ds = _build("paired_ab", root=str(root), input_channels=1, output_channels=4, max_items=2, **EXACT)
    assert len(ds) == 2 and ds.channels == {"input": 1, "target": 4}
    item = ds[0]
    assert item["input"].shape == (1, 16, 16) and item["target"].shape == (4, 16, 16)
    assert item["input"].dtype == torch.float32 and item["target"][3].min() == 1.0


def test_items_follow_the_seed(ab_root):
    root, _ = ab_root
    ds = _build("paired_ab", root=str(root), load_size=20, crop_size=16)
    assert torch.equal(ds[(0, 5)]["input"], ds[(0, 5)]["input"])
    assert torch.equal(ds[2]["input"], ds[(2, 2)]["input"])
    assert len({ds[(0, s)]["input"].numpy().tobytes() for s in range(6)}) > 2
    val = _build("paired_ab", "val", root=str(root), load_size=20, crop_size=16)
    assert val[(0, 1)]["input"].shape == (3, 16, 16)
    assert torch.equal(val[(0, 1)]["input"], val[(0, 2)]["input"])  # eval: no randomness
    with pytest.raises(IndexError):
        ds[3]


def test_odd_width_names_the_file(tmp_path):
    (tmp_path / "train").mkdir()
    Image.fromarray(_rgb(0, 8, 9)).save(tmp_path / "train" / "odd_one.png")
    ds = _build("paired_ab", root=str(tmp_path), **EXACT)
    with pytest.raises(DataError, match="odd_one.png.*width 9"):
        ds[0]


def test_missing_root_says_how_to_get_data(tmp_path):
    with pytest.raises(DataError, match="translate data download facades") as err:
        _build("paired_ab", root=str(tmp_path / "facades"))
    assert "synthetic_shapes" in str(err.value) and str(tmp_path / "facades" / "train") in str(err.value)
    (tmp_path / "maps" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        _build("paired_ab", root=str(tmp_path / "maps"))


def test_options_are_strict():
    comp = get_registry().get("dataset", "paired_ab")
    with pytest.raises(OptionsInvalid, match="crop_size"):
        comp.parse_options({"root": "x", "load_size": 64, "crop_size": 128}, "dataset.options")
    with pytest.raises(OptionsInvalid, match="colour"):
        comp.parse_options({"root": "x", "colour": True}, "dataset.options")
    with pytest.raises(OptionsInvalid, match="input_channels"):
        comp.parse_options({"root": "x", "input_channels": 65}, "dataset.options")  # 1 to 64


def _folders(base: Path, a_names: list[str], b_names: list[str]) -> None:
    for side, names in (("A", a_names), ("B", b_names)):
        (base / side).mkdir(parents=True, exist_ok=True)
        for i, n in enumerate(names):
            Image.fromarray(_rgb(i + (0 if side == "A" else 50))).save(base / side / n)


def test_paired_folders_matches_by_stem(tmp_path):
    _folders(tmp_path / "train", ["x.png", "y.png"], ["y.bmp", "x.bmp"])
    ds = _build("paired_folders", root=str(tmp_path), **EXACT)
    assert [ds[i]["name"] for i in range(len(ds))] == ["x", "y"]
    torch.testing.assert_close(ds[0]["input"], _as_tensor(_rgb(0)))
    torch.testing.assert_close(ds[0]["target"], _as_tensor(_rgb(51)))  # x.bmp is the 2nd B file


def test_paired_folders_without_split_folders(tmp_path):
    _folders(tmp_path, ["p.png"], ["p.png"])
    assert len(_build("paired_folders", "val", root=str(tmp_path), **EXACT)) == 1


def test_paired_folders_mismatch_lists_names(tmp_path):
    _folders(tmp_path / "train", ["a.png", "b.png", "only_in_a.png"], ["a.png", "b.png", "only_in_b.png"])
    with pytest.raises(DataError) as err:
        _build("paired_folders", root=str(tmp_path))
    assert "only_in_a" in str(err.value) and "only_in_b" in str(err.value)


def test_paired_folders_size_mismatch_names_the_item(tmp_path):
    _folders(tmp_path / "train", ["k.png"], [])
    Image.fromarray(_rgb(0, 16, 12)).save(tmp_path / "train" / "B" / "k.png")
    with pytest.raises(DataError, match="'k'"):
        _build("paired_folders", root=str(tmp_path), **EXACT)[0]


# ---------------------------------------------------------------- synthetic_shapes

SMALL = {"count": 6, "val_count": 2, "test_count": 2, "image_size": 32}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_shapes_generation_is_deterministic(tmp_path):
    one, two, other = tmp_path / "one", tmp_path / "two", tmp_path / "other"
    ds = _build("synthetic_shapes", root=str(one), **SMALL)
    _build("synthetic_shapes", root=str(two), **SMALL)
    _build("synthetic_shapes", root=str(other), seed=1, **SMALL)
    files = _files(one)
    assert len([k for k in files if k.startswith("train/")]) == 6
    assert len([k for k in files if k.startswith("test_inputs/")]) == 2
    assert len([k for k in files if k.startswith("test/")]) == 2
    test_pair = np.asarray(Image.open(one / "test" / "00001.png"))
    assert (test_pair[:, :32] == np.asarray(Image.open(one / "test_inputs" / "00001.png"))).all()  # the same A
    assert len(_build("synthetic_shapes", "test", root=str(one), **SMALL)) == 2
    assert files == _files(two)
    assert files["train/00000.png"] != _files(other)["train/00000.png"]
    assert len(ds) == 6 and ds.channels == {"input": 3, "target": 3}
    item = ds[(0, 3)]
    assert item["input"].shape == (3, 32, 32) and item["target"].shape == (3, 32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "other", "two"]  # no temp folders left


def test_shapes_regenerate_when_parameters_change(tmp_path):
    root = tmp_path / "shapes"
    _build("synthetic_shapes", root=str(root), **SMALL)
    stamp = (root / "train" / "00000.png").stat().st_mtime_ns
    _build("synthetic_shapes", "val", root=str(root), **SMALL)  # same parameters: reused
    assert (root / "train" / "00000.png").stat().st_mtime_ns == stamp
    _build("synthetic_shapes", root=str(root), **{**SMALL, "count": 4})
    assert json.loads((root / "manifest.json").read_text())["count"] == 4
    assert len(list((root / "train").iterdir())) == 4
    (root / "val" / "00001.png").unlink()  # incomplete: regenerated
    _build("synthetic_shapes", root=str(root), **{**SMALL, "count": 4})
    assert (root / "val" / "00001.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shapes"]


def test_shapes_never_overwrite_foreign_folders(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep")
    with pytest.raises(DataError, match="not a synthetic_shapes folder"):
        _build("synthetic_shapes", root=str(tmp_path / "mine"), **SMALL)
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep"
    with pytest.raises(DataError, match="'train', 'val' and 'test'"):
        _build("synthetic_shapes", "tset", root=str(tmp_path / "s"), **SMALL)


def test_shapes_a_is_an_edge_drawing_of_b(tmp_path):
    root = tmp_path / "shapes"
    _build("synthetic_shapes", root=str(root), **{**SMALL, "image_size": 64})
    pair = np.asarray(Image.open(root / "train" / "00003.png")).astype(np.float32) / 255
    a, b = pair[:, :64], pair[:, 64:]
    assert a.shape == b.shape == (64, 64, 3)
    dark = a.mean(axis=2) < 0.5
    assert 0.01 < dark.mean() < 0.2  # mostly white, some dark lines
    assert (a.max(axis=2) - a.min(axis=2)).max() == 0  # grey lines
    gray = b @ np.array([0.299, 0.587, 0.114], np.float32)
    padded = np.pad(gray, 1, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    contrast = windows.max(axis=(2, 3)) - windows.min(axis=(2, 3))
    assert (contrast[dark] > 0.1).mean() > 0.9  # the lines sit on B's outlines
    assert dark[contrast < 0.02].mean() < 0.01  # flat regions have no lines
    colours = b[~dark & (np.abs(b - b[0, 0]).sum(axis=2) > 0.2)]
    assert len(colours) > 100 and np.ptp(colours, axis=0).max() > 0.3  # filled, coloured, shaded shapes
    test_a = np.asarray(Image.open(root / "test_inputs" / "00000.png"))
    assert test_a.shape == (64, 64, 3)
