"""Unpaired data sets of the CycleGAN plugin (unpaired, synthetic_unpaired) and its data sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import translate
from translate.commands.download import source_of
from translate.data.download import DataSource, extract
from translate.errors import DataError
from translate.plugin.loading import load_plugins

ROOT = Path(__file__).resolve().parents[3]
try:  # installed with the package once its entry point is declared; else straight from the source tree
    import translate_cyclegan  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    sys.path.insert(0, str(ROOT / "plugins"))

from translate_cyclegan import sources as cg_sources  # noqa: E402
from translate_cyclegan.datasets import DATASETS  # noqa: E402
from translate_cyclegan.unpaired import UnpairedDataset  # noqa: E402

EXACT = {"preprocess": "none", "flip": False}  # items equal the files


class _Plugin:
    """A test-local plugin registering this package's data sets and data sources."""

    @translate.hookimpl
    def register_datasets(self, register):
        for name, factory, options, smoke, description in DATASETS:
            register(name, factory, options=options, smoke_options=smoke, description=description)

    @translate.hookimpl
    def register_data_sources(self, register):
        cg_sources.register_sources(register)


@pytest.fixture(scope="module")
def registry():
    plugins = load_plugins(strict=True, extra=[("cg", _Plugin())], entry_points=[])
    assert not plugins.errors
    return plugins.registry


def _build(registry, name: str, split: str = "train", **options):
    return registry.get("dataset", name).build(options, split=split)


