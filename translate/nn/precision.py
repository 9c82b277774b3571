"""Whether a device computes bf16 natively: the fact the training speed plan and the inference fast
path both decide on."""

from __future__ import annotations

import os

import torch


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` computes bf16 natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX).

    Without it bf16 autocast is emulated and slower than fp32, so the fast preset keeps fp32.
    """
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        if isa_capped_below_bf16():
            return False
        cpu = torch.cpu
        return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                    or getattr(cpu, "_is_amx_tile_supported", lambda: False)())
    return False


BF16_LESS_ISAS = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"})
"""oneDNN instruction-set caps (``ONEDNN_MAX_CPU_ISA``) under which its bf16 kernels are emulated."""


def isa_capped_below_bf16() -> bool:
    """Whether ``ONEDNN_MAX_CPU_ISA`` (or its old name ``DNNL_MAX_CPU_ISA``) caps oneDNN below native bf16.

    The cap makes a CPU with AVX512-BF16 compute like one without it (bf16 convolutions measured 54x
    slower than fp32 under ``ONEDNN_MAX_CPU_ISA=AVX2``), so the flags alone would mislead.
    """
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    return cap in BF16_LESS_ISAS
