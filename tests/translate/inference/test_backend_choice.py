"""``backend = "auto"``: the faster backend as measured (ONNX Runtime only with a clear margin and agreeing
outputs), measured once per model and machine (cached), PyTorch where ONNX Runtime cannot run as asked, and
the default of ``translate infer`` unless ``TRANSLATE_BACKEND`` says otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import translate
from translate.commands.main import main
from translate.errors import TranslateError
from translate.inference import backend_choice
from translate.models import load_model


@pytest.fixture
def model(tmp_path: Path, pix2pix_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny pix2pix model folder, with the ONNX and backend caches in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(backend_choice.ENV, raising=False)
    return Path(shutil.copytree(pix2pix_model, tmp_path / "model"))


def _timed(monkeypatch: pytest.MonkeyPatch, seconds: dict[str, float], offset: float = 0.0) -> list[int]:
    """Replace the measurement: the real outputs (``offset`` added to ONNX Runtime's), the given times."""
    calls: list[int] = []
    real = backend_choice.measure

    def fake(runners, x, rounds=backend_choice.ROUNDS):
        calls.append(1)
        outputs, _ = real(runners, x, rounds=0)
        outputs["onnx"] = outputs["onnx"] + offset
        return outputs, {name: [s] * rounds for name, s in seconds.items()}

    monkeypatch.setattr(backend_choice, "measure", fake)
    return calls


@pytest.mark.parametrize("seconds,offset,chosen", [
    ({"torch": 0.20, "onnx": 0.10}, 0.0, "onnx"),  # 2x faster and the same outputs
    ({"torch": 0.20, "onnx": 0.19}, 0.0, "torch"),  # within the margin: one runtime, no export
    ({"torch": 0.20, "onnx": 0.05}, 0.01, "torch"),  # faster but not the same outputs
], ids=["faster", "within-margin", "disagrees"])
def test_auto_keeps_onnx_runtime_only_when_clearly_faster_and_equal(model: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    seconds, offset, chosen) -> None:
    calls = _timed(monkeypatch, seconds, offset)
    loaded = load_model(model / "model.safetensors")
    choice = backend_choice.choose_backend(loaded, "G")
    assert choice.backend == chosen and choice.source.startswith("measured") and calls == [1]
    assert choice.shape == (1, 32, 32)  # the model's recommended size, one image
    again = backend_choice.choose_backend(loaded, "G")
    assert again.backend == chosen and again.source.startswith("cache ") and calls == [1]  # measured once
    if offset:
        assert "differs" in choice.source


def test_auto_is_pytorch_where_onnx_runtime_cannot_run_as_asked(model: Path) -> None:
    loaded = load_model(model / "model.safetensors")
    cpu = torch.device("cpu")
    for asked in ({"mode": "train", "precision": "fp32", "fast": False},
                  {"mode": "eval", "precision": "bf16", "fast": False},
                  {"mode": "eval", "precision": "fp32", "fast": True}):
        choice = backend_choice.resolve_backend("auto", loaded, "G", device=cpu, **asked)
        assert choice.backend == "torch" and "not considered" in choice.source and not choice.seconds
    assert backend_choice.resolve_backend("onnx", loaded, "G", mode="train", device=cpu, precision="fp32",
                                          fast=False).backend == "onnx"  # as asked: the translator refuses it
    with pytest.raises(TranslateError, match="backend must be one of auto, torch, onnx, got 'tensorrt'"):
        backend_choice.resolve_backend("tensorrt", loaded, "G", mode="eval", device=cpu, precision="fp32", fast=False)


def test_the_workload_is_padded_to_the_size_multiple_and_bounded(model: Path) -> None:
    loaded = load_model(model / "model.safetensors")  # size multiple 32, recommended size 32
    assert backend_choice.Workload().shape(loaded, "G") == (1, 32, 32)
    assert backend_choice.Workload(33, 37, 3).shape(loaded, "G") == (3, 64, 64)
    assert backend_choice.Workload(4000, 2000, 1).shape(loaded, "G") == (1, 1472, 736)  # about 1024x1024 pixels


def test_the_default_backend_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backend_choice.ENV, raising=False)
    assert backend_choice.default_backend(None) == "auto"
    assert backend_choice.default_backend("onnx") == "onnx"
    monkeypatch.setenv(backend_choice.ENV, "torch")
    assert backend_choice.default_backend(None) == "torch"
    monkeypatch.setenv(backend_choice.ENV, "fastest")
    with pytest.raises(TranslateError, match="TRANSLATE_BACKEND='fastest': expected one of auto, torch, onnx"):
        backend_choice.default_backend(None)


def test_translate_load_with_auto_runs_the_chosen_backend(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _timed(monkeypatch, {"torch": 0.2, "onnx": 0.1})
    pipe = translate.load(model, device="cpu", backend="auto")
    assert pipe.backend_choice.backend == "onnx"
    assert pipe._translator(None).precision == "fp32 (ONNX Runtime)"
    plain = translate.load(model, device="cpu")
    assert plain.backend_choice is None and plain._translator(None).backend == "torch"  # the library default
    x = np.random.default_rng(0).random((40, 36, 3), dtype=np.float32)
    assert float(np.abs(pipe(x) - plain(x)).max()) < 1e-3


def test_translate_infer_measures_by_default_and_says_so(model: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray((np.random.default_rng(1).random((33, 37, 3)) * 255).astype(np.uint8)).save(inputs / "a.png")
    assert main(["infer", str(model), str(inputs), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "backend auto: timing PyTorch and ONNX Runtime on G, 1 x 64x64" in err  # the 37x33 input, padded to 32s
    assert "backend: " in err and "(measured on 1 x 64x64: torch " in err
    assert (tmp_path / "out" / "a.png").is_file()
    assert main(["infer", str(model), str(inputs), "--out", str(tmp_path / "out2"), "--device", "cpu"]) == 0
    assert "(from cache " in capsys.readouterr().err  # measured once per model and machine
