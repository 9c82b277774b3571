"""Data faults (issue 8): generated sets are written a chunk at a time, unreadable files follow the
``data.on_bad_file`` policy the same way with and without DataLoader workers, and paired images of
different sizes are resized by the resizing modes (refused, with the option to set, otherwise)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from translate.data.augment import PairedAugment
from translate.data.contract import BadDataFile, BadFileGuard, guard_bad_files
from translate.errors import DataError
from translate.plugin.loading import get_registry
from translate_datasets import shapes as shapes_module

for _module in ("albumentations", "cv2"):  # imported here once: forked DataLoader workers need not import them
    importlib.import_module(_module)


def _build(name: str, options: dict[str, Any], split: str = "train") -> Any:
    return get_registry().get("dataset", name).build(options, split=split)


def _png(path: Path, width: int, height: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _names(dataset: Any, workers: int) -> list[str]:
    iterator = iter(torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=workers))
    try:
        return [name for batch in iterator for name in batch["name"]]
    finally:
        # after a worker's error the iterator sits in a reference cycle (PyTorch's reraise) and would
        # be shut down by the garbage collector, slowly (its queues are finalised first): do it now
        getattr(iterator, "_shutdown_workers", lambda: None)()


def _error(dataset: Any, workers: int) -> str:
    with pytest.raises(DataError) as info:
        _names(dataset, workers)
    return str(info.value)


# --------------------------------------------------------------------------- streaming generation


def _shapes(folder: Path, **params: int) -> dict[str, bytes]:
    base = {"generator_version": 1, "seed": 5, "count": 7, "val_count": 2, "test_count": 3, "image_size": 16}
    shapes_module.write_shapes(folder, {**base, **params})
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def test_shapes_chunking_does_not_change_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _shapes(tmp_path / "whole")
    monkeypatch.setattr(shapes_module, "CHUNK", 3)
    chunked = _shapes(tmp_path / "chunked")
    assert len(whole) == 7 + 2 + 3 + 3 and whole == chunked  # train, val, test pairs, test inputs


def test_shapes_are_written_a_chunk_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never more than CHUNK images in memory, and each chunk is on disk before the next is made."""
    seen: list[tuple[int, int]] = []
    edges = shapes_module.edge_drawings
    train = tmp_path / "set" / "train"

    def spy(b: np.ndarray) -> np.ndarray:
        seen.append((len(b), len(list(train.glob("*.png"))) if train.is_dir() else 0))
        return edges(b)

    monkeypatch.setattr(shapes_module, "CHUNK", 4)
    monkeypatch.setattr(shapes_module, "edge_drawings", spy)
    _shapes(tmp_path / "set", count=10, val_count=1, test_count=0)
    assert seen[:3] == [(4, 0), (4, 4), (2, 8)]  # train: 4 + 4 + 2, written as they come
    assert max(n for n, _ in seen) <= 4 == shapes_module.CHUNK
    assert shapes_module.CHUNK == 4 and len(list(train.glob("*.png"))) == 10


# --------------------------------------------------------------------------- data.on_bad_file


@pytest.fixture
def ab_root(tmp_path: Path) -> Path:
    """paired_ab data: six 16x16 | 16x16 pairs, the third truncated."""
    for i in range(6):
        _png(tmp_path / "train" / f"{i}.png", 32, 16, i)
    _truncate(tmp_path / "train" / "2.png")
    return tmp_path


def _ab(root: Path) -> Any:
    return _build("paired_ab", {"root": str(root), "load_size": 16, "crop_size": 16})


def test_stop_names_the_file_in_one_line_with_and_without_workers(ab_root: Path) -> None:
    guarded = guard_bad_files(_ab(ab_root), "stop")
    messages = {_error(guarded, workers) for workers in (0, 2)}
    assert len(messages) == 1, messages
    (message,) = messages
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"cannot read image {ab_root / 'train' / '2.png'}: ")
    assert 'data.on_bad_file = "skip"' in message


def test_without_the_guard_a_worker_error_carries_the_traceback(ab_root: Path) -> None:
    """What the guard fixes: PyTorch re-raises a worker's error with the worker's traceback."""
    message = _error(_ab(ab_root), 2)
    assert "Traceback" in message and "\n" in message


