"""Benchmark CPU inference backends: the bare generator, ``translate.load`` (PyTorch) and ONNX Runtime.

For each built-in generator (``unet_256`` of pix2pix, ``resnet_9blocks`` of CycleGAN, ``srresnet`` of SRGAN;
random weights, BatchNorm statistics calibrated on random images so that outputs spread over [-1, 1]), a
model file is written to a temporary folder and timed per image at each size (default 256 and 1024):

- ``bare``: the generator module's own forward on a ready ``(1, C, H, W)`` tensor (eval mode, fp32): the cost of
  the network alone;
- ``torch``: ``translate.load(model, device="cpu")(image)`` on an ``H x W x C`` float image (padding, batching,
  normalisation and output conversion included);
- ``onnx``: the same with ``backend="onnx"`` (the ONNX file exported and checked on first use, not timed);
- ``auto``: which backend ``backend="auto"`` picks for the model (measured at its recommended size, printed);
- with ``--serve CLIENTS``: ``translate serve``'s throughput (images/s, median latency) with each backend,
  ``CLIENTS`` threads posting PNGs to it on 127.0.0.1 for ``--serve-seconds``.

Prints ms/image, each backend's speed relative to ``bare``, the largest difference of the ONNX outputs from the
PyTorch ones, and the CPU (model, AVX2 / AVX-512 / AVX512-BF16 / AMX, cores). Not a test: it asserts nothing.

    python benchmarks/bench_backends.py [--generators unet_256 resnet_9blocks srresnet] [--sizes 256 1024]
                                        [--min-seconds 3] [--json out.json] [--serve 4]
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


def serve_images_per_s(folder: Path, backend: str, png: bytes, clients: int, seconds: float) -> dict[str, float]:
    """Throughput of ``translate serve`` (in this process, on 127.0.0.1) with ``backend``: ``clients`` threads
    POST ``png`` to ``/translate`` for ``seconds``; images/s and the median latency of the 200 answers."""
    import http.client
    import statistics
    import threading

    from translate.apps.serve import ModelService, make_server

    service = ModelService(folder, device="cpu", backend=backend)
    server = make_server(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = server.server_address[1]
    latencies: list[float] = []
    refused = [0]
    lock = threading.Lock()

    def post() -> tuple[int, float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t0 = time.perf_counter()
        conn.request("POST", "/translate", body=png, headers={"Content-Type": "image/png"})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status, time.perf_counter() - t0

    try:
        post()  # warm-up
        stop_at = time.perf_counter() + seconds

        def client() -> None:
            while time.perf_counter() < stop_at:
                status, latency = post()
                with lock:
                    if status == 200:
                        latencies.append(latency)
                    else:
                        refused[0] += 1

        start = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()
        service.close()
    return {"images_per_s": len(latencies) / elapsed, "median_latency_ms": statistics.median(latencies) * 1000,
            "refused": refused[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS))
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="square input sides")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--serve", type=int, default=0, metavar="CLIENTS",
                   help="also measure `translate serve` throughput (torch and onnx backends) with this many clients")
    p.add_argument("--serve-seconds", type=float, default=10.0, help="how long each serve measurement lasts")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    import translate
    from translate.utils.cpu import cpu_summary

    print(f"CPU: {cpu_summary()}; torch threads {torch.get_num_threads()}; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # ONNX files exported here, not in the user's cache
        for name in args.generators:
            net, folder = build_model(name, Path(tmp) / name)
            torch_pipe = translate.load(folder, device="cpu")
            onnx_pipe = translate.load(folder, device="cpu", backend="onnx")
            auto_pipe = translate.load(folder, device="cpu", backend="auto")  # measured at the recommended size
            print(f"{name:15s} backend auto: {auto_pipe.backend_choice.describe()}", flush=True)
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
                row = {"generator": name, "input": side, "ms": ms, "max_abs_diff_onnx_vs_torch": diff,
                       "auto": auto_pipe.backend_choice.backend}
                results.append(row)
                print(f"{name:15s} {side:5d}px  bare {ms['bare']:8.1f} ms  translate.load {ms['torch']:8.1f} ms "
                      f"({bare / ms['torch']:.2f}x bare)  onnx {ms['onnx']:8.1f} ms ({bare / ms['onnx']:.2f}x bare)  "
                      f"max|diff| {diff:.2g}  auto -> {row['auto']}", flush=True)
                if args.serve:
                    import io

                    from PIL import Image

                    buf = io.BytesIO()
                    Image.fromarray((image * 255).astype(np.uint8)).save(buf, format="PNG")
                    row["serve"] = {b: serve_images_per_s(folder, b, buf.getvalue(), args.serve, args.serve_seconds)
                                    for b in ("torch", "onnx")}
                    print("  translate serve, " + "; ".join(
                        f"{b}: {r['images_per_s']:.2f} images/s (median latency {r['median_latency_ms']:.0f} ms, "
                        f"{r['refused']} refused)" for b, r in row["serve"].items())
                        + f" with {args.serve} clients", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_summary(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
