"""translate.data.augment.PairedAugment: same geometry for input and target, seeded, checked sizes."""

from __future__ import annotations

import numpy as np
import pytest

from translate.data.augment import PairedAugment
from translate.errors import DataError

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _image(h: int = 40, w: int = 52, seed: int = 0) -> np.ndarray:
    """Distinct, unclipped values (0.2..0.8) so any misalignment shows."""
    return np.random.default_rng(seed).uniform(0.2, 0.8, size=(h, w, 3)).astype(np.float32)


@pytest.mark.parametrize("preprocess", ["crop", "resize_and_crop", "scale_width_and_crop", "resize", "none"])
def test_same_geometry_with_different_channel_counts(preprocess):
    aug = PairedAugment(preprocess, load_size=36, crop_size=32, flip=True, size_multiple=16)
    x = _image()
    y = (x @ LUMA)[:, :, None]  # a 1-channel target derived from the input
    for seed in range(12):
        a, b = aug(x, y, seed)
        assert a.shape[2] == 3 and b.shape[2] == 1 and a.shape[:2] == b.shape[:2]
        # resizing, cropping and flipping are linear per channel, so luminance commutes with them
        np.testing.assert_allclose((a @ LUMA)[:, :, None], b, atol=1e-5)


def test_crop_and_flip_take_the_same_window():
    h, w = 40, 52
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.stack([yy / h, xx / w, np.zeros_like(xx)], axis=2)  # each pixel knows where it came from
    rgba = np.concatenate([coords, np.ones((h, w, 1), np.float32)], axis=2)
    aug = PairedAugment("crop", crop_size=32, flip=True)
    flips = set()
    for seed in range(20):
        a, b = aug(coords, rgba, seed)
        np.testing.assert_array_equal(a, b[:, :, :3])
        flips.add(bool(a[0, 0, 1] > a[0, -1, 1]))
    assert flips == {True, False}  # both flipped and unflipped crops occur


def test_reproducible_per_seed_and_varies_across_seeds():
    aug = PairedAugment("resize_and_crop", load_size=48, crop_size=32)
    x, y = _image(), _image(seed=1)
    first = aug(x, y, 1234)
    again = PairedAugment("resize_and_crop", load_size=48, crop_size=32)(x, y, 1234)
    for p, q in zip(first, again):
        np.testing.assert_array_equal(p, q)
    outputs = {aug(x, y, s)[0].tobytes() for s in range(8)}
    assert len(outputs) > 4
    big = aug(x, y, 2**63 - 1)[0]  # 63-bit item seeds (translate.data.contract.item_seed) are fine
    assert big.shape == (32, 32, 3)


def test_eval_mode_is_deterministic_without_flip():
    x = _image()
    aug = PairedAugment("resize_and_crop", load_size=48, crop_size=32, flip=True, train=False)
    outs = [aug(x, x, s)[0] for s in range(5)]
    assert all(np.array_equal(outs[0], o) for o in outs)
    assert outs[0].shape == (32, 32, 3)
    centre = PairedAugment("crop", crop_size=32, train=False)(x, x, 0)[0]
    np.testing.assert_array_equal(centre, x[4:36, 10:42])


def test_output_sizes():
    x = _image(40, 80)
    assert PairedAugment("scale_width_and_crop", load_size=48, crop_size=32)(x, x, 0)[0].shape == (32, 32, 3)
    assert PairedAugment("resize", crop_size=24)(x, x, 0)[0].shape == (24, 24, 3)
    none = PairedAugment("none", size_multiple=16, flip=False)
    assert none(x, x, 0)[0].shape == (48, 80, 3)
    np.testing.assert_array_equal(PairedAugment("none", flip=False)(x, x, 3)[0], x)


def test_16bit_precision_is_kept():
    x = (np.random.default_rng(0).integers(0, 65536, (40, 40, 1)) / 65535).astype(np.float32)
    a, _ = PairedAugment("crop", crop_size=32, flip=False, train=False)(x, x, 0)
    np.testing.assert_array_equal(a, x[4:36, 4:36])


def test_size_mismatch_names_the_item():
    aug = PairedAugment("crop", crop_size=32)  # resizing modes now resize both sides
    with pytest.raises(DataError, match="'photo_7'.*52x40.*50x40"):
        aug(_image(), _image(40, 50), 0, name="photo_7")


def test_too_small_for_crop():
    with pytest.raises(DataError, match="smaller than crop_size"):
        PairedAugment("crop", crop_size=64)(_image(), _image(), 0, name="x")


def test_invalid_settings():
    with pytest.raises(ValueError, match="preprocess"):
        PairedAugment("zoom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exceed"):
        PairedAugment("resize_and_crop", load_size=32, crop_size=64)
    with pytest.raises(ValueError, match="multiple"):
        PairedAugment("resize", crop_size=30, size_multiple=16)
