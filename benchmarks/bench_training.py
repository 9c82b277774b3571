"""Benchmark training and generator inference for the published configurations.

pix2pix: the edges2shoes recipe (U-Net 256 + 70x70 PatchGAN); CycleGAN: the horse2zebra recipe (two
ResNet-9 generators, two PatchGANs, pools); CUT and FastCUT: their horse2zebra recipes (one anti-aliased
ResNet-9 generator, one PatchGAN, the PatchNCE MLP heads). Random images (``--size``, 256 by default as in
the papers), the real method's train step through Accelerate. Prints training images/s, seconds per
iteration (one optimizer step of the method), memory and generator inference ms/image, fp32 vs bf16, on
the current machine, with the CPU model and its flags (and the GPU when there is one). Each configuration
runs in its own process (Accelerate's precision is per process); with ``--rounds N`` every configuration
runs N times, the methods in turn, so that load on the machine affects them alike, and ranges are printed.
Not a test: it asserts nothing about speed.

Memory: ``peak MB`` is the CUDA allocator's peak (``torch.cuda.max_memory_allocated``: weights, gradients,
optimizer states, activations), or the process's peak RSS on the CPU (Python and torch included).
``step MB`` is what the train steps add: the growth of that peak from just before the first step (warm-up
included) to after the last. The warm-up is included because after one step the C allocator keeps the
step's memory resident, so that later steps add nothing to the peak RSS.

When ``cyclegan`` is among the methods, a summary compares each method's seconds per iteration and memory
with CycleGAN's, beside the ratios of the CUT paper (Park et al., ECCV 2020, Table 1, on a GPU at 256x256:
CycleGAN 0.40 s and 4.81 GB, CUT 0.24 s and 3.33 GB, FastCUT 0.15 s and 2.25 GB); its memory is
``peak MB`` on CUDA and ``step MB`` on the CPU (the baseline RSS of a Python+torch process is not the
step's memory).

    python benchmarks/bench_training.py [--methods pix2pix cyclegan cut fastcut] [--steps 6] [--warmup 2]
        [--batches 1 4] [--precisions no bf16] [--size 256] [--rounds 1]

The CUT paper's comparison as measured on a CPU for docs/cut.md (fp32, batch 1, 128x128; on a GPU, --size 256):

    python benchmarks/bench_training.py --methods cyclegan cut fastcut --batches 1 --precisions no \\
        --size 128 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    "cut": ROOT / "recipes" / "cut_horse2zebra.toml",
    "fastcut": ROOT / "recipes" / "fastcut_horse2zebra.toml",
}
PAPER = {"cyclegan": (0.40, 4.81), "cut": (0.24, 3.33), "fastcut": (0.15, 2.25)}
"""CUT paper (Park et al., ECCV 2020), Table 1: seconds per iteration and GPU memory (GB), batch 1, 256x256."""
CPU_FLAGS = {"AVX2": ("avx2",), "AVX-512": ("avx512f",), "AVX512-BF16": ("avx512_bf16",),
             "AMX": ("amx_tile", "amx_bf16")}
"""Flags printed with the figures: name -> /proc/cpuinfo flags (any of them)."""


# ----------------------------------------------------------------------------------------- memory

def _proc_status_mb(field: str) -> float | None:
    """``VmRSS`` or ``VmHWM`` of this process in MB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _ru_maxrss_mb() -> float:
    """The process's peak RSS in MB, from getrusage (KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _cpu_memory_mark() -> tuple[float, bool]:
    """Start measuring the RSS growth: (baseline MB, whether the peak was reset).

    Where Linux allows it, the peak RSS is reset to the current RSS (``/proc/self/clear_refs``), so that
    a higher transient peak while building the networks does not hide the steps'; the baseline is then the
    current RSS. Elsewhere the baseline is the peak so far.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return _ru_maxrss_mb(), False
    current = _proc_status_mb("VmRSS")
    return (current, True) if current is not None else (_ru_maxrss_mb(), False)


def _cpu_peak_mb(reset: bool) -> float:
    """The peak RSS since :func:`_cpu_memory_mark` (``VmHWM`` after a reset), or since the process started."""
    hwm = _proc_status_mb("VmHWM") if reset else None
    return hwm if hwm is not None else _ru_maxrss_mb()


# ----------------------------------------------------------------------------------------- worker side