def test_skip_serves_the_next_item_the_same_way_and_counts(ab_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for workers in (0, 2):
        guarded = guard_bad_files(_ab(ab_root), "skip")
        runs.append(_names(guarded, workers))
        assert guarded.skipped == 1  # counted across the worker processes too
    assert runs[0] == runs[1] == ["0", "1", "3", "3", "4", "5"]
    assert "warning: skipped a data item (1 so far): cannot read image" in capsys.readouterr().err


def test_skip_gives_up_when_nothing_loads(tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / "train" / f"{i}.png", 32, 16, i)
    dataset = _ab(tmp_path)
    for i in range(3):
        _truncate(tmp_path / "train" / f"{i}.png")
    guarded = guard_bad_files(dataset, "skip")
    with pytest.raises(BadDataFile, match=r'data.on_bad_file = "skip": item 1 and the 2 items after it cannot be loaded'):
        guarded[(1, 7)]
    assert guarded.skipped == 3


def test_guard_keeps_the_data_set_interface(ab_root: Path) -> None:
    dataset = _ab(ab_root)
    guarded = guard_bad_files(dataset, "skip")
    assert isinstance(guarded, BadFileGuard) and len(guarded) == 6
    assert guarded.channels == dataset.channels and guarded.info == dataset.info and guarded.names == dataset.names
    assert torch.equal(guarded[(1, 9)]["input"], dataset[(1, 9)]["input"])
    assert guard_bad_files(guarded, "stop").dataset is dataset  # re-guarding does not nest
    with pytest.raises(ValueError, match="on_bad_file"):
        BadFileGuard(dataset, "ignore")  # type: ignore[arg-type]


def test_bad_data_file_unwraps_a_worker_message() -> None:
    worker_text = (
        "Caught BadDataFile in DataLoader worker process 1.\nOriginal Traceback (most recent call last):\n"
        '  File "x.py", line 3, in f\n    raise BadDataFile(msg)\n'
        "translate.data.contract.BadDataFile: cannot read image a.png: broken\n"
    )
    assert str(BadDataFile(worker_text)) == "cannot read image a.png: broken"
    assert str(BadDataFile("Caught nothing")) == "Caught nothing"


def test_paired_folders_and_unpaired_bad_files(tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / "p" / "train" / "A" / f"{i}.png", 16, 16, i)
        _png(tmp_path / "p" / "train" / "B" / f"{i}.png", 16, 16, 10 + i)
        _png(tmp_path / "u" / "trainA" / f"{i}.png", 16, 16, i)
        _png(tmp_path / "u" / "trainB" / f"{i}.png", 16, 16, 10 + i)
    _truncate(tmp_path / "p" / "train" / "B" / "1.png")
    _truncate(tmp_path / "u" / "trainA" / "0.png")
    folders = _build("paired_folders", {"root": str(tmp_path / "p"), "load_size": 16, "crop_size": 16})
    assert str(tmp_path / "p" / "train" / "B" / "1.png") in _error(guard_bad_files(folders), 2)
    assert _names(guard_bad_files(folders, "skip"), 0) == ["0", "2", "2"]
    unpaired = _build("unpaired", {"root": str(tmp_path / "u"), "load_size": 16, "crop_size": 16})
    assert str(tmp_path / "u" / "trainA" / "0.png") in _error(guard_bad_files(unpaired), 0)
    assert _names(guard_bad_files(unpaired, "skip"), 2) == ["1", "1", "2"]


# --------------------------------------------------------------------------- A and B of different sizes


@pytest.fixture
def mixed_root(tmp_path: Path) -> Path:
    """paired_folders data: 48x48 inputs, 144x96 targets."""
    for i in range(2):
        _png(tmp_path / "train" / "A" / f"{i}.png", 48, 48, i)
        _png(tmp_path / "train" / "B" / f"{i}.png", 144, 96, 10 + i)
    return tmp_path


@pytest.mark.parametrize("preprocess", ["resize_and_crop", "resize", "scale_width_and_crop"])
@pytest.mark.parametrize("split", ["train", "val"])
def test_resizing_modes_resize_both_sides(mixed_root: Path, preprocess: str, split: str) -> None:
    if split == "val":
        (mixed_root / "train").rename(mixed_root / "val")
    dataset = _build("paired_folders", {"root": str(mixed_root), "load_size": 36, "crop_size": 32,
                                        "preprocess": preprocess}, split)
    item = dataset[(1, 123)]
    assert item["input"].shape == item["target"].shape == (3, 32, 32)
    assert torch.equal(dataset[(1, 123)]["target"], item["target"])  # seeded as ever


def test_resizing_matches_resizing_each_side_on_its_own() -> None:
    """Without a random step, a target of another size ends up as if it had been resized alone."""
    rng = np.random.default_rng(0)
    small, large = rng.random((48, 48, 3), dtype=np.float32), rng.random((96, 144, 3), dtype=np.float32)
    aug = PairedAugment("resize", crop_size=32, flip=False)
    a, b = aug(small, large, 0)
    assert np.array_equal(a, aug(small, small, 0)[0]) and np.array_equal(b, aug(large, large, 0)[1])


@pytest.mark.parametrize("preprocess", ["crop", "none"])
def test_non_resizing_modes_refuse_and_say_what_to_set(mixed_root: Path, preprocess: str) -> None:
    dataset = _build("paired_folders", {"root": str(mixed_root), "crop_size": 32, "preprocess": preprocess})
    with pytest.raises(DataError) as info:
        dataset[(0, 0)]
    message = str(info.value)
    assert "item '0': input is 48x48 but target is 144x96" in message
    assert f"with preprocess {preprocess!r}" in message
    assert 'set data.options.preprocess = "resize_and_crop"' in message
