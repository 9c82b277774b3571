"""Image history pool (Shrivastava et al. 2017), as CycleGAN uses it for its discriminators."""

from __future__ import annotations

from typing import Any

import torch


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
        return torch.cat(out, dim=0)

    def state_dict(self) -> dict[str, Any]:
        stacked = torch.cat(self.images).cpu() if self.images else torch.zeros(0)
        return {"size": self.size, "images": stacked, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str | None = None) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"pool size {state['size']} in the checkpoint, {self.size} in the recipe")
        images = state["images"]
        self.images = [img.unsqueeze(0).to(device) for img in images] if images.numel() else []
        self.generator.set_state(state["generator"])