def run_one(method_name: str, batch: int, precision: str, steps: int, warmup: int, size: int) -> dict[str, Any]:
    """Time train steps and inference for one configuration (in this process)."""
    import torch

    from translate.components.build import BuildContext
    from translate.components.method import StepContext
    from translate.engine import speed
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
    plan = speed.resolve_speed(recipe.train, accelerator.device.type)
    speed.before_prepare(method, plan)
    prepare(accelerator, ctx.finish(method))  # every network (CUT's MLP heads F too) and optimizer
    speed.after_prepare(method, plan)
    dev = accelerator.device
    batch_data = {k: torch.rand(batch, 3, size, size, device=dev) * 2 - 1 for k in method.data_keys}
    batch_data = speed.format_batch(batch_data, plan)
    x = batch_data[method.data_keys[0]]
    cuda = dev.type == "cuda"

    def step(i: int) -> None:
        with accelerator.accumulate(*method.networks.values()):
            method.train_step(batch_data, StepContext(accelerator, i, 0))

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(dev)
        base_mb, reset = torch.cuda.memory_allocated(dev) / 2**20, True
    else:
        base_mb, reset = _cpu_memory_mark()
    for i in range(warmup):
        step(i)
    if cuda:
        torch.cuda.synchronize()
    times = []
    for i in range(warmup, warmup + steps):
        t0 = time.perf_counter()
        step(i)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    train_s = sum(times)
    peak_mb = torch.cuda.max_memory_allocated(dev) / 2**20 if cuda else _cpu_peak_mb(reset)
    step_mb = peak_mb - base_mb

    G = accelerator.unwrap_model(method.networks[method.exports()[0].network]).eval()
    autocast = (torch.autocast(dev.type, dtype=torch.bfloat16) if precision == "bf16"
                else torch.autocast(dev.type, enabled=False))
    with torch.no_grad(), autocast:
        for _ in range(warmup):
            G(x)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            G(x)
        if cuda:
            torch.cuda.synchronize()
        infer_s = time.perf_counter() - t0
    return {
        "method": method_name,
        "batch": batch,
        "precision": precision,
        "device": str(dev),
        "train_images_per_s": batch * steps / train_s,
        "s_per_iteration": train_s / steps,
        "step_seconds": times,
        "peak_memory_mb": peak_mb,
        "step_memory_mb": step_mb,
        "infer_ms_per_image": 1000 * infer_s / (steps * batch),
        "threads": torch.get_num_threads(),
    }


# ----------------------------------------------------------------------------------------- parent side

