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
        assert r["reference"]["plan"].startswith("fp32") and r["fast"]["plan"] != r["reference"]["plan"]
