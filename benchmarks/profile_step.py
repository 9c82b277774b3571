"""Where the time of one train step goes: torch.profiler over a few steps, grouped by kind of work.

Builds the method as ``bench_speed.py`` does (the real engine path, one configuration per process:
Accelerate keeps one precision per process), runs ``--warmup`` steps, profiles ``--steps`` steps and
prints the self CPU time (or CUDA time on a GPU) per group: convolution forward, convolution backward,
BatchNorm (forward and backward), activations and other element-wise work, autocast's casts, the
optimizer, and the rest; then the ten most expensive operators. Not a test.

    python benchmarks/profile_step.py pix2pix:1 [--speed reference|fast] [--steps 3] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

GROUPS = (  # first match wins; names are aten operator names as the profiler reports them
    ("convolution backward", ("convolution_backward", "mkldnn_convolution_backward", "cudnn_convolution_backward")),
    ("convolution forward", ("convolution", "_convolution", "conv2d", "conv_transpose2d", "mkldnn_convolution",
                             "cudnn_convolution")),
    ("BatchNorm", ("batch_norm", "native_batch_norm")),
    ("optimizer (Adam)", ("_fused_adam", "_foreach", "adam", "addcdiv", "addcmul", "lerp")),
    ("autocast casts / copies", ("_to_copy", "copy_", "to", "clone", "contiguous")),
    ("element-wise (activations, losses, dropout, tanh, cat, grads)",
     ("relu", "leaky_relu", "threshold_backward", "tanh", "dropout", "mul", "add", "sub", "div", "cat",
      "where", "abs", "sum", "mean", "fill_", "zero_", "binary_cross_entropy", "sigmoid", "bernoulli",
      "native_dropout", "neg", "sign", "pow", "sqrt", "exp", "log", "empty", "leaky_relu_backward",
      "tanh_backward", "masked", "slice", "narrow", "as_strided", "view", "reshape", "expand")),
)


def group_of(name: str) -> str:
    """The group of an operator name such as ``aten::convolution_backward``."""
    short = name.split("::")[-1]
    for group, keys in GROUPS:
        if any(short == k or short.startswith(k + "_") or short.startswith(k) for k in keys):
            return group
    return "other"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="METHOD:BATCH, e.g. pix2pix:1 or cyclegan:1")
    p.add_argument("--speed", default="reference", choices=["reference", "fast"])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--set", dest="overrides", action="append", default=[], help="extra recipe override")
    args = p.parse_args()
    import torch
    from bench_speed import Worker
    from torch.profiler import ProfilerActivity, profile

    what, batch = args.config.split(":")
    worker = Worker(what, int(batch), [f'train.speed="{args.speed}"', *args.overrides], args.size)
    for _ in range(args.warmup):
        worker.step()
    cuda = worker.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        wall = sum(worker.step() for _ in range(args.steps))
    totals: dict[str, float] = defaultdict(float)
    rows = []
    for evt in prof.key_averages():
        t = (evt.self_device_time_total if cuda else evt.self_cpu_time_total) / 1e3 / args.steps  # ms per step
        if t <= 0:
            continue
        totals[group_of(evt.key)] += t
        rows.append((t, evt.key))
    measured = sum(totals.values())
    print(f"{args.config} {args.speed} [{worker.plan.describe()}], {args.size}x{args.size}: "
          f"{1000 * wall / args.steps:.0f} ms per step (profiled), {measured:.0f} ms of operator self time")
    for group, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {group:<64} {t:8.1f} ms  {100 * t / measured:5.1f}%")
    print("  top operators:")
    for t, key in sorted(rows, reverse=True)[:10]:
        print(f"    {key:<60} {t:8.1f} ms")
    del torch


if __name__ == "__main__":
    main()
