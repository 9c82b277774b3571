"""Reference vs fast: training and generator inference images/s, measured side by side.

For each configuration (pix2pix batch 1 and 4 on the edges2shoes recipe, CycleGAN batch 1 on the
horse2zebra recipe, unet_256 inference at 256 and 1024) two worker processes are started, one with
``train.speed = "reference"`` (the plain fp32 eager computation, the authors' code operation for
operation) and one with the fast plan. Each builds the real method through the engine's own
functions (Accelerate, ``translate.engine.speed``), then the parent has them step in turn, one step
each, so that both see the same machine load; the ratio of the medians is printed. (Accelerate keeps
one precision per process, hence two processes.) The first steps, which include any compilation, are
reported apart from the steady state.

Also printed: peak memory of each worker (CUDA allocator, or process RSS on the CPU), the FLOPs of one
step (torch.utils.flop_counter) and the fraction of this machine's measured matmul peak (fp32 and bf16
GEMM, measured in the same run) that each side reaches. Not a test: it asserts nothing.

    python benchmarks/bench_speed.py [--only pix2pix:1 pix2pix:4 cyclegan:1 infer:256 infer:1024]
        [--rounds 5] [--warmup 2] [--fast-set train.compile=default ...] [--json out.json] [--isa avx2]

The fast side calibrates its free layout levers first, as a training run does (its choice and timings are
printed). ``--isa avx2`` makes this CPU compute as an AVX2-only one would (oneDNN, MKL and PyTorch's
kernels capped to AVX2: bf16 emulated), for the figures of that machine class on the same cores.

Runs on a GPU unchanged when one is visible (then CUDA time, synchronised).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "pix2pix": ROOT / "recipes" / "pix2pix_edges2shoes.toml",
    "cyclegan": ROOT / "recipes" / "cyclegan_horse2zebra.toml",
}
DEFAULT = ["pix2pix:1", "pix2pix:4", "cyclegan:1", "infer:256", "infer:1024"]
ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")
ISA_CAPS = {  # --isa: the environment variables that make the kernels compute as on a CPU of that class
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "ATEN_CPU_CAPABILITY": "avx512",
               "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
}


# ----------------------------------------------------------------------------------------- worker side

class Worker:
    """One side of a comparison: a method (or a generator) built through the engine, stepped on command."""

    def __init__(self, what: str, batch: int, overrides: list[str], size: int) -> None:
        import torch

        from translate.components.build import BuildContext
        from translate.engine import speed
        from translate.engine.setup import make_accelerator, prepare
        from translate.plugin.loading import get_registry
        from translate.recipe import load_recipe

        self.torch = torch
        registry = get_registry()
        recipe_path = RECIPES["pix2pix" if what == "infer" else what]
        recipe, _ = load_recipe(recipe_path, [f"data.batch_size={batch}", *overrides], registry)
        self.accelerator = make_accelerator(recipe)
        self.plan = speed.resolve_speed(recipe.train, self.accelerator.device.type)
        self.device = self.accelerator.device
        torch.manual_seed(0)
        comp = registry.get("method", recipe.method.name)
        ctx = BuildContext(recipe=recipe, registry=registry, channels={"input": 3, "target": 3, "A": 3, "B": 3})
        self.method = comp.build(recipe.method.options, path="method.options", ctx=ctx)
        self.built = ctx.finish(self.method)
        self.what, self.batch, self.size = what, batch, size
        self.label = self.plan.describe()
        if what == "infer":
            self._setup_inference(recipe)
            return
        speed.before_prepare(self.method, self.plan)
        prepare(self.accelerator, self.built)
        g = torch.Generator().manual_seed(1)
        data = {k: (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(self.device)
                for k in self.method.data_keys}
        self.i = 0
        self.calibration = self._calibrate(recipe, data)
        speed.after_prepare(self.method, self.plan)
        self.label = self.plan.describe()
        self.data = speed.format_batch(data, self.plan)

    def _calibrate(self, recipe: Any, data: dict[str, Any]) -> str | None:
        """The fast plan's free levers timed on this very method and batch, as a training run does
        (translate/engine/calibrate.py); None when nothing is left to calibrate."""
        from translate.engine import calibrate, speed
        from translate.engine.sampling import state_modules, steps_undone

        levers = calibrate.free_levers(recipe.train, self.device.type)
        if not levers:
            return None
        modules = state_modules(self.method, self.built.losses.values())
        result = calibrate.measure(
            calibrate.candidate_plans(self.plan, levers),
            lambda plan: self._train_step(speed.format_batch(data, plan)),
            apply=lambda plan: calibrate.apply_layout(self.method, plan),
            kept=lambda: steps_undone(modules, self.method.optimizers, self.method, self.accelerator))
        self.plan = result.plan
        return result.summary()

    def _train_step(self, data: Any) -> Any:
        from translate.components.method import StepContext

        with self.accelerator.accumulate(*self.method.networks.values()):
            return self.method.train_step(data, StepContext(self.accelerator, self.i, 0))

    def _setup_inference(self, recipe: Any) -> None:
        from translate.inference.fast import fast_generator

        torch = self.torch
        G = self.method.networks[self.method.exports()[0].network].to(self.device).eval()
        reference = recipe.train.speed == "reference"
        self.G = G if reference else fast_generator(G, self.device)
        bf16 = any(p.dtype == torch.bfloat16 for p in self.G.parameters())
        self.label = ("fp32, eval mode" if reference else
                      f"translate infer --fast: BatchNorm folded, {'bf16 weights (fp32 last layer)' if bf16 else 'fp32'}, "
                      "channels_last")
        self.autocast = torch.autocast(self.device.type, enabled=False)
        g = torch.Generator().manual_seed(1)
        self.x = (torch.rand(self.batch, 3, self.size, self.size, generator=g) * 2 - 1).to(self.device)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def step(self) -> float:
        """One train step (or one generator forward), timed."""
        self._sync()
        t0 = time.perf_counter()
        if self.what == "infer":
            with self.torch.no_grad():
                self.G(self.x)
        else:
            self._train_step(self.data)
            self.i += 1
        self._sync()
        return time.perf_counter() - t0

    def flops(self) -> float:
        """FLOPs of one step (forward and backward), counted by torch's FlopCounterMode."""
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            self.step()
        return float(counter.get_total_flops())

    def peak_mb(self) -> float:
        import resource

        if self.device.type == "cuda":
            return self.torch.cuda.max_memory_allocated(self.device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(spec: str) -> None:
    """Worker loop: read one command per line on stdin, answer one JSON line on stdout."""
    what, batch, size, overrides = json.loads(spec)
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the engine prints must not mix with the answers
    worker = Worker(what, batch, overrides, size)
    out.write(json.dumps({"ready": True, "plan": worker.label,
                          "calibration": getattr(worker, "calibration", None)}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "step":
            answer: dict[str, Any] = {"s": worker.step()}
        elif cmd == "flops":
            answer = {"flops": worker.flops()}
        elif cmd == "peak":
            answer = {"mb": worker.peak_mb()}
        else:
            break
        out.write(json.dumps(answer) + "\n")
        out.flush()


# ----------------------------------------------------------------------------------------- parent side

def gemm_peak(dtype_name: str, n: int = 2048, repeats: int = 5) -> float:
    """Best measured FLOP/s of an n x n matmul in ``dtype_name`` on the default device."""
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
    best = float("inf")
    for _ in range(repeats):
        if dev == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        if dev == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


class Side:
    def __init__(self, what: str, batch: int, size: int, overrides: list[str]) -> None:
        spec = json.dumps([what, batch, size, overrides])
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", spec], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "TQDM_DISABLE": "1"})
        ready = self._read()
        self.plan, self.calibration = ready["plan"], ready.get("calibration")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a benchmark worker failed (exit {self.proc.wait()}); see its messages above")
        return json.loads(line)

    def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def compare(config: str, args: argparse.Namespace, peaks: dict[str, float]) -> dict[str, Any]:
    what, arg = config.split(":")
    batch, size = (1, int(arg)) if what == "infer" else (int(arg), args.size)
    sides = {"reference": Side(what, batch, size, ["train.speed=\"reference\"", *args.reference_set]),
             "fast": Side(what, batch, size, ["train.speed=\"fast\"", *args.fast_set])}
    try:
        first = {name: [side.ask("step")["s"] for _ in range(args.warmup)] for name, side in sides.items()}
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.rounds):  # alternate: both sides see the same machine load
            for name, side in sides.items():
                times[name].append(side.ask("step")["s"])
        flops = sides["reference"].ask("flops")["flops"]
        result = {"config": config, "batch": batch, "size": size, "flops_per_step": flops}
        for name, side in sides.items():
            median = statistics.median(times[name])
            peak = peaks["bfloat16" if "bf16" in side.plan else "float32"]
            result[name] = {"plan": side.plan, "calibration": side.calibration, "images_per_s": batch / median, "median_s": median,
                            "spread_s": [min(times[name]), max(times[name])], "first_steps_s": first[name],
                            "peak_mb": side.ask("peak")["mb"], "gemm_fraction": flops / median / peak if peak else None}
        result["ratio"] = result["fast"]["images_per_s"] / result["reference"]["images_per_s"]
        return result
    finally:
        for side in sides.values():
            side.close()


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.0f}%"


def report(r: dict[str, Any]) -> None:
    print(f"\n{r['config']} (batch {r['batch']}, {r['size']}x{r['size']}, {r['flops_per_step'] / 1e9:.1f} GFLOP/step)")
    for name in ("reference", "fast"):
        s = r[name]
        first = ", ".join(f"{t:.2f}" for t in s["first_steps_s"])
        print(f"  {name:>9}: {s['images_per_s']:8.2f} img/s  (median {s['median_s'] * 1000:.0f} ms, "
              f"spread {s['spread_s'][0] * 1000:.0f}-{s['spread_s'][1] * 1000:.0f} ms; first steps {first} s)  "
              f"peak {s['peak_mb']:.0f} MB  {_percent(s['gemm_fraction'])} of GEMM peak  [{s['plan']}]")
    if r["fast"].get("calibration"):
        print(f"  fast side's {r['fast']['calibration']}")
    print(f"  fast / reference: {r['ratio']:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", default=DEFAULT, help="configurations: METHOD:BATCH or infer:SIZE")
    p.add_argument("--rounds", type=int, default=5, help="timed steps per side (alternating)")
    p.add_argument("--warmup", type=int, default=2, help="untimed first steps per side (compilation included)")
    p.add_argument("--size", type=int, default=256, help="training image size")
    p.add_argument("--fast-set", nargs="*", default=[], help="extra recipe overrides for the fast side")
    p.add_argument("--reference-set", nargs="*", default=[],
                   help="extra recipe overrides for the reference side (to compare two fast variants)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--isa", choices=sorted(ISA_CAPS),
                   help="compute as a CPU of this class would: caps oneDNN, MKL and PyTorch's own kernels to its "
                   "instruction set (the same cores and caches; bf16 then emulated, as on such a CPU)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        serve(args.worker)
        return
    if args.isa:
        os.environ.update(ISA_CAPS[args.isa])  # before torch loads; the workers inherit it
    import torch

    from translate.nn.precision import native_bf16
    from translate.utils.cpu import cpu_summary

    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    # emulated bf16 (no native support, or capped by --isa) is tens of times slower: not a peak worth minutes
    peaks = {name: gemm_peak(name) if name == "float32" or native_bf16(device_type) else None
             for name in ("float32", "bfloat16")}
    caps = {k: v for k, v in os.environ.items() if k in ISA_VARIABLES}
    bf16 = "not measured (emulated here)" if peaks["bfloat16"] is None else f"{peaks['bfloat16'] / 1e9:.0f} GFLOP/s"
    print(f"device {'cuda: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}: "
          f"{cpu_summary()}; kernels {torch.backends.cpu.get_cpu_capability()}"
          f"{' (capped: ' + ', '.join(f'{k}={v}' for k, v in caps.items()) + ')' if caps else ''}; "
          f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f} at the start; "
          f"matmul peak fp32 {peaks['float32'] / 1e9:.0f} GFLOP/s, bf16 {bf16}")
    results = []
    for config in args.only:
        results.append(compare(config, args, peaks))
        report(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps({"gemm_peak_flops": peaks, "results": results}, indent=2))


if __name__ == "__main__":
    main()