def _rgb(seed: int, h: int = 16, w: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _as_tensor(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(u8.astype(np.float32) / 255.0).permute(2, 0, 1) * 2 - 1


def _write(folder: Path, images: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in images.items():
        Image.fromarray(arr).save(folder / f"{stem}.png")


@pytest.fixture
def unpaired_root(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """trainA: 3 images, trainB: 5, testA: 2, testB: 1 (different counts, as CycleGAN sets have)."""
    root = tmp_path / "horse2zebra"
    files: dict[str, np.ndarray] = {}
    for k, (sub, n) in enumerate((("trainA", 3), ("trainB", 5), ("testA", 2), ("testB", 1))):
        images = {f"{sub}_{i}": _rgb(10 * k + i) for i in range(n)}
        _write(root / sub, images)
        files.update(images)
    return root, files


# --------------------------------------------------------------------------- unpaired


def test_layout_counts_and_length(registry, unpaired_root):
    root, files = unpaired_root
    ds = _build(registry, "unpaired", root=str(root), **EXACT)
    assert isinstance(ds, UnpairedDataset)
    assert len(ds) == 5 and ds.channels == {"A": 3, "B": 3}  # max(3, 5)
    for index in range(5):
        item = ds[(index, 7)]
        assert item["name"] == f"trainA_{index % 3}"  # A cycles through its files
        assert item["name_B"].startswith("trainB_")
        torch.testing.assert_close(item["A"], _as_tensor(files[item["name"]]))
        torch.testing.assert_close(item["B"], _as_tensor(files[item["name_B"]]))
        assert item["A"].dtype == torch.float32 and item["A"].shape == (3, 16, 16)
    with pytest.raises(IndexError):
        ds[5]
    assert ds[-1]["name"] == ds[4]["name"]

    val = _build(registry, "unpaired", "val", root=str(root), **EXACT)  # no valA/valB: testA/testB
    test = _build(registry, "unpaired", "test", root=str(root), **EXACT)
    assert len(val) == len(test) == 2
    assert {val[i]["name"] for i in range(2)} == {"testA_0", "testA_1"}
    assert val[0]["name_B"] == "testB_0"

    _write(root / "valA", {"v0": _rgb(1)})
    _write(root / "valB", {"w0": _rgb(2), "w1": _rgb(3), "w2": _rgb(4)})
    val = _build(registry, "unpaired", "val", root=str(root), **EXACT)
    assert len(val) == 3 and val[0]["name"] == "v0" and val[0]["name_B"].startswith("w")

    few = _build(registry, "unpaired", root=str(root), max_items=2, **EXACT)
    assert len(few) == 2 and [p.stem for p in few.files_b] == ["trainB_0", "trainB_1"]


def test_random_pairing_comes_from_the_seed_only(registry, unpaired_root):
    root, _ = unpaired_root
    ds = _build(registry, "unpaired", root=str(root), **EXACT)
    again = _build(registry, "unpaired", root=str(root), **EXACT)  # e.g. after a resume
    for key in [(0, 1), (2, 12345), (4, 2**62 + 17)]:
        first, second = ds[key], again[key]
        assert first["name_B"] == second["name_B"]
        assert torch.equal(first["B"], second["B"])
    assert ds[3]["name_B"] == ds[(3, 3)]["name_B"]  # a plain int key is (index, index)
    # different seeds pick different B images for the same A; the pick does not follow the index
    picks = {ds[(0, seed)]["name_B"] for seed in range(40)}
    assert len(picks) >= 4
    assert {ds[(i, 99)]["name_B"] for i in range(5)} == {ds[(0, 99)]["name_B"]}


def test_serial_batches_pairs_in_order(registry, unpaired_root):
    root, _ = unpaired_root
    ds = _build(registry, "unpaired", root=str(root), serial_batches=True, **EXACT)
    for index in range(5):
        for seed in (0, 1, 999):
            item = ds[(index, seed)]
            assert item["name"] == f"trainA_{index % 3}" and item["name_B"] == f"trainB_{index % 5}"


def test_other_splits_pair_serially_so_sample_rows_differ(registry, unpaired_root):
    """The sample grid's rows (items (i, i) of the val split) show distinct B images."""
    root, _ = unpaired_root
    _write(root / "valA", {f"v{i}": _rgb(40 + i) for i in range(4)})
    _write(root / "valB", {f"w{i}": _rgb(50 + i) for i in range(4)})
    val = _build(registry, "unpaired", "val", root=str(root), **EXACT)
    assert [val[(i, i)]["name_B"] for i in range(4)] == ["w0", "w1", "w2", "w3"]
    assert [val[(0, seed)]["name_B"] for seed in range(5)] == ["w0"] * 5  # the seed does not pick B here


def test_a_and_b_are_augmented_independently(registry, tmp_path):
    root = tmp_path / "same"
    image = _rgb(5, 24, 24)
    _write(root / "trainA", {"x": image})
    _write(root / "trainB", {"x": image})  # the same picture on both sides
    ds = _build(registry, "unpaired", root=str(root), load_size=24, crop_size=16)
    items = [ds[(0, seed)] for seed in range(12)]
    assert all(it["A"].shape == it["B"].shape == (3, 16, 16) for it in items)
    # the same seed for both would give identical crops every time; independent ones mostly differ
    assert sum(not torch.equal(it["A"], it["B"]) for it in items) >= 8
    assert len({it["A"].numpy().tobytes() for it in items}) > 3
    assert torch.equal(ds[(0, 3)]["A"], items[3]["A"]) and torch.equal(ds[(0, 3)]["B"], items[3]["B"])
    # serial pairing changes no augmentation seed
    serial = _build(registry, "unpaired", root=str(root), load_size=24, crop_size=16, serial_batches=True)
    assert torch.equal(serial[(0, 3)]["A"], items[3]["A"]) and torch.equal(serial[(0, 3)]["B"], items[3]["B"])
    # evaluation: deterministic, the same transform for both
    _write(root / "testA", {"x": image})
    _write(root / "testB", {"x": image})
    val = _build(registry, "unpaired", "val", root=str(root), load_size=24, crop_size=16)
    a, b = val[(0, 1)], val[(0, 2)]
    assert torch.equal(a["A"], b["A"]) and torch.equal(a["A"], a["B"]) and a["A"].shape == (3, 16, 16)


def test_channels(registry, unpaired_root):
    root, files = unpaired_root
    ds = _build(registry, "unpaired", root=str(root), input_channels=4, output_channels=1, **EXACT)
    assert ds.channels == {"A": 4, "B": 1}
    item = ds[(1, 3)]
    assert item["A"].shape == (4, 16, 16) and item["B"].shape == (1, 16, 16)
    assert item["A"][3].min() == 1.0  # opaque alpha added
    luma = files[item["name_B"]].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    torch.testing.assert_close(item["B"][0], torch.from_numpy(luma) * 2 - 1, atol=1 / 255, rtol=0)


def test_missing_folders_say_how_to_download(registry, tmp_path):
    root = tmp_path / "apple2orange"
    _write(root / "trainA", {"a": _rgb(0)})
    with pytest.raises(DataError) as err:
        _build(registry, "unpaired", root=str(root))
    message = str(err.value)
    assert str(root / "trainB") in message and str(root / "trainA") not in message
    assert "translate data download apple2orange" in message
    with pytest.raises(DataError, match=r"testA.*testB.*translate data download apple2orange"):
        _build(registry, "unpaired", "val", root=str(root))
    (root / "trainB").mkdir()
    with pytest.raises(DataError, match="no images"):
        _build(registry, "unpaired", root=str(root))


def test_options(registry):
    from translate.plugin.registry import OptionsInvalid
    from translate.testing import check_options_strict

    for name in ("unpaired", "synthetic_unpaired"):
        check_options_strict(registry.get("dataset", name))
    comp = registry.get("dataset", "unpaired")
    with pytest.raises(OptionsInvalid, match="root"):
        comp.parse_options({}, "data.options")
    with pytest.raises(OptionsInvalid, match="crop_size"):
        comp.parse_options({"root": "x", "load_size": 100, "crop_size": 128}, "data.options")
    with pytest.raises(OptionsInvalid, match="output_channels"):
        comp.parse_options({"root": "x", "output_channels": 0}, "data.options")  # 1 to 64
    synthetic = registry.get("dataset", "synthetic_unpaired").parse_options({}, "data.options")
    assert synthetic.resolved_sizes() == (72, 64) and synthetic.root == "data/shapes_unpaired"


def test_options_and_datasets_modules_do_not_import_torch():
    code = (
        "import sys; import translate_cyclegan.datasets, translate_cyclegan.data_options, translate_cyclegan.sources; "
        "heavy = [m for m in ('torch', 'albumentations', 'cv2') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


# --------------------------------------------------------------------------- synthetic_unpaired

SMALL = {"count_a": 6, "count_b": 4, "test_count": 2, "image_size": 32}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_synthetic_generation_is_deterministic(registry, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    ds = _build(registry, "synthetic_unpaired", root=str(a), seed=3, **SMALL)
    _build(registry, "synthetic_unpaired", root=str(b), seed=3, **SMALL)
    _build(registry, "synthetic_unpaired", root=str(c), seed=4, **SMALL)
    tree = _tree(a)
    assert tree == _tree(b)
    assert tree.keys() == _tree(c).keys() and tree != _tree(c)
    counts = {sub: len(list((a / sub).glob("*.png"))) for sub in ("trainA", "trainB", "testA", "testB")}
    assert counts == {"trainA": 6, "trainB": 4, "testA": 2, "testB": 2}
    assert json.loads((a / "manifest.json").read_text())["seed"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    # served like `unpaired`
    assert len(ds) == 6 and ds.channels == {"A": 3, "B": 3}
    item = ds[(2, 11)]
    assert item["A"].shape == item["B"].shape == (3, 32, 32)
    assert item["name"].startswith("day_") and item["name_B"].startswith("night_")
    assert -1.0 <= float(item["A"].min()) and float(item["A"].max()) <= 1.0
    batch = torch.utils.data.default_collate([ds[(i, i)] for i in range(3)])
    assert batch["A"].shape == (3, 3, 32, 32) and len(batch["name_B"]) == 3
    assert len(_build(registry, "synthetic_unpaired", "val", root=str(a), seed=3, **SMALL)) == 2
    assert len(_build(registry, "synthetic_unpaired", "test", root=str(a), seed=3, **SMALL)) == 2


def test_synthetic_regenerates_when_parameters_change(registry, tmp_path):
    root = tmp_path / "set"
    _build(registry, "synthetic_unpaired", root=str(root), **SMALL)
    stamp = (root / "manifest.json").stat().st_mtime_ns
    _build(registry, "synthetic_unpaired", root=str(root), flip=False, **SMALL)  # serving options only: reused
    assert (root / "manifest.json").stat().st_mtime_ns == stamp
    ds = _build(registry, "synthetic_unpaired", root=str(root), **{**SMALL, "count_a": 3})
    assert len(ds) == 4 and len(list((root / "trainA").glob("*.png"))) == 3
    assert json.loads((root / "manifest.json").read_text())["count_a"] == 3
    (root / "trainB" / "night_00000.png").unlink()  # incomplete: generated again
    _build(registry, "synthetic_unpaired", root=str(root), **{**SMALL, "count_a": 3})
    assert (root / "trainB" / "night_00000.png").is_file()


def test_synthetic_refuses_a_foreign_folder(registry, tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a synthetic_unpaired folder"):
        _build(registry, "synthetic_unpaired", root=str(root), **SMALL)
    assert (root / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(_build(registry, "synthetic_unpaired", root=str(empty), **SMALL)) == 6


def test_synthetic_domains_differ_clearly(registry, tmp_path):
    root = tmp_path / "set"
    _build(registry, "synthetic_unpaired", root=str(root), seed=1, **{**SMALL, "count_a": 12, "count_b": 12})

    def stats(sub: str) -> tuple[float, float, float]:
        images = np.stack([np.asarray(Image.open(p), dtype=np.float32) / 255 for p in sorted((root / sub).glob("*.png"))])
        sky = images[:, :3]  # the top rows: sky, sometimes the sun or moon
        return float(sky.mean()), float(sky[..., 2].mean() - sky[..., 0].mean()), float(images.mean())

    day_sky, day_blue, day_mean = stats("trainA")
    night_sky, _, night_mean = stats("trainB")
    assert day_sky > 0.6 and day_blue > 0.1  # light sky-blue
    assert night_sky < 0.2  # dark navy
    assert day_mean - night_mean > 0.35
    # unpaired: the scenes differ, not just the colours (object layouts do not line up)
    a = np.asarray(Image.open(root / "trainA" / "day_00000.png"), dtype=np.float32)
    b = np.asarray(Image.open(root / "trainB" / "night_00000.png"), dtype=np.float32)
    edges = [np.abs(np.diff(x.mean(axis=2), axis=1)) > 20 for x in (a, b)]
    assert (edges[0] & edges[1]).sum() < 0.5 * min(edges[0].sum(), edges[1].sum())


def test_synthetic_generation_is_fast(tmp_path):
    from translate_cyclegan.synthetic import synthetic_params, write_synthetic

    start = time.perf_counter()
    write_synthetic(tmp_path, synthetic_params(0, 100, 100, 8, 64))
    assert time.perf_counter() - start < 10.0  # the default 300 + 300 takes about 1.5 s


def test_smoke_options_build(registry, tmp_path):
    comp = registry.get("dataset", "synthetic_unpaired")
    options = {**comp.smoke_options, "root": str(tmp_path / "smoke")}
    ds = comp.build(options, split="train")
    assert len(ds) > 0 and ds[0]["A"].shape[0] == 3
    unpaired = registry.get("dataset", "unpaired")
    assert unpaired.smoke_options["root"] == comp.smoke_options["root"]  # the folder the synthetic one fills
    assert len(unpaired.build({**unpaired.smoke_options, "root": str(tmp_path / "smoke")}, split="train")) == len(ds)


# --------------------------------------------------------------------------- data sources

EXPECTED_SETS = {
    "apple2orange",
    "summer2winter_yosemite",
    "horse2zebra",
    "monet2photo",
    "cezanne2photo",
    "ukiyoe2photo",
    "vangogh2photo",
    "iphone2dslr_flower",
}


def test_sources_are_registered(registry):
    names = set(registry.names("data_source"))
    assert names == EXPECTED_SETS
    assert not names & {"maps", "cityscapes", "facades"}  # the pix2pix data plugin has those
    for name in names:
        source = source_of(registry.get("data_source", name))
        assert source.url == f"http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
        assert source.archive == "zip" and source.strip == name and source.filename == f"{name}.zip"
        assert source.size is None or source.size > 1_000_000
        assert "Zhu" in source.citation and registry.get("data_source", name).description
    assert source_of(registry.get("data_source", "horse2zebra")).size == 116867962


def test_sources_do_not_clash_with_installed_plugins():
    """Every installed plugin, loaded strictly: a duplicate data-source name anywhere raises, and each
    CycleGAN set is this plugin's (a lenient load would skip the clashing plugin and hide it)."""
    from translate.plugin.loading import load_plugins

    installed = load_plugins(strict=True).registry
    owners = {c.name: c.plugin.name for c in installed if c.kind == "data_source" and c.name in EXPECTED_SETS}
    assert owners == dict.fromkeys(EXPECTED_SETS, "cyclegan")


def test_downloaded_archive_layout_is_served(registry, tmp_path):
    source = source_of(registry.get("data_source", "horse2zebra"))
    archive = tmp_path / source.filename
    with zipfile.ZipFile(archive, "w") as zf:  # the layout of the published archives
        for sub, n in (("trainA", 2), ("trainB", 3), ("testA", 1), ("testB", 1)):
            zf.writestr(f"horse2zebra/{sub}/", "")
            for i in range(n):
                path = tmp_path / f"{sub}{i}.png"
                Image.fromarray(_rgb(i, 20, 20)).save(path)
                zf.write(path, f"horse2zebra/{sub}/n{i:04d}.jpg.png")
    target = extract(source, archive, tmp_path / "data")
    assert target == tmp_path / "data" / "horse2zebra"
    ds = _build(registry, "unpaired", root=str(target), load_size=18, crop_size=16)
    assert len(ds) == 3 and ds[0]["B"].shape == (3, 16, 16)
    assert isinstance(source, DataSource)
