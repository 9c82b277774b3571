"""The run report (translate/report): a self-contained HTML page from a run folder, its plots as
PNG files, robust to missing pieces, and rendered in a real headless Chromium without errors."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translate.apps.report import NotARunFolder, write_report
from translate.apps.report.plots import loss_groups
from translate.apps.report.sections import MAX_SAMPLES, evenly_spaced
from translate.commands.report import add_report_arguments, report_cli
from translate.engine.environment import write_environment
from translate.errors import TranslateError

HOSTILE = '<script>alert("x")</script>&'
PLOT_FILES = {"losses.png", "metrics.png", "learning_rates.png", "images_per_s.png"}
T0 = 1_700_000_000.0


class Page(HTMLParser):
    """The page's images, links and figure captions."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.urls: list[str] = []
        self.figures: list[str] = []
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        if tag == "figure":
            self.figures.append(a.get("class", ""))
        if tag == "script":
            self.scripts += 1
        self.urls += [a[k] for k in ("src", "href") if k in a]


def png_of(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,"), uri[:40]
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def write_samples(run: Path, steps: list[int], size: tuple[int, int] = (108, 72)) -> None:
    rng = np.random.default_rng(0)
    (run / "samples").mkdir(parents=True, exist_ok=True)
    for s in steps:
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(run / "samples" / f"step-{s:08d}.png")


def make_run(run: Path, *, evaluate: bool = True, environment: bool = True) -> Path:
    """A run folder written directly: recipe, 20 logged steps with eval entries, 5 grids, evaluation."""
    run.mkdir(parents=True)
    (run / "recipe.toml").write_text(f'seed = 1\n\n[data]\nname = "{HOSTILE}"\n', encoding="utf-8")
    lines = []
    for s in range(2, 42, 2):
        lines.append({"step": s, "time": T0 + 1.5 * s, "epoch": s // 10, "D": 0.7 - s / 100, "G_gan": 1 + s / 50,
                      "G_l1": 30 - s / 2, "G": 31 - s / 3, HOSTILE: 0.5, "lr_G": 2e-4 * (1 - s / 50),
                      "lr_D": 2e-4, "images_per_s": 10.0 + s % 3})
        if evaluate and s % 10 == 0:
            lines.append({"step": s, "time": T0 + 1.5 * s + 0.1, "eval/psnr": "inf" if s == 10 else 10 + s / 5,
                          "eval/ssim": 0.1 + s / 100, "eval/fid": "nan"})
    text = "".join(json.dumps(rec) + "\n" for rec in lines) + '{"step": 42, "ti'  # a line cut by a kill
    (run / "metrics.jsonl").write_text(text, encoding="utf-8")
    write_samples(run, [4, 8, 16, 32, 40])
    if evaluate:
        (run / "evaluation.json").write_text(json.dumps({
            "format": 1, "values": {"psnr": 18.25, "ssim": 0.5, "fid": "inf", HOSTILE: 1.0},
            "higher_is_better": {"psnr": True, "ssim": True, "fid": False},
            "protocol": {"split": "test", "num_images": 3, "fid": {"feature_sha256": "cafe1234", "resize": "clean"}},
            "model": {"path": "model.safetensors", "sha256": "beef5678"}}), encoding="utf-8")
        (run / "best.json").write_text(json.dumps({"key": "psnr", "value": 18.25, "step": 40,
                                                   "higher_is_better": True, "checkpoint": "checkpoints/step-40"}))
    if environment:
        write_environment(run)
    return run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run")


def test_page_is_self_contained_with_plots_grids_and_tables(run: Path) -> None:
    page_path = write_report(run)
    assert page_path == run / "report.html"
    text = page_path.read_text(encoding="utf-8")
    page = Page(text)
    assert page.scripts == 0
    assert all(not u.startswith(("http:", "https:", "//", "file:")) for u in page.urls), page.urls
    assert page.images and all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    plots = [img for img in page.images if not img["alt"].startswith("samples at step")]
    assert [img["alt"] for img in plots] == ["Losses", "Evaluation metrics during training", "Learning rates",
                                            "Throughput"]
    for img in plots:
        assert png_of(img["src"]).width > 100
    # one figure per sample grid, captioned with its step, the PNG itself embedded
    samples = [img for img in page.images if img["alt"].startswith("samples at step")]
    assert [img["alt"] for img in samples] == [f"samples at step {s}" for s in (4, 8, 16, 32, 40)]
    assert page.figures.count("sample") == 5
    assert png_of(samples[0]["src"]).size == (108, 72)
    assert "step 32 (step-00000032.png" in text
    # the plots are saved as PNG files too, and they are the embedded ones
    assert {p.name for p in (run / "report").iterdir()} == PLOT_FILES
    assert (run / "report" / "losses.png").read_bytes() == base64.b64decode(plots[0]["src"].split(",", 1)[1])
    # recipe, evaluation table, protocol, best checkpoint, timing, environment
    assert "seed = 1" in text and "[data]" in text
    assert "18.25" in text and "cafe1234" in text and "beef5678" in text and "fid.resize" in text
    assert "Best checkpoint by psnr: 18.25 at step 40 (checkpoints/step-40)" in text
    assert "0:00:57" in text  # wall time between the first (step 2) and last record (step 40, +0.1 s)
    assert "40 (last logged), 24 records" in text and "11.05" in text
    assert "1 line(s) of metrics.jsonl could not be read" in text
    assert "kornia" in text and "python.version" in text and "translate-i2i" in text
    # everything from the files is escaped: the hostile name appears only escaped
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in text


def test_inf_and_nan_metric_values_are_plotted_and_named(run: Path) -> None:
    from translate.apps.report.plots import metric_plot
    from translate.run.folder import read_run_folder

    folder = read_run_folder(run)
    assert folder.series("eval/psnr")[1][0] == float("inf")
    assert folder.eval_keys() == ["eval/psnr", "eval/ssim", "eval/fid"]
    assert HOSTILE in folder.loss_keys() and "lr_G" not in folder.loss_keys()
    assert metric_plot(folder) is not None
    text = write_report(run).read_text(encoding="utf-8")
    assert "<td>fid</td><td>inf</td><td>lower</td>" in text


def test_missing_pieces_are_named_not_fatal(tmp_path: Path) -> None:
    run = tmp_path / 'only-recipe <b>&"x"'
    run.mkdir()
    (run / "recipe.toml").write_text("seed = 3\n", encoding="utf-8")
    text = write_report(run).read_text(encoding="utf-8")
    assert Page(text).images == []
    assert "<b>" not in text and "Run report: only-recipe &lt;b&gt;&amp;&quot;x&quot;</h1>" in text
    for phrase in ("metrics.jsonl not found: no step was logged", "no sample grids (samples/step-*.png) yet",
                   "evaluation.json not found: the run has not been evaluated",
                   "environment.json not found: the environment was not recorded", "seed = 3"):
        assert phrase in text, phrase
    assert list((run / "report").iterdir()) == []

    log_only = tmp_path / "log-only"
    log_only.mkdir()
    (log_only / "metrics.jsonl").write_text(json.dumps({"step": 1, "time": T0, "G": 1.0}) + "\n")
    text = write_report(log_only).read_text(encoding="utf-8")
    assert "recipe.toml not found" in text and "no eval/* values in metrics.jsonl" in text
    assert "metrics.jsonl logs no learning rates" in text
    assert [img["alt"] for img in Page(text).images] == ["Losses"]


def test_broken_files_are_reported_on_the_page(run: Path) -> None:
    (run / "evaluation.json").write_text("{not json", encoding="utf-8")
    (run / "samples" / "step-00000099.png").write_bytes(b"not a png")
    text = write_report(run).read_text(encoding="utf-8")
    assert "evaluation.json could not be read" in text
    assert "step 99: step-00000099.png could not be read" in text
    assert all(png_of(img["src"]) for img in Page(text).images)


@pytest.mark.parametrize("kind", ["empty", "absent"])
def test_not_a_run_folder(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "not-a-run"
    if kind == "empty":
        folder.mkdir()
        (folder / "notes.txt").write_text("hello")
    with pytest.raises(NotARunFolder, match="not-a-run") as info:
        write_report(folder)
    assert isinstance(info.value, TranslateError)
    assert "recipe.toml" in str(info.value) or "not a folder" in str(info.value)
    assert not (folder / "report.html").exists()


def test_rerun_replaces_the_old_report_cleanly(run: Path) -> None:
    write_report(run)
    lines = [ln for ln in (run / "metrics.jsonl").read_text().splitlines() if "eval/" not in ln]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    text = write_report(run).read_text(encoding="utf-8")
    assert {p.name for p in (run / "report").iterdir()} == PLOT_FILES - {"metrics.png"}
    assert "Evaluation metrics during training" in text and "no eval/* values" in text
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temp files or folders left


def test_a_folder_that_is_not_ours_is_never_replaced(run: Path) -> None:
    (run / "report").mkdir()
    (run / "report" / "my-notes.txt").write_text("keep me")
    with pytest.raises(TranslateError, match="not replaced"):
        write_report(run)
    assert (run / "report" / "my-notes.txt").read_text() == "keep me"
    assert not (run / "report.html").exists()


def test_many_and_huge_sample_grids(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", evaluate=False, environment=False)
    shutil.rmtree(run / "samples")
    steps = list(range(10, 410, 10))  # 40 grids
    write_samples(run, steps, size=(12, 8))
    write_samples(run, [1000], size=(2400, 300))
    text = write_report(run).read_text(encoding="utf-8")
    samples = [img for img in Page(text).images if img["alt"].startswith("samples at step")]
    assert len(samples) == MAX_SAMPLES
    assert samples[0]["alt"] == "samples at step 10" and samples[-1]["alt"] == "samples at step 1000"
    assert f"{MAX_SAMPLES} of 41 grids, evenly spaced" in text
    assert max(png_of(samples[-1]["src"]).size) == 1600 and "downscaled from 2400x300" in text
    assert evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]


def test_loss_groups_follow_the_optimizers() -> None:
    keys = ["G", "G_AtoB", "G/l1", "D_A", "cycle_A", "Dx"]
    assert loss_groups(keys, ["G", "D"]) == {"G": ["G", "G_AtoB", "G/l1"], "D": ["D_A"],
                                             "other losses": ["cycle_A", "Dx"]}
    assert loss_groups(["G_gan", "D_real", "cycle"], []) == {"G": ["G_gan"], "D": ["D_real"], "cycle": ["cycle"]}


def test_equal_learning_rate_curves_are_both_visible() -> None:
    """Two optimizers on one schedule: the second is drawn dashed over a wider first, and its legend says so."""
    from translate.apps.report import plots
    from translate.run.folder import RunContents

    steps = [0.0, 10.0, 20.0]
    styles = plots.curve_styles({"G": (steps, [2e-4, 1e-4, 0.0]), "D": (steps, [2e-4, 1e-4, 0.0]),
                                 "E": (steps, [1e-3, 1e-3, 1e-3]), "F": (steps, [2e-4, 1e-4, 0.0])})
    assert [label for label, _ in styles.values()] == ["G", "D (= G)", "E", "F (= G)"]
    assert styles["G"][1]["linewidth"] > styles["D"][1]["linewidth"] and styles["E"][1] == {}
    assert styles["D"][1]["linestyle"] != styles["F"][1]["linestyle"] and "linestyle" not in styles["G"][1]
    run = RunContents(path=Path("run"))
    run.records = [{"step": s, "lr_G": 2e-4, "lr_D": 2e-4} for s in (1, 2, 3)]
    assert plots.lr_plot(run) is not None
    lines = plots.lr_figure(run).axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["G", "D (= G)"]
    assert lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"
    assert lines[0].get_linewidth() > lines[1].get_linewidth()


def test_cli_writes_where_asked_and_says_so(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    out = tmp_path / "elsewhere" / "page.html"
    assert report_cli(parser.parse_args([str(run), "--out", str(out)])) == 0
    assert out.is_file() and {p.name for p in (tmp_path / "elsewhere" / "page").iterdir()} == PLOT_FILES
    assert not (run / "report.html").exists()
    assert str(out) in capsys.readouterr().out
    with pytest.raises(TranslateError, match="is a folder"):
        write_report(run, out=tmp_path)


def test_report_of_a_real_tiny_run(pix2pix_run: Path, tmp_path: Path) -> None:
    out = write_report(pix2pix_run, out=tmp_path / "report.html")  # the shared run folder stays as it was
    text = out.read_text(encoding="utf-8")
    alts = [img["alt"] for img in Page(text).images]
    assert alts[0] == "Losses" and "Learning rates" in alts and "Throughput" in alts
    assert any(a.startswith("samples at step") for a in alts)
    assert 'name = &quot;pix2pix&quot;' in text and "G_l1" in text


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def test_page_renders_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium binary (chromium, chromium-browser, google-chrome) on PATH or at /usr/bin/chromium; "
                    "install the system package (apt-get install chromium; .ci/run does it) to run this test")
    from playwright.sync_api import sync_playwright

    page_path = write_report(run)
    errors: list[str] = []
    failed: list[str] = []
    screenshot = tmp_path / "report.png"
    with sync_playwright() as pw:
        args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        browser = pw.chromium.launch(executable_path=browser_path, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
            plots = page.locator("figure.plot img")
            grids = page.locator("figure.sample img")
            assert plots.count() == 4 and grids.count() == 5
            for i in range(plots.count()):
                assert plots.nth(i).is_visible()
                assert plots.nth(i).bounding_box()["width"] > 100
            for i in range(grids.count()):
                assert grids.nth(i).is_visible()
            assert page.locator("pre.recipe").inner_text().startswith("seed = 1")
            assert page.title().startswith("translate run report: run")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert errors == [] and failed == []
    assert len(images) == 9 and all(done and width > 0 for _, done, width in images), images
    assert Image.open(screenshot).size[0] == 1280
    keep = os.environ.get("TRANSLATE_REPORT_SCREENSHOT")
    if keep:  # for a person to look at the page
        shutil.copyfile(screenshot, keep)


def test_the_report_shows_final_and_best_and_the_published_numbers(tmp_path):
    from translate.apps.report.sections import evaluation_section
    from translate.run.folder import RunContents

    run = RunContents(path=tmp_path, records=[{"step": 4, "eval/fid": 30.0}, {"step": 8, "eval/fid": 35.0}],
                      evaluation={"values": {"fid": 35.0}, "higher_is_better": {"fid": False},
                                  "model": {"step": 8}, "data": {"split": "test"},
                                  "published": [{"metric": "fid", "source": "CUT paper <Table 1>", "published": 45.5,
                                                 "value": 35.0, "difference": -10.5, "comparable": False,
                                                 "differs": ["mode: clean here, legacy_pytorch published"]}]},
                      best={"key": "fid", "value": 30.0, "step": 4})
    html = evaluation_section(run)
    assert "<h3>Final and best</h3>" in html and "chosen by fid on the test split" in html
    assert "<th>final (step 8)</th><th>best (step 4)</th>" in html and "<td>35</td><td>30</td>" in html
    assert "selection on the test set" in html
    assert "<h3>Published results</h3>" in html and "CUT paper &lt;Table 1&gt;" in html and "<td>-10.5</td>" in html
    assert "no: mode: clean here, legacy_pytorch published" in html
    run.best = {"key": "fid", "value": 35.0, "step": 8}  # the best is the final model: one column is enough
    assert "Final and best" not in evaluation_section(run)
