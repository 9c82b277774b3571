"""The benchmark scripts still run (slow: skipped unless --runslow; they assert nothing about speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_training_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_training.py"), "--methods", "pix2pix",
         "--batches", "1", "--precisions", "no", "bf16", "--steps", "1", "--warmup", "0"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "train img/s" in out.stdout and "speed-up" in out.stdout


@pytest.mark.slow
def test_training_benchmark_compares_cut_with_cyclegan() -> None:
    """CUT and FastCUT train through the benchmark and the comparison with CycleGAN is printed (no speed asserted)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_training.py"), "--methods", "cyclegan", "cut", "fastcut",
         "--batches", "1", "--precisions", "no", "--size", "64", "--steps", "1", "--warmup", "0", "--rounds", "1"],
        check=False, capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "CPU: " in text and "AVX-512" in text and "AMX" in text
    assert "Cost against CycleGAN: batch 1, fp32, 64x64" in text
    summary = text.split("Cost against CycleGAN", 1)[1].splitlines()
    rows = {cells[0]: cells for cells in map(str.split, summary) if cells[:1] in (["cyclegan"], ["cut"], ["fastcut"])}
    assert set(rows) == {"cyclegan", "cut", "fastcut"}
    assert "0.600" in rows["cut"] and "0.692" in rows["cut"]  # the paper's ratios beside the measured ones
    assert "0.375" in rows["fastcut"] and "0.468" in rows["fastcut"]


@pytest.mark.slow
def test_inference_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_inference.py"), "--sizes", "256", "--batches", "1",
         "--quick"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "max|diff|" in out.stdout


@pytest.mark.slow
def test_speed_benchmark_runs(tmp_path: Path) -> None:
    import json

    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_speed.py"), "--only", "pix2pix:1", "infer:256",
         "--rounds", "1", "--warmup", "1", "--json", str(tmp_path / "speed.json")],
        capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "fast / reference" in out.stdout and "matmul peak fp32" in out.stdout
    results = json.loads((tmp_path / "speed.json").read_text())["results"]
    assert [r["config"] for r in results] == ["pix2pix:1", "infer:256"]
    for r in results:
        assert r["flops_per_step"] > 0 and r["ratio"] > 0
        assert r["reference"]["plan"].startswith("fp32")
    train, infer = results
    assert "speed calibration" in train["fast"]["calibration"]  # the fast side times its layouts, as a run does
    assert infer["fast"]["plan"] != infer["reference"]["plan"]


@pytest.mark.slow
def test_backends_benchmark_runs(tmp_path: Path) -> None:
    import json

    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_backends.py"), "--generators", "resnet_9blocks",
         "--sizes", "64", "--min-seconds", "0", "--warmup", "0", "--json", str(tmp_path / "b.json"),
         "--serve", "2", "--serve-seconds", "1"],
        check=False, capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("CPU: ") and "translate.load" in out.stdout and "onnx" in out.stdout
    (row,) = json.loads((tmp_path / "b.json").read_text())["results"]
    assert set(row["ms"]) == {"bare", "torch", "onnx"} and all(v > 0 for v in row["ms"].values())
    assert row["auto"] in ("torch", "onnx") and "backend auto: backend: " in out.stdout
    assert set(row["serve"]) == {"torch", "onnx"} and all(r["images_per_s"] > 0 for r in row["serve"].values())
    assert row["max_abs_diff_onnx_vs_torch"] < 1e-3  # the ONNX outputs are PyTorch's (no speed asserted)


def test_gpu_check_runs_dry(tmp_path: Path) -> None:
    """benchmarks/gpu_check.py --dry runs every part of the GPU check on the CPU and writes its JSON report."""
    import json

    report_file = tmp_path / "gpu_check.json"
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry", "--json", str(report_file)],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "device: CPU" in out.stdout and "ALL CHECKS PASSED" in out.stdout
    report = json.loads(report_file.read_text())
    assert not list(tmp_path.glob(".gpu_check.json.*"))  # written through a temporary file, then replaced
    assert report["dry"] is True and report["machine"]["device"] == "cpu" and report["passed"] is True
    parts = report["parts"]
    assert list(parts) == ["train_speed", "cpu_agreement", "fp16", "memory", "inference", "gpu_tests"]
    statuses = {name: part["status"] for name, part in parts.items()}
    assert statuses == {"train_speed": "passed", "cpu_agreement": "passed", "fp16": "skipped", "memory": "passed",
                        "inference": "passed", "gpu_tests": "passed"}, parts
    assert "no CUDA" in parts["fp16"]["reason"]
    assert parts["inference"]["onnx_cuda"]["status"] == "skipped"
    for method in ("pix2pix", "cyclegan"):
        for speed in ("reference", "fast"):
            side = parts["train_speed"][method][speed]
            assert side["device"] == "cpu" and side["losses_finite"]
            assert side["step_s"] and all(t > 0 for t in side["step_s"]) and side["median_s"] > 0
        assert parts["train_speed"][method]["fast"]["plan"] != parts["train_speed"][method]["reference"]["plan"]
        assert parts["cpu_agreement"][method]["within_tolerance"]
        assert parts["memory"]["peak_mb"][f"train {method} reference"] > 0
    assert parts["inference"]["torch"]["images_per_s"] > 0 and parts["inference"]["torch_fast"]["images_per_s"] > 0
    assert parts["gpu_tests"]["collected"] >= 1
