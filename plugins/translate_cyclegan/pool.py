"""Image history pool (Shrivastava et al. 2017), as CycleGAN uses it for its discriminators."""

from __future__ import annotations

from typing import Any

import torch

from translate.api import is_channels_last


class ImagePool:
    """Keeps up to ``size`` generated images. Each query returns, per image, with probability
    0.5 an older image from the pool (replacing it with the new one), else the new image;
    until the pool is full every image is stored and returned as is.

    Randomness comes from the pool's own generator, seeded explicitly, so a run is
    reproducible and the pool (images and generator) is part of the resumable state.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        if size < 0:
            raise ValueError("pool size must be >= 0")
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Images for the discriminator: a (N, C, H, W) batch mixing new and older fakes."""
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                slot = int(torch.randint(self.size, (), generator=self.generator).item())
                older = self.images[slot]
                self.images[slot] = image.clone()
                out.append(older.to(image.device, image.dtype))
            else:
                out.append(image)
        # torch.cat of (1, C, H, W) pieces returns a contiguous batch; a channels_last batch stays channels_last
        layout = torch.channels_last if is_channels_last(images) else torch.contiguous_format
        return torch.cat(out, dim=0).contiguous(memory_format=layout)

    def state_dict(self) -> dict[str, Any]:
        stacked = torch.cat(self.images).cpu() if self.images else torch.zeros(0)
        return {"size": self.size, "images": stacked, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str | None = None) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"pool size {state['size']} in the checkpoint, {self.size} in the recipe")
        images = state["images"]
        self.images = [img.unsqueeze(0).to(device) for img in images] if images.numel() else []
        self.generator.set_state(state["generator"])


def process_rank() -> tuple[int, int]:
    """This process's rank and the number of processes (0, 1 outside a process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_pool_states(pools: list[ImagePool]) -> list[list[dict[str, Any]]]:
    """Every process's ``state_dict()`` of ``pools``, indexed by rank; a collective: all processes call it.

    Pools of different processes may hold different numbers of images: they travel padded, as float32
    (exact for fp16/bf16 fakes), and come back cut to size in this process's image dtype.
    """
    _, world = process_rank()
    local = [pool.state_dict() for pool in pools]
    if world == 1:
        return [local]
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")

    def gather(tensor: torch.Tensor) -> list[torch.Tensor]:
        out = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(out, tensor)
        return [t.cpu() for t in out]

    per_rank: list[list[dict[str, Any]]] = [[] for _ in range(world)]
    for state in local:
        images = state["images"]
        shape = list(images.shape) if images.numel() else [0, 0, 0, 0]
        shapes = gather(torch.tensor(shape, dtype=torch.int64, device=device))
        biggest = torch.stack(shapes).amax(dim=0).tolist()
        padded = torch.zeros(biggest, dtype=torch.float32, device=device)
        if images.numel():
            padded[: shape[0], : shape[1], : shape[2], : shape[3]] = images.to(device, torch.float32)
        all_images = gather(padded) if padded.numel() else [padded.cpu()] * world
        generators = gather(state["generator"].to(device))
        for r in range(world):
            n, c, h, w = shapes[r].tolist()
            mine = all_images[r][:n, :c, :h, :w].to(images.dtype) if n else torch.zeros(0)
            per_rank[r].append({"size": state["size"], "images": mine, "generator": generators[r]})
    return per_rank