def describe_machine() -> list[str]:
    """Lines naming the CPU (model, cores, AVX2 / AVX-512 / AVX512-BF16 / AMX), torch and any GPU."""
    import torch

    from translate.engine.environment import environment

    env = environment()
    cpu, gpus = env["cpu"], env["accelerator"]["devices"]
    try:
        flags: set[str] = set()
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        flags = set()
    if flags:
        have = ", ".join(f"{name} {'yes' if any(f in flags for f in names) else 'no'}"
                         for name, names in CPU_FLAGS.items())
    else:  # no /proc/cpuinfo: what torch reports
        cpu_backend = torch.backends.cpu
        have = (f"AVX512-BF16 {'yes' if getattr(cpu_backend, '_is_avx512_bf16_supported', lambda: False)() else 'no'}, "
                f"AMX {'yes' if getattr(cpu_backend, '_is_amx_tile_supported', lambda: False)() else 'no'}")
    lines = [(f"CPU: {cpu['model']}, {cpu['usable_cores']} of {cpu['logical_cores']} logical cores usable; {have}; "
              f"torch {torch.__version__} (CPU kernels {torch.backends.cpu.get_cpu_capability()})")]
    for g in gpus:
        lines.append(f"GPU {g['index']}: {g['name']}, {g['memory_gib']} GiB, capability {g['capability']}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6, help="timed train steps per configuration")
    p.add_argument("--warmup", type=int, default=2, help="untimed train steps before them")
    p.add_argument("--size", type=int, default=256, help="image height and width (the papers: 256)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    p.add_argument("--precisions", nargs="+", default=["no", "bf16"])
    p.add_argument("--methods", nargs="+", default=["pix2pix", "cyclegan"], choices=sorted(RECIPES))
    p.add_argument("--rounds", type=int, default=1, help="run every configuration this many times, in turn")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        method_name, batch, precision = args.one.split(":")
        print(json.dumps(run_one(method_name, int(batch), precision, args.steps, args.warmup, args.size)))
        return
    print("\n".join(describe_machine()), flush=True)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in args.methods}
    for rnd in range(1, args.rounds + 1):
        for method_name in args.methods:
            for batch in args.batches:
                for precision in args.precisions:
                    r = _run_process(method_name, batch, precision, args)
                    r["round"] = rnd
                    results[method_name].append(r)
                    if args.rounds > 1:
                        print(f"round {rnd}/{args.rounds} {method_name} batch {batch} {_label(precision)}: "
                              f"{r['s_per_iteration']:.3f} s/iteration", flush=True)
    for method_name in args.methods:
        _report(method_name, results[method_name], args)
    if "cyclegan" in args.methods and len(args.methods) > 1:
        _compare(results, args)


def _run_process(method_name: str, batch: int, precision: str, args: argparse.Namespace) -> dict[str, Any]:
    """One configuration in a fresh process; its result."""
    cmd = [sys.executable, __file__, "--one", f"{method_name}:{batch}:{precision}",
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--size", str(args.size)]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(f"benchmark {method_name} {batch}:{precision} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _label(precision: str) -> str:
    return "fp32" if precision == "no" else precision


def _report(method_name: str, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{method_name} ({RECIPES[method_name].name}, {args.size}x{args.size}), device {results[0]['device']}, "
          f"{results[0]['threads']} threads, {args.steps} timed steps after {args.warmup} warm-up")
    print(f"{'batch':>5} {'precision':>9} {'train img/s':>12} {'peak MB':>9} {'infer ms/img':>13} {'s/iter':>8} "
          f"{'step MB':>8} {'round':>5}")
    for r in sorted(results, key=lambda r: (r["batch"], r["precision"], r["round"])):
        print(f"{r['batch']:>5} {r['precision']:>9} {r['train_images_per_s']:>12.2f} "
              f"{r['peak_memory_mb']:>9.0f} {r['infer_ms_per_image']:>13.1f} {r['s_per_iteration']:>8.3f} "
              f"{r['step_memory_mb']:>8.0f} {r['round']:>5}")
    for batch in args.batches:
        fp32 = [r for r in results if r["batch"] == batch and r["precision"] == "no"]
        bf16 = [r for r in results if r["batch"] == batch and r["precision"] == "bf16"]
        if fp32 and bf16:
            train = _median(bf16, "train_images_per_s") / _median(fp32, "train_images_per_s")
            infer = _median(fp32, "infer_ms_per_image") / _median(bf16, "infer_ms_per_image")
            print(f"batch {batch}: bf16 / fp32 speed-up: training {train:.2f}x, inference {infer:.2f}x"
                  + (f" (medians of {args.rounds} rounds)" if args.rounds > 1 else ""))


def _median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def _span(values: list[float], fmt: str) -> str:
    """``a to b`` for several values that differ in print, else the one value."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo} to {hi}"


def _compare(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    """Each method's seconds per iteration and memory against CycleGAN's, beside the CUT paper's ratios."""
    cuda = results["cyclegan"][0]["device"].startswith("cuda")
    mem_key = "peak_memory_mb" if cuda else "step_memory_mb"
    mem_what = ("the CUDA allocator's peak (torch.cuda.max_memory_allocated)" if cuda else
                "the growth of the process's peak RSS over the steps")
    # (result key, number format, column width, index of the paper's figure, width of the paper's column)
    columns = (("s_per_iteration", ".3f", 16, 0, 8), (mem_key, ".0f", 14, 1, 9))
    for batch in args.batches:
        for precision in args.precisions:
            rows = {m: [r for r in rs if r["batch"] == batch and r["precision"] == precision]
                    for m, rs in results.items()}
            base = {r["round"]: r for r in rows["cyclegan"]}
            print(f"\nCost against CycleGAN: batch {batch}, {_label(precision)}, {args.size}x{args.size}, "
                  f"{results['cyclegan'][0]['device']}, {args.rounds} round(s) of {args.steps} timed steps")
            print(f"ranges over the rounds; ratio: of the medians [range of the rounds' own ratios]; "
                  f"memory: {mem_what}; paper: CUT paper, Table 1 (GPU, 256x256, batch 1)")
            print(f"{'method':<9} {'s/iteration':>16} {'ratio':>18} {'paper s':>8} {'ratio':>6} "
                  f"{'memory MB':>14} {'ratio':>18} {'paper GB':>9} {'ratio':>6}")
            for m, rs in rows.items():
                cells = [f"{m:<9}"]
                for key, fmt, wide, index, paper_wide in columns:
                    paper = PAPER[m][index] if m in PAPER else None
                    if m == "cyclegan":
                        ratio = paper_ratio = "1"
                    else:
                        ratios = [r[key] / base[r["round"]][key] for r in rs
                                  if r["round"] in base and base[r["round"]][key] > 0]
                        ref = _median(rows["cyclegan"], key)
                        ratio = format(_median(rs, key) / ref, ".2f") if ref > 0 else "-"
                        ratio += f" [{_span(ratios, '.2f')}]" if len(ratios) > 1 else ""
                        paper_ratio = "-" if paper is None else format(paper / PAPER["cyclegan"][index], ".3f")
                    cells += [f"{_span([r[key] for r in rs], fmt):>{wide}}", f"{ratio:>18}",
                              f"{'-' if paper is None else format(paper, '.2f'):>{paper_wide}}", f"{paper_ratio:>6}"]
                print(" ".join(cells))

if __name__ == "__main__":
    main()
