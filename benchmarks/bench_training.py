"""Benchmark training and generator inference for the published configurations.

pix2pix: the edges2shoes recipe (U-Net 256 + 70x70 PatchGAN); CycleGAN: the horse2zebra
recipe (two ResNet-9 generators, two PatchGANs, pools). Random 256x256 images, the real
method's train step through Accelerate. Prints training images/s, peak memory (CUDA
allocator, or process RSS on CPU) and generator inference ms/image, fp32 vs bf16, on the
current machine. Each configuration runs in its own process (Accelerate's precision is
per process). Not a test: it asserts nothing about speed.

    python benchmarks/bench_training.py [--methods pix2pix cyclegan] [--steps 6] [--batches 1 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "pix2pix": ROOT / "recipes" / "pix2pix_edges2shoes.toml",
    "cyclegan": ROOT / "recipes" / "cyclegan_horse2zebra.toml",
}


def _peak_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_one(method_name: str, batch: int, precision: str, steps: int, warmup: int, size: int) -> dict:
    """Time train steps and inference for one configuration (in this process)."""
    import torch

    from translate.components.build import BuildContext
    from translate.components.method import StepContext
    from translate.engine.setup import make_accelerator, prepare
    from translate.plugin.loading import get_registry
    from translate.recipe import load_recipe

    registry = get_registry()
    recipe, _ = load_recipe(RECIPES[method_name],
                            [f"train.mixed_precision={json.dumps(precision)}", f"data.batch_size={batch}"], registry)
    accelerator = make_accelerator(recipe)
    torch.manual_seed(0)
    comp = registry.get("method", recipe.method.name)
    # RGB for every data key a built-in method may ask for (paired: input/target; unpaired: A/B)
    ctx = BuildContext(recipe=recipe, registry=registry, channels={"input": 3, "target": 3, "A": 3, "B": 3})
    method = comp.factory(comp.parse_options(recipe.method.options, "method.options"), ctx=ctx)
    prepare(accelerator, method)
    dev = accelerator.device
    batch_data = {k: torch.rand(batch, 3, size, size, device=dev) * 2 - 1 for k in method.data_keys}
    x = batch_data[method.data_keys[0]]

    def step(i: int) -> None:
        with accelerator.accumulate(*method.networks.values()):
            method.train_step(batch_data, StepContext(accelerator, i, 0))

    for i in range(warmup):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t0

    G = accelerator.unwrap_model(method.networks[method.exports()[0].network]).eval()
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16) if precision == "bf16" else torch.autocast(dev.type, enabled=False)
    with torch.no_grad(), autocast:
        for _ in range(warmup):
            G(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            G(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        infer_s = time.perf_counter() - t0
    return {
        "method": method_name,
        "batch": batch,
        "precision": precision,
        "device": str(dev),
        "train_images_per_s": batch * steps / train_s,
        "peak_memory_mb": _peak_mb(dev),
        "infer_ms_per_image": 1000 * infer_s / (steps * batch),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    p.add_argument("--precisions", nargs="+", default=["no", "bf16"])
    p.add_argument("--methods", nargs="+", default=["pix2pix", "cyclegan"], choices=sorted(RECIPES))
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        method_name, batch, precision = args.one.split(":")
        print(json.dumps(run_one(method_name, int(batch), precision, args.steps, args.warmup, args.size)))
        return
    for method_name in args.methods:
        results = []
        for batch in args.batches:
            for precision in args.precisions:
                cmd = [sys.executable, __file__, "--one", f"{method_name}:{batch}:{precision}",
                       "--steps", str(args.steps), "--warmup", str(args.warmup), "--size", str(args.size)]
                out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    raise SystemExit(f"benchmark {method_name} {batch}:{precision} failed")
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        _report(method_name, results, args)


def _report(method_name: str, results: list[dict], args: argparse.Namespace) -> None:
    print(f"\n{method_name} ({RECIPES[method_name].name}, {args.size}x{args.size}), device {results[0]['device']}, "
          f"{results[0]['threads']} threads, {args.steps} timed steps")
    print(f"{'batch':>5} {'precision':>9} {'train img/s':>12} {'peak MB':>9} {'infer ms/img':>13}")
    for r in results:
        print(f"{r['batch']:>5} {r['precision']:>9} {r['train_images_per_s']:>12.2f} "
              f"{r['peak_memory_mb']:>9.0f} {r['infer_ms_per_image']:>13.1f}")
    by = {(r["batch"], r["precision"]): r for r in results}
    for batch in args.batches:
        if (batch, "no") in by and (batch, "bf16") in by:
            train = by[(batch, "bf16")]["train_images_per_s"] / by[(batch, "no")]["train_images_per_s"]
            infer = by[(batch, "no")]["infer_ms_per_image"] / by[(batch, "bf16")]["infer_ms_per_image"]
            print(f"batch {batch}: bf16 / fp32 speed-up: training {train:.2f}x, inference {infer:.2f}x")


if __name__ == "__main__":
    main()
