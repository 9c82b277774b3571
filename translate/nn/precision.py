"""Whether a device computes bf16 natively: the fact the training speed plan and the inference fast
path both decide on."""

from __future__ import annotations

import torch


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` computes bf16 natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX).

    Without it bf16 autocast is emulated and slower than fp32, so the fast preset keeps fp32.
    """
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        cpu = torch.cpu
        return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                    or getattr(cpu, "_is_amx_tile_supported", lambda: False)())
    return False
