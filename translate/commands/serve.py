"""``translate serve MODEL [--host 127.0.0.1] [--port 8000]``: the HTTP inference API (see :mod:`.http`)."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from ..apps.serve.limits import Limits
from ..inference.backend_choice import default_backend


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``translate serve``."""
    parser.add_argument("model", help="a model folder, a model.safetensors file, a run folder, or hf://owner/name[@rev]")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; the API has no "
                        "authentication, so put it behind a proxy before opening it to a network)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    add_runtime_arguments(parser)
    d = Limits()
    parser.add_argument("--max-batch", type=int, default=d.max_batch, help=f"requests per batch at most (default {d.max_batch})")
    parser.add_argument("--max-wait-ms", type=float, default=d.max_wait_ms,
                        help=f"how long a request waits for others to batch with (default {d.max_wait_ms:g} ms)")
    parser.add_argument("--max-queue", type=int, default=d.max_queue,
                        help=f"requests in progress at most; more get 503 with Retry-After (default {d.max_queue})")
    parser.add_argument("--deadline-ms", type=float, default=d.deadline_ms,
                        help="a request that waited longer than this in the queue gets 503 with Retry-After instead "
                        "of being computed (default: no deadline)")
    parser.add_argument("--max-mb", type=float, default=d.max_bytes / 2**20,
                        help=f"largest request body in MiB (default {d.max_bytes / 2**20:g})")
    parser.add_argument("--max-pixels", type=int, default=d.max_pixels,
                        help=f"largest image in width x height pixels (default {d.max_pixels} = 2048 x 2048)")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    return parser


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--precision``, ``--mode``, ``--seed`` and ``--backend``, shared with ``translate demo``."""
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32")
    parser.add_argument("--mode", choices=["model", "eval", "train"], default="model",
                        help="test-time mode: the one recorded in the model (default), eval, or train (paper)")
    parser.add_argument("--seed", type=int, default=0, help="seed for dropout in train mode")
    parser.add_argument("--backend", choices=["auto", "torch", "onnx"], default=None,
                        help="auto (default; $TRANSLATE_BACKEND changes it): whichever of PyTorch and ONNX Runtime "
                        "measured faster for this model on this machine; torch; or onnx: ONNX Runtime on the CPU "
                        "(fp32, eval mode; needs the onnx extra)")


def limits_from(args: argparse.Namespace) -> Limits:
    """The :class:`Limits` that the command-line options ask for."""
    d = Limits()
    return Limits(max_bytes=int(getattr(args, "max_mb", d.max_bytes / 2**20) * 2**20),
                  max_pixels=getattr(args, "max_pixels", d.max_pixels), max_batch=getattr(args, "max_batch", d.max_batch),
                  max_wait_ms=getattr(args, "max_wait_ms", d.max_wait_ms), max_queue=getattr(args, "max_queue", d.max_queue),
                  deadline_ms=getattr(args, "deadline_ms", d.deadline_ms))


def serve_cli(args: argparse.Namespace) -> int:
    """``translate serve``: load the model, bind, print the address and serve until Ctrl-C."""
    from ..apps.serve.http import ENDPOINTS, make_server
    from ..apps.serve.service import ModelService

    service = ModelService(args.model, limits=limits_from(args), device=args.device, dtype=args.precision,
                           mode=args.mode, seed=args.seed, backend=default_backend(getattr(args, "backend", None)))
    server = make_server(service, args.host, args.port, verbose=args.verbose)
    try:
        if not _is_loopback(args.host):
            print(f"warning: listening on {args.host}: reachable from other machines, without authentication",
                  file=sys.stderr)
        d = service.describe()
        print(f"serving {service.name} ({d['method']}: {', '.join(x['direction'] for x in d['directions'])}) "
              f"on {server.url}", flush=True)
        choice = service.pipeline.backend_choice
        if choice is not None:  # backend auto: what it chose for the default generator, and why
            print(f"  {choice.describe()}", flush=True)
        for route, what in ENDPOINTS.items():
            print(f"  {route:<16} {what}")
        print(f"example: curl --data-binary @input.png -H 'Content-Type: image/png' {server.url}/translate -o out.png",
              flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
        service.close()
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = ["add_runtime_arguments", "add_serve_arguments", "limits_from", "serve_cli"]
