"""The ONNX Runtime backend: the same outputs as PyTorch (within export's tolerance), the ONNX file found beside
the model or exported once into the cache, and clear refusals where it cannot run (train mode, bf16, GPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import translate
import translate.models.onnx
from translate.commands.main import main
from translate.errors import TranslateError
from translate.inference.onnx_backend import SHA_KEY, onnx_cache_folder
from translate.utils.hashing import file_sha256

TOLERANCE = 1e-3  # what translate export --onnx checks; measured about 1e-7 here


@pytest.fixture
def model(tmp_path: Path, pix2pix_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny pix2pix model folder (eval test mode), with the ONNX cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return Path(shutil.copytree(pix2pix_model, tmp_path / "model"))


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the ONNX exports made on first use."""
    calls: list[str] = []
    real = translate.models.onnx.export_onnx

    def counting(*args, **kwargs):
        calls.append(str(args[1]) if len(args) > 1 else "(beside the model)")
        return real(*args, **kwargs)

    monkeypatch.setattr(translate.models.onnx, "export_onnx", counting)
    return calls


def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((40, 36, 3), dtype=np.float32), rng.random((32, 32, 3), dtype=np.float32)]  # 40x36: padded


def test_onnx_runtime_gives_pytorchs_outputs_and_exports_once(model: Path, exports: list[str]) -> None:
    torch_pipe = translate.load(model, device="cpu")
    onnx_pipe = translate.load(model, device="cpu", backend="onnx")
    for a, b in zip(torch_pipe(images()), onnx_pipe(images())):
        assert a.shape == b.shape and float(np.abs(a - b).max()) < TOLERANCE
    cached = onnx_cache_folder() / file_sha256(model / "model.safetensors") / "G.onnx"
    assert exports == [str(cached)] and cached.is_file()
    assert onnx_pipe._translator(None).precision == "fp32 (ONNX Runtime)"
    translate.load(model, device="cpu", backend="onnx")  # the cached file is reused
    assert len(exports) == 1


def test_the_file_translate_export_wrote_beside_the_model_is_used(model: Path, exports: list[str]) -> None:
    translate.models.onnx.export_onnx(model / "model.safetensors", echo=None)  # translate export --onnx
    exports.clear()
    pipe = translate.load(model, device="cpu", backend="onnx")
    assert pipe._translator(None).module.path == model / "model.onnx" and exports == []
    import onnx

    proto = onnx.load(str(model / "model.onnx"))
    assert {p.key: p.value for p in proto.metadata_props}[SHA_KEY] == file_sha256(model / "model.safetensors")
    other = onnx.load(str(model / "model.onnx"))  # an ONNX file of other weights is not taken for this model
    for p in other.metadata_props:
        if p.key == SHA_KEY:
            p.value = "0" * 64
    onnx.save(other, str(model / "model.onnx"))
    pipe = translate.load(model, device="cpu", backend="onnx")
    assert pipe._translator(None).module.path.parent.parent == onnx_cache_folder() and len(exports) == 1


@pytest.mark.parametrize("options, match", [
    ({"mode": "train"}, r"cannot run with backend onnx: test-time mode 'train'"),
    ({"dtype": "bfloat16"}, r"precision 'bf16' \(the ONNX file is fp32\)"),
    ({"fast": True}, "the fast path"),
    ({"backend": "tensorrt"}, "backend must be one of torch, onnx"),
])
def test_settings_onnx_cannot_run_are_refused_before_any_export(model: Path, exports: list[str], options: dict,
                                                                match: str) -> None:
    with pytest.raises(TranslateError, match=match):
        translate.load(model, device="cpu", **{"backend": "onnx", **options})
    assert exports == []


