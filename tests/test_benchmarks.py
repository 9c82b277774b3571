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
