"""Benchmark CPU inference backends: the bare generator, ``translate.load`` (PyTorch) and ONNX Runtime.

For each built-in generator (``unet_256`` of pix2pix, ``resnet_9blocks`` of CycleGAN, ``srresnet`` of SRGAN;
random weights, BatchNorm statistics calibrated on random images so that outputs spread over [-1, 1]), a
model file is written to a temporary folder and timed per image at each size (default 256 and 1024):

- ``bare``: the generator module's own forward on a ready ``(1, C, H, W)`` tensor (eval mode, fp32): the cost of
  the network alone;
- ``torch``: ``translate.load(model, device="cpu")(image)`` on an ``H x W x C`` float image (padding, batching,
  normalisation and output conversion included);
- ``onnx``: the same with ``backend="onnx"`` (the ONNX file exported and checked on first use, not timed).

Prints ms/image, each backend's speed relative to ``bare``, the largest difference of the ONNX outputs from the
PyTorch ones, and the CPU (model, AVX2 / AVX-512 / AVX512-BF16 / AMX, cores). Not a test: it asserts nothing.

    python benchmarks/bench_backends.py [--generators unet_256 resnet_9blocks srresnet] [--sizes 256 1024]
                                        [--min-seconds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

GENERATORS = {  # name -> (method, recipe generator table)
    "unet_256": ("pix2pix", {"name": "unet_256"}),
    "resnet_9blocks": ("cyclegan", {"name": "resnet_9blocks"}),
    "srresnet": ("srgan", {"name": "srresnet"}),
}


def build_model(name: str, folder: Path) -> tuple[Any, Path]:
    """The generator (random weights, calibrated BatchNorm statistics) and its model folder."""
    import torch

    from translate.components.build import BuildContext
    from translate.components.method import ExportSpec
    from translate.models import save_model
    from translate.plugin.loading import get_registry
    from translate.recipe import Recipe

    method, table = GENERATORS[name]
    recipe = Recipe.model_validate({"method": {"name": method}, "generator": table, "data": {"name": "facades"},
                                    "train": {"steps": 1}})
    torch.manual_seed(0)
    ctx = BuildContext(recipe, get_registry(), channels={})
    net = ctx.generator(in_channels=3, out_channels=3)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if norms:  # unit-scale activations, as a trained network has
        for m in norms:
            m.momentum = None
            m.reset_running_stats()
        net.train()
        with torch.no_grad():
            net(torch.rand(2, 3, 256, 256) * 2 - 1)
    net.eval()
    folder.mkdir(parents=True)
    save_model(folder / "model.safetensors", method=method, exports=[(ExportSpec("G", "G"), net, ctx.record_of(net))])
    return net, folder


def per_image_ms(run: Callable[[], Any], warmup: int, min_seconds: float) -> float:
    """Milliseconds per call: ``warmup`` untimed calls, then calls until ``min_seconds`` have passed (at least 2)."""
    for _ in range(warmup):
        run()
    n, start = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - start < min_seconds:
        run()
        n += 1
    return (time.perf_counter() - start) / n * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS))
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="square input sides")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    import translate
    from translate.engine.environment import cpu_summary

    print(f"CPU: {cpu_summary()}; torch threads {torch.get_num_threads()}; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # ONNX files exported here, not in the user's cache
        for name in args.generators:
            net, folder = build_model(name, Path(tmp) / name)
            torch_pipe = translate.load(folder, device="cpu")
            onnx_pipe = translate.load(folder, device="cpu", backend="onnx")
            scale = torch_pipe.scale_factor
            for size in args.sizes:
                side = size // scale  # the input side; the output is `size` for a super-resolution generator
                rng = np.random.default_rng(0)
                image = rng.random((side, side, 3), dtype=np.float32)
                x = torch.from_numpy(image.transpose(2, 0, 1))[None] * 2 - 1
                with torch.no_grad():
                    bare = per_image_ms(lambda: net(x), args.warmup, args.min_seconds)
                ms = {"bare": bare,
                      "torch": per_image_ms(lambda: torch_pipe(image), args.warmup, args.min_seconds),
                      "onnx": per_image_ms(lambda: onnx_pipe(image), args.warmup, args.min_seconds)}
                diff = float(np.abs(torch_pipe(image) - onnx_pipe(image)).max())
                row = {"generator": name, "input": side, "ms": ms, "max_abs_diff_onnx_vs_torch": diff}
                results.append(row)
                print(f"{name:15s} {side:5d}px  bare {ms['bare']:8.1f} ms  translate.load {ms['torch']:8.1f} ms "
                      f"({bare / ms['torch']:.2f}x bare)  onnx {ms['onnx']:8.1f} ms ({bare / ms['onnx']:.2f}x bare)  "
                      f"max|diff| {diff:.2g}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_summary(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
