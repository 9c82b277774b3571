"""``translate eval stats`` and ``--reference``: statistics of real images saved once (from a folder or a
split), then compared with instead of the real images; files read without unpickling, recorded by sha256
(a tiny test metric, ``tiny_gap``, implements ``translate.ReferenceStatistics``)."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.model_runs import copy_folder
from tests.support.tiny_plugin import TinyMetricsPlugin
from translate.commands.eval import eval_cli
from translate.commands.main import build_parser
from translate.errors import TranslateError
from translate.evaluation.reference import assign_references, read_reference, write_reference
from translate.models.weights import WeightsMissing, statistics_file
from translate.plugin.loading import load_plugins


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(extra=[("tiny-metrics", TinyMetricsPlugin())])


def cli(plugins, *argv: str) -> int:
    return eval_cli(build_parser(plugins.registry, "eval").parse_args(["eval", *map(str, argv)]),
                    registry=plugins.registry)


def image_folder(root: Path) -> list[np.ndarray]:
    """Images in nested folders (two sizes, a grey one, upper-case suffix); returns their RGB pixels in path order."""
    rng = np.random.default_rng(0)
    files = {"a/1.png": (12, 10, "RGB"), "a/2.PNG": (12, 10, "L"), "b/3.png": (8, 8, "RGB"), "c.jpg": None}
    pixels = []
    for name, spec in sorted(files.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if spec is None:
            path.write_text("not an image, but not named like one either")  # .jpg: read, and refused below
            continue
        h, w, mode = spec
        array = rng.integers(0, 256, (h, w) if mode == "L" else (h, w, 3), dtype=np.uint8)
        Image.fromarray(array, mode).save(path)
        pixels.append(np.array(Image.open(path).convert("RGB")))
    (root / "c.jpg").unlink()
    (root / "notes.txt").write_text("ignored")
    return pixels


def test_stats_of_a_folder_are_the_metrics_statistics_of_its_images(plugins, tmp_path, capsys):
    pixels = image_folder(tmp_path / "imgs")
    out = tmp_path / "stats.npz"
    assert cli(plugins, "stats", tmp_path / "imgs", "--metrics", "tiny_gap", "--out", out) == 0
    assert f"wrote {out} (sha256 {hashlib.sha256(out.read_bytes()).hexdigest()})" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as data:  # a plain .npz: numbers and text only
        arrays = {k: data[k] for k in data.files}
    expected = np.mean([p.astype(np.float64).mean(axis=(0, 1)) / 127.5 - 1 for p in pixels], axis=0)
    np.testing.assert_allclose(arrays["mean"], expected, atol=1e-6)  # float32 pixels in [-1, 1]
    assert int(arrays["count"]) == 3
    protocol = json.loads(str(arrays["translate_protocol"]))
    assert protocol["metric"] == "tiny_gap" and protocol["images"] == 3
    assert protocol["source"]["folder"] == str(tmp_path / "imgs")


def test_a_split_summarised_then_used_as_reference_gives_the_same_value(plugins, tmp_path, pix2pix_run):
    run = copy_folder(pix2pix_run, tmp_path / "run")
    stats = tmp_path / "val.npz"
    assert cli(plugins, "stats", "--data", run / "recipe.toml", "--split", "val", "--metrics", "tiny_gap",
               "--out", stats) == 0
    info = json.loads(str(np.load(stats, allow_pickle=False)["translate_protocol"]))["source"]
    assert (info["split"], info["direction"], info["images"]) == ("val", "AtoB", "target")
    assert cli(plugins, run, "--split", "val", "--metrics", "tiny_gap", "--out", tmp_path / "plain.json") == 0
    assert cli(plugins, run, "--split", "val", "--metrics", "tiny_gap,tiny_mean", "--reference", stats,
               "--out", tmp_path / "ref.json") == 0
    plain = json.loads((tmp_path / "plain.json").read_text())
    ref = json.loads((tmp_path / "ref.json").read_text())
    assert ref["values"]["tiny_gap"] == pytest.approx(plain["values"]["tiny_gap"], rel=1e-9, abs=1e-12)
    assert ref["protocol"]["references"]["G"] == {
        "file": "val.npz", "sha256": hashlib.sha256(stats.read_bytes()).hexdigest(),
        "arrays": {"count": [], "mean": [3], "mode": [], "translate_protocol": []}, "metrics": ["tiny_gap"]}
    assert ref["protocol"]["metrics"]["tiny_gap"]["reference_source"] == "val.npz"
    assert "references" not in plain["protocol"]


def test_a_recipe_names_its_reference_and_the_flag_overrides_it(plugins, tmp_path, pix2pix_run):
    run = copy_folder(pix2pix_run, tmp_path / "run")
    write_reference(tmp_path / "far.npz", {"mean": np.array([5.0, 5.0, 5.0])})
    write_reference(tmp_path / "near.npz", {"mean": np.array([0.0, 0.0, 0.0])})
    recipe = (run / "recipe.toml").read_text() + (
        f'\n[eval]\nmetrics = ["tiny_gap"]\nsplit = "val"\nreference = "{tmp_path / "far.npz"}"\n')
    (tmp_path / "r.toml").write_text(recipe)
    assert cli(plugins, run, "--data", tmp_path / "r.toml", "--out", tmp_path / "a.json") == 0
    assert cli(plugins, run, "--data", tmp_path / "r.toml", "--reference", f"AtoB={tmp_path / 'near.npz'}",
               "--out", tmp_path / "b.json") == 0
    far = json.loads((tmp_path / "a.json").read_text())
    near = json.loads((tmp_path / "b.json").read_text())
    assert far["protocol"]["references"]["G"]["file"] == "far.npz"
    assert near["protocol"]["references"]["G"]["file"] == "near.npz"
    assert far["values"]["tiny_gap"] > 12 > near["values"]["tiny_gap"]


def test_stats_and_reference_errors_name_what_to_fix(plugins, tmp_path, pix2pix_run, cyclegan_run):
    image_folder(tmp_path / "imgs")
    with pytest.raises(TranslateError, match="--out FILE.npz is required"):
        cli(plugins, "stats", tmp_path / "imgs", "--metrics", "tiny_gap")
    with pytest.raises(TranslateError, match="give either a FOLDER of images or --data"):
        cli(plugins, "stats", "--metrics", "tiny_gap", "--out", tmp_path / "s.npz")
    with pytest.raises(TranslateError, match="does not implement translate.ReferenceStatistics"):
        cli(plugins, "stats", tmp_path / "imgs", "--metrics", "tiny_mean", "--out", tmp_path / "s.npz")
    with pytest.raises(TranslateError, match=r"name the file \*.npz"):
        cli(plugins, "stats", tmp_path / "imgs", "--metrics", "tiny_gap", "--out", tmp_path / "s.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslateError, match="holds no image files"):
        cli(plugins, "stats", tmp_path / "empty", "--metrics", "tiny_gap", "--out", tmp_path / "s.npz")
    (tmp_path / "imgs" / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(TranslateError, match="broken.png: not a readable image"):
        cli(plugins, "stats", tmp_path / "imgs", "--metrics", "tiny_gap", "--out", tmp_path / "s.npz")
    assert not (tmp_path / "s.npz").exists()  # nothing half-written
    write_reference(tmp_path / "r.npz", {"mean": np.zeros(3)})
    with pytest.raises(TranslateError, match="none of the metrics \\(tiny_mae\\) compares with statistics"):
        cli(plugins, pix2pix_run, "--split", "val", "--metrics", "tiny_mae", "--reference", tmp_path / "r.npz",
            "--out", tmp_path / "e.json")
    with pytest.raises(WeightsMissing, match="reference statistics: the weights file --reference"):
        cli(plugins, pix2pix_run, "--split", "val", "--metrics", "tiny_gap", "--reference", tmp_path / "no.npz",
            "--out", tmp_path / "e.json")
    write_reference(tmp_path / "bad.npz", {"other": np.zeros(2)})
    with pytest.raises(TranslateError, match="bad.npz: holds no 'mean'"):
        cli(plugins, pix2pix_run, "--split", "val", "--metrics", "tiny_gap", "--reference", tmp_path / "bad.npz",
            "--out", tmp_path / "e.json")
    with pytest.raises(TranslateError, match=r"2 generators are evaluated \(AtoB, BtoA\); say which one"):
        cli(plugins, cyclegan_run, "--split", "test", "--metrics", "tiny_gap", "--reference", tmp_path / "r.npz",
            "--out", tmp_path / "e.json")
    assert not (tmp_path / "e.json").exists()


def test_reference_files_are_read_without_unpickling(tmp_path):
    np.savez(tmp_path / "objects.npz", mean=np.array([{"a": 1}], dtype=object))
    with pytest.raises(TranslateError, match="only unpickling could read"):
        read_reference(tmp_path / "objects.npz")
    np.savez(tmp_path / "nan.npz", mu=np.array([1.0, np.nan]))
    with pytest.raises(TranslateError, match="'mu' holds inf or nan"):
        read_reference(tmp_path / "nan.npz")
    (tmp_path / "text.npz").write_text("mu, sigma")
    with pytest.raises(TranslateError, match="not an .npz archive"):
        read_reference(tmp_path / "text.npz", where="eval.reference")
    with pytest.raises(TranslateError, match="not a file"):
        read_reference(tmp_path / "absent.npz")
    path = write_reference(tmp_path / "ok.npz", {"mu": np.arange(3.0), "mode": np.array("clean")})
    ref = read_reference(path)
    assert ref.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert str(ref.arrays["mode"]) == "clean" and ref.protocol()["arrays"] == {"mode": [], "mu": [3]}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_references_are_assigned_by_generator_name_or_direction(tmp_path):
    for name in ("a.npz", "b.npz"):
        write_reference(tmp_path / name, {"mean": np.zeros(3)})
    gens = [("G_A", "AtoB"), ("G_B", "BtoA")]

    def resolve(spec: str, option: str) -> Path:
        return tmp_path / spec

    refs = assign_references(["AtoB=a.npz", "G_B=b.npz"], gens, resolve, where="--reference")
    assert {k: v.path.name for k, v in refs.items()} == {"G_A": "a.npz", "G_B": "b.npz"}
    refs = assign_references({"BtoA": "a.npz"}, gens, resolve, where="eval.reference")
    assert {k: v.path.name for k, v in refs.items()} == {"G_B": "a.npz"}
    assert set(assign_references("a.npz", gens[:1], resolve, where="eval.reference")) == {"G_A"}
    with pytest.raises(TranslateError, match=r"'sideways' is not a generator evaluated here \(generators: G_A \(AtoB\)"):
        assign_references({"sideways": "a.npz"}, gens, resolve, where="eval.reference")
    assert assign_references(None, gens, resolve, where="x") == {}


def test_statistics_files_are_found_by_name_and_fetched_once_from_a_url(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    write_reference(folder / "horse2zebra_clean_custom_na.npz", {"mu": np.zeros(2)})
    monkeypatch.setenv("TRANSLATE_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert statistics_file("horse2zebra_clean_custom_na.npz", "--reference") == \
        (folder / "horse2zebra_clean_custom_na.npz").resolve()
    body = (folder / "horse2zebra_clean_custom_na.npz").read_bytes()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stats/cat2dog_clean_custom_na.npz"
        first = statistics_file(url, "--reference")
        again = statistics_file(url, "--reference")
    finally:
        server.shutdown()
    assert first == again == (tmp_path / "cache" / "translate" / "weights" / "cat2dog_clean_custom_na.npz").resolve()
    assert first.read_bytes() == body and hits == ["/stats/cat2dog_clean_custom_na.npz"]  # downloaded once
    with pytest.raises(WeightsMissing, match="not in any of the folders searched"):
        statistics_file("absent_stats.npz", "eval.reference")
