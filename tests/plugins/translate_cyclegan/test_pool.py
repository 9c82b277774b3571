"""CycleGAN's image history pool: fills, then swaps with probability 0.5; deterministic; resumable."""

from __future__ import annotations

import torch

from translate_cyclegan.pool import ImagePool


def _batch(start: int, n: int = 1) -> torch.Tensor:
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def test_fills_then_returns_new_or_older_half_the_time() -> None:
    pool = ImagePool(4, seed=0)
    for i in range(4):  # filling: every image is stored and returned as is
        assert torch.equal(pool.query(_batch(i)), _batch(i))
    assert len(pool.images) == 4
    older = 0
    trials = 2000
    for i in range(4, 4 + trials):
        out = pool.query(_batch(i))
        older += int(out[0, 0, 0, 0].item() != i)
        assert len(pool.images) == 4
    assert 0.45 < older / trials < 0.55


def test_swapped_image_goes_into_the_pool() -> None:
    pool = ImagePool(1, seed=1)
    pool.query(_batch(0))
    for i in range(1, 50):
        before = pool.images[0].clone()
        out = pool.query(_batch(i))
        if not torch.equal(out, _batch(i)):  # an older image came back: the new one took its place
            assert torch.equal(out, before) and torch.equal(pool.images[0], _batch(i))
        else:
            assert torch.equal(pool.images[0], before)


def test_batches_are_handled_image_by_image() -> None:
    pool = ImagePool(3, seed=0)
    out = pool.query(_batch(0, n=5))
    assert out.shape == (5, 1, 2, 2)
    assert torch.equal(out[:3], _batch(0, n=3))  # the first three filled the pool


def test_deterministic_under_a_seed_and_resumable() -> None:
    a, b = ImagePool(5, seed=7), ImagePool(5, seed=7)
    outs_a = [a.query(_batch(i)) for i in range(20)]
    outs_b = [b.query(_batch(i)) for i in range(20)]
    assert all(torch.equal(x, y) for x, y in zip(outs_a, outs_b))
    c = ImagePool(5, seed=123)
    c.load_state_dict(a.state_dict())
    for i in range(20, 40):
        assert torch.equal(a.query(_batch(i)), c.query(_batch(i)))


def test_size_zero_passes_images_through() -> None:
    pool = ImagePool(0)
    x = torch.randn(3, 3, 4, 4)
    assert pool.query(x) is x


def test_the_batch_layout_is_kept() -> None:
    """A channels_last batch (the CPU fast plan's) comes back channels_last, a contiguous one contiguous."""
    for n in (1, 3):
        torch.manual_seed(n)
        pool, twin = ImagePool(2, seed=4), ImagePool(2, seed=4)
        for _ in range(6):
            x = torch.randn(n, 3, 4, 5)
            out = pool.query(x.contiguous(memory_format=torch.channels_last))
            ref = twin.query(x)
            assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
            assert ref.is_contiguous() and torch.equal(out, ref)