def test_translate_infer_and_serve_take_the_backend(model: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from translate.apps.serve.service import ModelService

    (tmp_path / "in").mkdir()
    for i, img in enumerate(images()):
        Image.fromarray((img * 255).round().astype(np.uint8)).save(tmp_path / "in" / f"{i}.png")
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "o_torch"), "--device", "cpu"]) == 0
    assert main(["infer", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "o_onnx"), "--device", "cpu",
                 "--backend", "onnx"]) == 0
    assert "fp32 (ONNX Runtime), ONNX Runtime (G.onnx)" in capsys.readouterr().out
    for name in ("0.png", "1.png"):
        a = np.asarray(Image.open(tmp_path / "o_torch" / name), dtype=np.int16)
        b = np.asarray(Image.open(tmp_path / "o_onnx" / name), dtype=np.int16)
        assert int(np.abs(a - b).max()) <= 1  # 8-bit files: at most one grey level apart
    service = ModelService(model, device="cpu", backend="onnx")
    try:
        assert service.pipeline._translator(None).backend == "onnx"
    finally:
        service.close()


def test_a_size_that_is_not_a_multiple_runs_padded_and_cropped_like_torch(model: Path) -> None:
    """451x300 (no side a multiple of the U-Net's size multiple) through ONNX Runtime equals PyTorch."""
    image = np.random.default_rng(1).random((300, 451, 3), dtype=np.float32)
    torch_out = translate.load(model, device="cpu")(image)
    onnx_pipe = translate.load(model, device="cpu", backend="onnx")
    assert onnx_pipe._translator(None).meta.size_multiple > 1 and 451 % onnx_pipe._translator(None).meta.size_multiple
    onnx_out = onnx_pipe(image)
    assert onnx_out.shape == torch_out.shape == (300, 451, 3)
    assert float(np.abs(onnx_out - torch_out).max()) < TOLERANCE
    from translate.inference import Translator
    from translate.inference.onnx_backend import onnx_generator
    from translate.models import load_model

    loaded = load_model(model / "model.safetensors")
    module, info = loaded.generator()
    m = info.meta.size_multiple
    tiles = {"tile": 2 * m, "tile_overlap": m // 2, "device": "cpu"}  # edge tiles of sizes no multiple of m
    by_onnx = Translator(onnx_generator(loaded, info.name), info, backend="onnx", **tiles)(image)
    assert float(np.abs(by_onnx - Translator(module, info, **tiles)(image)).max()) < TOLERANCE


def test_the_bare_file_says_how_to_feed_other_sizes_and_that_recipe_matches(model: Path) -> None:
    """The metadata's size multiple and padding rule, followed with NumPy and ONNX Runtime alone, give
    translate's output; the ONNX module refuses other sizes with that advice instead of a Concat error."""
    import onnx
    import onnxruntime as ort
    import torch

    from translate.inference.onnx_backend import OnnxGenerator

    translate.models.onnx.export_onnx(model / "model.safetensors", echo=None)
    props = {p.key: p.value for p in onnx.load(str(model / "model.onnx")).metadata_props}
    m, scale = int(props["translate.size_multiple"]), int(props["translate.scale_factor"])
    assert "reflect" in props["translate.padding"] and "crop" in props["translate.padding"]
    image = np.random.default_rng(2).random((45, 70, 3), dtype=np.float32)
    h, w = image.shape[:2]
    padded = np.pad(image, ((0, -h % m), (0, -w % m), (0, 0)), mode="reflect")  # the documented recipe
    session = ort.InferenceSession(str(model / "model.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": (padded.transpose(2, 0, 1)[None] - 0.5) / 0.5})
    lo, hi = json_range = [float(v) for v in props["translate.value_range"].strip("[]").split(",")]
    assert json_range == [-1.0, 1.0]
    bare = np.clip((out[0, :, : h * scale, : w * scale].transpose(1, 2, 0) - lo) / (hi - lo), 0, 1)
    assert float(np.abs(bare - translate.load(model, device="cpu")(image)).max()) < TOLERANCE
    module = OnnxGenerator(model / "model.onnx", m, scale)
    with pytest.raises(TranslateError, match=rf"multiples of {m}, got 70x45: pad the input to "
                                             rf"{-(-70 // m) * m}x{-(-45 // m) * m} and crop the output back"):
        module(torch.zeros(1, 3, 45, 70))
