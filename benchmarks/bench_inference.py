"""Benchmark generator inference: fp32 vs bf16 autocast, contiguous vs channels_last.

Builds ``unet_256`` through the plugin registry (random weights, ``ngf`` 64, eval mode),
then times images/s at each size and batch (default 256x256 and 1024x1024, batch 1 and 8) for
fp32 and bf16 autocast, each with the default (contiguous) and ``channels_last`` memory format,
and prints the largest (and mean) absolute difference of every output from the fp32 contiguous
output on the generator's [-1, 1] scale. Not a test: it asserts nothing.

A random U-Net with fresh BatchNorm statistics (mean 0, variance 1) shrinks its activations
layer by layer and outputs values near 0, which would make any precision difference look
tiny. So the BatchNorm running statistics are first calibrated on a few random smooth images
(train-mode forward passes, cumulative average), which gives unit-scale activations and
outputs spread over [-1, 1] like a trained model's; ``--no-calibrate`` skips that.

Each configuration runs ``--warmup`` untimed passes, then timed passes until ``--min-seconds``
have passed (at least one). Defaults finish in about 5 minutes on 2 CPU cores, mostly spent
at 1024x1024 batch 8; ``--quick`` times a single pass per configuration.

    python benchmarks/bench_inference.py [--quick] [--sizes 256 1024] [--batches 1 8] [--device cuda] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from contextlib import nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


def smooth_images(n: int, size: int, seed: int) -> "torch.Tensor":
    """Random images in [-1, 1] with image-like structure: upsampled coarse noise plus fine noise."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, max(2, size // 16), max(2, size // 16), generator=g)
    x = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    x = x + 0.1 * torch.randn(n, 3, size, size, generator=g)
    return (x.clamp(0, 1) * 2 - 1).contiguous()


def build(ngf: int, calibrate: bool) -> "torch.nn.Module":
    import torch

    from translate.plugin.loading import get_registry

    torch.manual_seed(0)
    G = get_registry().get("generator", "unet_256").build({"ngf": ngf}, in_channels=3, out_channels=3)
    if calibrate:
        norms = [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        G.train()
        with torch.no_grad():
            for i in range(3):
                G(smooth_images(4, 256, seed=100 + i))
    return G.eval()


def time_config(G, x, precision: str, channels_last: bool, warmup: int, min_seconds: float):
    """(seconds per pass, passes timed, last output as float32 contiguous on the CPU)."""
    import torch

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G = G.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    dev = x.device

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    with torch.no_grad(), amp:
        for _ in range(warmup):
            y = G(x)
        sync()
        n, start = 0, time.perf_counter()
        while True:
            y = G(x)
            n += 1
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
    return elapsed / n, n, y.float().contiguous().cpu()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="square image sides (multiples of 256)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--warmup", type=int, default=1, help="untimed passes per configuration")
    p.add_argument("--min-seconds", type=float, default=4.0, help="time each configuration at least this long")
    p.add_argument("--quick", action="store_true", help="one timed pass per configuration (--min-seconds 0)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ... or auto")
    p.add_argument("--no-calibrate", action="store_true", help="keep the fresh BatchNorm statistics")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.min_seconds = 0.0

    import torch

    from translate.inference import resolve_device

    dev = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (
        f"CPU, {torch.get_num_threads()} threads, capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"torch {torch.__version__} on {where}")
    G = build(args.ngf, calibrate=not args.no_calibrate).to(dev)
    print(f"unet_256 ngf {args.ngf}: {sum(q.numel() for q in G.parameters()) / 1e6:.1f}M parameters, eval mode, "
          f"BatchNorm {'calibrated' if not args.no_calibrate else 'fresh'}")
    configs = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]
    results = []
    header = f"{'size':>5} {'batch':>5} {'precision':>9} {'layout':>14} {'img/s':>8} {'ms/img':>9} {'passes':>6} " \
             f"{'max|diff|':>10} {'mean|diff|':>10} {'speedup':>8}"
    print(header)
    for size in args.sizes:
        for batch in args.batches:
            x = smooth_images(batch, size, seed=size + batch).to(dev)
            ref = None
            base = None
            for precision, cl in configs:
                sec, n, y = time_config(G, x, precision, cl, args.warmup, args.min_seconds)
                if ref is None:
                    ref, base = y, sec
                diff = float((y - ref).abs().max())
                mean_diff = float((y - ref).abs().mean())
                row = dict(size=size, batch=batch, precision=precision, channels_last=cl,
                           images_per_s=batch / sec, ms_per_image=1000 * sec / batch, passes=n,
                           max_abs_diff=diff, mean_abs_diff=mean_diff, speedup_vs_fp32=base / sec, output_std=float(ref.std()),
                           output_max=float(ref.abs().max()))
                results.append(row)
                print(f"{size:>5} {batch:>5} {precision:>9} {'channels_last' if cl else 'contiguous':>14} "
                      f"{row['images_per_s']:>8.2f} {row['ms_per_image']:>9.1f} {n:>6} {diff:>10.2e} {mean_diff:>10.2e} "
                      f"{row['speedup_vs_fp32']:>7.2f}x", flush=True)
            print(f"{'':>11} fp32 output: std {float(ref.std()):.3f}, max |y| {float(ref.abs().max()):.3f}")
    G.to(memory_format=torch.contiguous_format)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev) / 2**20
    print(f"peak {'GPU' if dev.type == 'cuda' else 'process'} memory {peak:.0f} MiB; "
          "speedup is against fp32 contiguous at the same size and batch")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": where, "torch": torch.__version__, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
