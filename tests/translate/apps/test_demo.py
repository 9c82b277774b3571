"""``translate demo``: what the page shows, the missing-extra message, and the page itself in headless
Chromium (the system package, driven by Playwright without a browser download): draw strokes,
wait for the translation, check that it changes and that the console stays clean."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import translate
from tests.support.model_runs import copy_folder, write_image
from translate.apps.serve import Limits, ModelService, RequestError
from translate.errors import TranslateError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cyc_service(cyclegan_model: Path):
    service = ModelService(cyclegan_model, device="cpu", limits=Limits(max_pixels=128 * 128))
    yield service
    service.close()


def test_the_base_install_does_not_import_gradio() -> None:
    code = ("import sys, translate.commands.main, translate.apps.demo, translate.apps.serve, translate.models.hub; from translate.plugin.loading import get_registry; translate.commands.main.build_parser(get_registry(), 'demo').parse_args(['demo', 'm']); "
            "assert 'gradio' not in sys.modules, 'gradio imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_missing_gradio_says_how_to_install(monkeypatch: pytest.MonkeyPatch, cyclegan_model: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from translate.apps.demo import import_gradio
    from translate.commands.main import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    with pytest.raises(TranslateError, match=r"pip install 'translate-i2i\[demo\]'"):
        import_gradio()
    assert main(["demo", str(cyclegan_model), "--no-browser"]) == 2
    assert "pip install 'translate-i2i[demo]'" in capsys.readouterr().err


def test_content_summary_limitations_examples_and_directions(cyclegan_model: Path, tmp_path: Path) -> None:
    from translate.apps.demo import demo_content
    from translate.apps.demo.content import PALETTE, summary_of

    model = copy_folder(cyclegan_model, tmp_path / "model")
    write_image(model / "examples" / "b.png", 32, 32, seed=1)
    write_image(model / "examples" / "a.png", 32, 32, seed=2)
    (model / "examples" / "notes.txt").write_text("not an image")
    extra = tmp_path / "mine"
    write_image(extra / "c.jpg", 32, 32, seed=3)
    service = ModelService(model, device="cpu")
    try:
        content = demo_content(service, extra)
        assert [p.name for p in content.examples] == ["a.png", "b.png", "c.jpg"]
        assert content.title == "model: cyclegan, day -> night"
        assert content.summary.startswith("A cyclegan model trained with [translate]")
        assert content.limitations == tuple(service.pipeline.meta.limitations) and content.limitations
        assert not content.card.startswith("---") and "## Generators" in content.card
        assert [(d.direction, d.label) for d in content.directions] == [("AtoB", "AtoB: day -> night"),
                                                                         ("BtoA", "BtoA: night -> day")]
        assert content.directions[0].colours == PALETTE  # colour inputs get the palette
        assert content.canvas == 64  # the 32-pixel training size, at least 64, a multiple of 4
        with pytest.raises(TranslateError, match="not a folder"):
            demo_content(service, tmp_path / "nowhere")
        (tmp_path / "empty").mkdir()
        with pytest.raises(TranslateError, match="no images"):
            demo_content(service, tmp_path / "empty")
    finally:
        service.close()
    (model / "README.md").unlink()  # no card file: the card is made from the metadata
    service = ModelService(model, device="cpu")
    try:
        assert demo_content(service).summary.startswith("A cyclegan model")
    finally:
        service.close()
    assert summary_of("---\na: b\n---\n# Title\n\n| t |\n\nFirst  words\nhere.\n\nSecond.") == "First words here."


def test_sketch_translation_equals_translate_load(cyc_service: ModelService, cyclegan_model: Path) -> None:
    from translate.apps.demo import editor_image, translate_value

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
    for direction in ("AtoB", "BtoA"):
        out = translate_value(cyc_service, direction, {"background": None, "layers": [], "composite": rgb})
        expected = translate.load(cyclegan_model, device="cpu", direction=direction)(rgb)
        np.testing.assert_array_equal(out, expected)
    rgba = np.zeros((8, 8, 4), np.uint8)  # transparent canvas: white
    rgba[2, 3] = (0, 0, 0, 255)
    img = editor_image({"composite": rgba})
    assert img.shape == (8, 8, 3) and img[0, 0].tolist() == [1.0, 1.0, 1.0] and img[2, 3].tolist() == [0, 0, 0]
    assert translate_value(cyc_service, "AtoB", None) is None
    assert translate_value(cyc_service, "AtoB", {"composite": None}) is None
    with pytest.raises(RequestError, match="more than the 16384"):
        translate_value(cyc_service, "AtoB", {"composite": np.zeros((200, 200, 3), np.uint8)})


def test_build_demo_has_a_tab_per_direction(cyc_service: ModelService) -> None:
    pytest.importorskip("gradio")
    from translate.apps.demo import build_demo

    blocks = build_demo(cyc_service)
    ids = {getattr(b, "elem_id", None) for b in blocks.blocks.values()}
    assert {"sketch-AtoB", "sketch-BtoA", "output-AtoB", "output-BtoA"} <= ids
    assert blocks.title == "cyclegan-model: cyclegan, day -> night"


# --------------------------------------------------------------------------- the page in a real browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def _stroke(page, selector: str, points: list[tuple[float, float]]) -> None:
    """Draw one stroke through ``points`` (fractions of the canvas box, around its centre)."""
    box = page.locator(f"{selector} canvas").first.bounding_box()
    cx, cy, half = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"]) / 2
    xy = [(cx + fx * half, cy + fy * half) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def _output(page, generator: str, previous: str | None, timeout: float = 60.0) -> tuple[str, bytes]:
    """Wait for the output image of ``generator`` to show a new file; return its URL and bytes."""
    img = page.locator(f"#output-{generator} img")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if img.count() and img.first.get_attribute("src") not in (None, "", previous) \
                and page.evaluate("el => el.complete && el.naturalWidth > 0", img.first.element_handle()):
            src = img.first.get_attribute("src")
            return src, page.request.get(src).body()
        time.sleep(0.1)
    raise AssertionError(f"the output of {generator} did not update within {timeout} s")


@pytest.mark.browser
def test_drawing_in_headless_chromium_updates_the_translation(cyc_service: ModelService, tmp_path: Path) -> None:
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium binary (chromium, chromium-browser, google-chrome) on PATH or at /usr/bin/chromium; "
                    "install the system package (apt-get install chromium; .ci/run does it) to run this test")
    pytest.importorskip("gradio")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from translate.apps.demo import build_demo, launch
    from translate.apps.demo.content import demo_content

    examples = tmp_path / "examples"
    write_image(examples / "ex.png", 32, 32, seed=9)
    content = demo_content(cyc_service, examples)
    blocks = build_demo(cyc_service, content=content)
    launch(blocks, cyc_service, content=content, port=0, block=False)
    errors: list[str] = []
    failed: list[str] = []
    outside: list[str] = []
    host = blocks.local_url.rstrip("/")
    try:
        with sync_playwright() as pw:
            args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
            browser = pw.chromium.launch(executable_path=browser_path, args=args)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                # Gradio's client closes the event stream of the queue itself once its events are done
                # (ERR_ABORTED on /gradio_api/queue/data); any other failed request fails the test
                page.on("requestfailed", lambda r: None if "/gradio_api/queue/data" in r.url
                        and "ERR_ABORTED" in str(r.failure) else failed.append(f"{r.url}: {r.failure}"))
                page.on("request", lambda r: None if r.url.startswith((host, "data:", "blob:")) else outside.append(r.url))
                page.goto(blocks.local_url, wait_until="load")
                page.wait_for_selector("#sketch-AtoB canvas", timeout=60_000)
                assert "cyclegan-model: cyclegan, day -> night" in page.title()
                assert page.get_by_text("Limitations").count() >= 1
                time.sleep(0.5)
                _stroke(page, "#sketch-AtoB", [(-0.5, -0.5), (0.0, -0.2), (0.5, 0.1)])
                first_src, first = _output(page, "AtoB", None)
                _stroke(page, "#sketch-AtoB", [(-0.6, 0.5), (-0.1, 0.6), (0.4, 0.5), (0.6, -0.4)])
                second_src, second = _output(page, "AtoB", first_src)
                a, b = (np.asarray(Image.open(io.BytesIO(x))) for x in (first, second))
                assert a.shape == b.shape == (64, 64, 3)  # the canvas size
                assert not np.array_equal(a, b)  # the second stroke changed the translation
                page.locator(".gallery img").first.click()  # an example input
                _, third = _output(page, "AtoB", second_src)
                c = np.asarray(Image.open(io.BytesIO(third)))
                assert not np.array_equal(c, b)
                page.get_by_role("tab", name="BtoA: night -> day").click()
                page.wait_for_selector("#sketch-BtoA canvas", state="visible", timeout=30_000)
                time.sleep(0.5)
                _stroke(page, "#sketch-BtoA", [(-0.4, 0.4), (0.4, -0.4)])
                _output(page, "BtoA", None)
                page.screenshot(path=str(tmp_path / "demo.png"))
                seen_errors, seen_failed = list(errors), list(failed)  # before closing (closing aborts streams)
            finally:
                browser.close()
    finally:
        blocks.close()
    assert seen_errors == [] and seen_failed == [], (seen_errors, seen_failed)
    assert outside == []  # nothing fetched from anywhere but the demo's own server: works offline
    keep = os.environ.get("TRANSLATE_DEMO_SCREENSHOT")
    if keep:  # for a person to look at the page
        shutil.copyfile(tmp_path / "demo.png", keep)


def test_a_run_offers_its_test_inputs_as_examples_in_each_tab(pix2pix_run: Path, cyclegan_run: Path) -> None:
    """The demo of a run starts with clickable examples: the first inputs of its data set's test split."""
    from translate.apps.demo import demo_content
    from translate.apps.demo.content import DATA_EXAMPLES
    from translate.data.imageio import read_image
    from translate.plugin.loading import get_registry
    from translate.recipe import load_recipe

    service = ModelService(pix2pix_run, device="cpu")
    try:
        content = demo_content(service)
    finally:
        service.close()
    (tab,) = content.directions
    recipe, _ = load_recipe(pix2pix_run / "recipe.toml", registry=get_registry())
    test = get_registry().get("dataset", recipe.data.name).build(dict(recipe.data.options), split="test")
    assert 0 < len(tab.examples) == min(DATA_EXAMPLES, len(test)) and content.examples == ()
    for i, path in enumerate(tab.examples):  # the test inputs themselves (edges), not the targets
        expected = (test[(i, 0)]["input"].permute(1, 2, 0).numpy() + 1) / 2
        assert np.abs(read_image(path) - expected).max() <= 1 / 255 + 1e-6, path
    service = ModelService(cyclegan_run, device="cpu")
    try:
        tabs = {d.direction: d.examples for d in demo_content(service).directions}
    finally:
        service.close()
    assert set(tabs) == {"AtoB", "BtoA"} and all(tabs.values())
    assert all("day_" in p.name for p in tabs["AtoB"]) and all("night_" in p.name for p in tabs["BtoA"])


def test_no_data_examples_without_the_runs_data_folder(pix2pix_run: Path, tmp_path: Path) -> None:
    """A model folder (no recipe) or a run whose data folder is gone has none, and nothing is generated."""
    from translate.apps.demo.content import data_examples

    assert data_examples(tmp_path, {"G": "AtoB"}) == {}
    run = copy_folder(pix2pix_run, tmp_path / "run")
    text = (run / "recipe.toml").read_text()
    root = next(line.split("=", 1)[1].strip().strip('"') for line in text.splitlines() if line.startswith("root"))
    (run / "recipe.toml").write_text(text.replace(root, str(tmp_path / "gone")))
    assert data_examples(run, {"G": "AtoB"}) == {} and not (tmp_path / "gone").exists()
