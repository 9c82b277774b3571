"""FID and KID against clean-fid 0.1.35 itself, in each of its three modes.

The Inception weights are random (torch-fidelity's layout, under the real file name), with batch-norm
statistics taken from one batch of random images so that the features are of order 1: plain random
weights give 2048 features of order 1e-8, which a 1e-6 comparison could not tell apart. clean-fid is
given the same weights: for "legacy_pytorch" its own pytorch-fid network, for "clean" and
"legacy_tensorflow" a feature extractor written here that does what clean-fid's ``InceptionV3W.forward``
does around torch-fidelity's layers (the TorchScript file it normally runs is NVIDIA's; the skipped
parity test at the end compares with it when the files are present).

FID's matrix square root of 2048x2048 covariances takes 10 to 20 s on a small CPU, so the whole-pipeline
FID is compared on the 192-wide features; the 2048 features themselves and KID are compared at 2048.
"""

from __future__ import annotations

import contextlib
import os
import unittest.mock
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import translate
from tests.support.features import Identity
from translate.api import EvalBatch, MetricContext, ReferenceStatistics, TranslateError
from translate.errors import OptionsInvalid

INCEPTION = "weights-inception-2015-12-05-6726825d.pth"
MODES = ("clean", "legacy_tensorflow", "legacy_pytorch")
CPU = torch.device("cpu")
CTX = MetricContext(device=CPU, build=lambda *a, **k: None, where="eval.options.fid")
STAGES = {64: ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1"],
          192: ["Conv2d_3b_1x1", "Conv2d_4a_3x3", "MaxPool_2"],
          2048: ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                 "Mixed_7a", "Mixed_7b", "Mixed_7c"]}


# --------------------------------------------------------------------------- fixtures and helpers


def random_inception(state: dict | None = None):
    """torch-fidelity's FeatureExtractorInceptionV3, random (``state`` None) or holding ``state``; no download."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with contextlib.ExitStack() as stack:
        stack.enter_context(unittest.mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url",
                                                lambda *args, **kwargs: {} if state is None else state))
        if state is None:
            stack.enter_context(unittest.mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict",
                                                           lambda self, sd, **kw: None))
        return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """Random Inception weights whose batch norms are set from one batch of random images (features of order 1)."""
    torch.manual_seed(0)
    net = random_inception()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # the running statistics become the batch's
            module.reset_running_stats()
    net.train()
    with torch.no_grad():
        net(torch.randint(0, 256, (4, 3, 299, 299), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)))
    path = tmp_path_factory.mktemp("weights") / INCEPTION
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def state_dict(weights) -> dict:
    return torch.load(weights, weights_only=True)


@pytest.fixture(scope="module")
def fidelity(state_dict):
    """torch-fidelity's network with the test weights, for the extractor that stands in for clean-fid's TorchScript."""
    return random_inception(state_dict).eval()


@pytest.fixture(scope="module")
def registry():
    return translate.get_registry()


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Three non-square RGB PNGs (generated) and three square grey PNGs (real)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    out = {}
    for kind, shape in (("fake", (48, 64, 3)), ("real", (40, 40))):
        out[kind] = root / kind
        out[kind].mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(out[kind] / f"{i}.png")
    return out


def as_translate_feeds(files: list[Path]) -> torch.Tensor:
    """Images as translate's data pipeline gives them to a metric: float32 (N, C, H, W) in [-1, 1] (grey: C = 1)."""
    arrays = [np.array(Image.open(f)) for f in files]
    pixels = torch.from_numpy(np.stack(arrays))
    pixels = pixels.unsqueeze(-1) if pixels.dim() == 3 else pixels
    return pixels.permute(0, 3, 1, 2).float() / 255 * 2 - 1


def pngs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png"))


def build(registry, name: str, **options):
    ctx = MetricContext(device=CPU, build=CTX.build, where=f"eval.options.{name}")
    return registry.components["metric"][name].build(options, ctx=ctx)


def feed(metric, fake: torch.Tensor, real: torch.Tensor) -> None:
    metric.update(EvalBatch(fake=fake, real=real, input=fake, names=[str(i) for i in range(len(fake))], aligned=False))


class TorchScriptLike(torch.nn.Module):
    """What clean-fid's InceptionV3W.forward does (images in [0, 255]), around torch-fidelity's layers up to ``width``:
    with ``resize_inside`` NVIDIA's emulation of TensorFlow 1's bilinear resize first, else a 299x299 check."""

    def __init__(self, net, resize_inside: bool, width: int = 2048) -> None:
        super().__init__()
        names = [n for w, group in STAGES.items() if w <= width for n in group]
        self.layers = torch.nn.Sequential(*(getattr(net, n) for n in names))
        self.resize_inside = resize_inside

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        if self.resize_inside:
            theta = torch.eye(2, 3)
            theta[0, 2] += theta[0, 0] / width - theta[0, 0] / 299
            theta[1, 2] += theta[1, 1] / height - theta[1, 1] / 299
            grid = F.affine_grid(theta.unsqueeze(0).repeat([batch, 1, 1]), [batch, channels, 299, 299], False)
            x = F.grid_sample(x, grid, "bilinear", "border", False)
        else:
            assert (height, width) == (299, 299)
        x = x - 128
        x = x / 128
        return F.adaptive_avg_pool2d(self.layers(x), (1, 1)).reshape(batch, -1)


def cleanfid_extractor(mode: str, width: int, fidelity, state_dict, monkeypatch):
    """clean-fid's feature network of ``mode`` with the test weights (pytorch-fid's own for legacy_pytorch)."""
    import cleanfid.features
    import cleanfid.inception_pytorch

    if mode != "legacy_pytorch":
        return TorchScriptLike(fidelity, resize_inside=mode == "legacy_tensorflow", width=width).eval()
    monkeypatch.setattr(cleanfid.inception_pytorch, "load_state_dict_from_url", lambda *args, **kwargs: state_dict)
    if width == 2048:
        return cleanfid.features.feature_extractor(name="pytorch_inception", device=CPU, use_dataparallel=False)
    blocks = cleanfid.inception_pytorch.InceptionV3(output_blocks=[{64: 0, 192: 1}[width]], resize_input=False).eval()
    return lambda x: F.adaptive_avg_pool2d(blocks(x / 255)[0], (1, 1)).flatten(1)


# --------------------------------------------------------------------------- (1) what reaches the network


@pytest.mark.parametrize("mode", MODES)
def test_network_input_equals_cleanfids_data_loader(mode, tmp_path):
    """Quantisation, grey to RGB, clean-fid's resize and ToTensor: bit for bit what clean-fid's loader gives."""
    from cleanfid.utils import ResizeDataset

    from translate_metrics.distribution import FID
    from translate_metrics.options import FIDOptions

    rng = np.random.default_rng(1)
    files = []
    for i, shape in enumerate([(17, 23, 3), (299, 299, 3), (64, 64, 3), (320, 410, 3), (300, 200, 3), (31, 45)]):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(files[-1])
    metric = FID(Identity(2048), FIDOptions(mode=mode), CTX)
    dataset = ResizeDataset([str(f) for f in files], mode=mode)
    for i, file in enumerate(files):
        expected = dataset[i]
        ours = metric.network_input(as_translate_feeds([file]))[0]
        assert ours.dtype == expected.dtype == torch.float32 and ours.shape == expected.shape, file.name
        assert torch.equal(ours, expected), (file.name, (ours - expected).abs().max().item())
        size = tuple(expected.shape[1:])
        assert size == ((299, 299) if mode != "legacy_tensorflow" else Image.open(file).size[::-1])
    if mode == "clean":  # not quantised: the bicubic's fractions reach the network
        assert not torch.equal(ours, ours.round())


def test_clean_fids_resizer_leaves_the_warning_filters_alone():
    import warnings

    from translate_metrics.modes import build_resizer

    before = list(warnings.filters)
    for mode in MODES:
        build_resizer(mode)
    assert warnings.filters == before  # clean-fid's legacy_pytorch resizer would switch every warning off


# --------------------------------------------------------------------------- (2) the arithmetic is clean-fid's


def test_fid_equals_cleanfids_frechet_distance():
    from cleanfid.fid import frechet_distance

    from translate_metrics.distribution import FID
    from translate_metrics.options import FIDOptions

    rng = np.random.default_rng(2)
    fake = rng.normal(size=(30, 8)).astype(np.float32)
    real = (rng.normal(size=(25, 8)) * 1.5 + 0.3).astype(np.float32)
    metric = FID(Identity(8), FIDOptions(), CTX)
    metric.add_features(fake[:10], real[:20])
    metric.add_features(fake[10:], real[20:])
    expected = frechet_distance(np.mean(fake, axis=0), np.cov(fake, rowvar=False),
                                np.mean(real, axis=0), np.cov(real, rowvar=False))
    assert expected > 1 and metric.compute()["fid"] == pytest.approx(expected, rel=1e-6)


def test_kid_equals_cleanfids_kernel_distance_and_restores_numpys_generator():
    from cleanfid.fid import kernel_distance

    from translate_metrics.distribution import KID
    from translate_metrics.options import KIDOptions

    rng = np.random.default_rng(3)
    fake = rng.normal(size=(30, 16)).astype(np.float32)
    real = (rng.normal(size=(24, 16)) + 0.4).astype(np.float32)
    metric = KID(Identity(16), KIDOptions(subsets=6, subset_size=10, seed=5), CTX)
    metric.add_features(fake, real)
    np.random.seed(123)
    following = np.random.random(3)
    np.random.seed(123)
    values = metric.compute()
    assert np.array_equal(np.random.random(3), following)  # the caller's random stream is untouched

    np.random.seed(5)
    assert values["kid"] == pytest.approx(kernel_distance(fake, real, num_subsets=6, max_subset_size=10), rel=1e-6)
    np.random.seed(5)  # the subsets by hand: real, then generated, without replacement, each of 10
    per_subset = []
    for _ in range(6):
        x = real[np.random.choice(len(real), 10, replace=False)].astype(np.float64)
        y = fake[np.random.choice(len(fake), 10, replace=False)].astype(np.float64)
        kxx, kyy, kxy = ((p @ q.T / 16 + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        per_subset.append((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / 90 - 2 * kxy.sum() / 100)
    assert values["kid"] == pytest.approx(np.mean(per_subset), rel=1e-5)
    assert values["kid_std"] == pytest.approx(np.std(per_subset), rel=1e-4) and values["kid_std"] > 0
    assert metric.protocol()["subset_size"] == 10 and metric.compute() == values


def test_fid_records_what_clean_fid_prints_and_explains_its_error(monkeypatch):
    import cleanfid.fid

    from translate_metrics.distribution import FID
    from translate_metrics.options import FIDOptions

    metric = FID(Identity(4), FIDOptions(), CTX)
    metric.add_features(np.eye(4, dtype=np.float32), np.ones((4, 4), np.float32))

    def singular(*args, **kwargs):
        print("fid calculation produces singular product; adding 1e-06 to diagonal of cov estimates")
        return 2.5

    monkeypatch.setattr(cleanfid.fid, "frechet_distance", singular)
    assert metric.compute() == {"fid": 2.5}
    assert any("singular product" in note for note in metric.protocol()["notes"])

    def imaginary(*args, **kwargs):
        raise ValueError("Imaginary component 0.25")

    monkeypatch.setattr(cleanfid.fid, "frechet_distance", imaginary)
    with pytest.raises(TranslateError) as info:
        metric.compute()
    message = str(info.value)
    assert "Imaginary component 0.25" in message and "more images" in message and "eval.options.fid.feature" in message


# --------------------------------------------------------------------------- (3) the whole pipeline


@pytest.mark.parametrize("mode", MODES)
def test_features_fid_and_kid_equal_clean_fid(mode, registry, weights, state_dict, fidelity, folders, monkeypatch):
    import cleanfid.fid

    fake, real = as_translate_feeds(pngs(folders["fake"])), as_translate_feeds(pngs(folders["real"]))
    assert real.shape[1] == 1  # grey: repeated to RGB as PIL's convert("RGB") does for clean-fid

    # the 2048 features (clean-fid's) and KID
    kid = build(registry, "kid", weights=str(weights), mode=mode, subsets=4, subset_size=2, seed=7)
    feed(kid, fake, real)
    ours = kid.feature_sets()
    extractor = cleanfid_extractor(mode, 2048, fidelity, state_dict, monkeypatch)
    theirs = {kind: cleanfid.fid.get_folder_features(str(folders[kind]), extractor, num_workers=0, batch_size=8,
                                                     device=CPU, mode=mode, verbose=False) for kind in ours}
    for kind in ours:
        assert ours[kind].dtype == np.float32 and ours[kind].shape == theirs[kind].shape == (3, 2048)
        assert theirs[kind].std(axis=0).mean() > 0.1  # features differ between images at order 1
        assert np.abs(ours[kind] - theirs[kind]).max() <= 1e-6, (kind, np.abs(ours[kind] - theirs[kind]).max())
    np.random.seed(7)
    expected_kid = cleanfid.fid.kernel_distance(theirs["fake"], theirs["real"], num_subsets=4, max_subset_size=2)
    assert abs(expected_kid) > 1e-3 and kid.compute()["kid"] == pytest.approx(expected_kid, rel=1e-6)

    # FID through clean-fid's compute_fid, on 192-wide features (a 2048-wide square root costs 10-20 s)
    fid = build(registry, "fid", weights=str(weights), mode=mode, feature=192)
    feed(fid, fake, real)
    value = fid.compute()["fid"]
    seen = []
    narrow = cleanfid_extractor(mode, 192, fidelity, state_dict, monkeypatch)

    def recording(x: torch.Tensor) -> torch.Tensor:
        out = narrow(x)
        seen.append(out.detach().numpy().copy())
        return out

    expected_fid = cleanfid.fid.compute_fid(str(folders["fake"]), str(folders["real"]), mode=mode,
                                            custom_feat_extractor=recording, device=CPU, num_workers=0,
                                            batch_size=8, verbose=False, use_dataparallel=False)
    assert len(seen) == 2  # one batch of each folder, generated first
    for kind, features in zip(("fake", "real"), seen):
        assert np.abs(fid.feature_sets()[kind] - features).max() <= 1e-6, kind
    assert expected_fid > 1 and value == pytest.approx(expected_fid, rel=1e-3)
    assert fid.protocol()["mode"] == mode and fid.protocol()["feature_dim"] == 192


# --------------------------------------------------------------------------- (4) reference statistics


@pytest.fixture(scope="module")
def small(registry, weights):
    """Generated and real images, their statistics (64-wide features, mode clean) and the values against them."""
    generator = torch.Generator().manual_seed(4)
    fake = torch.rand(4, 3, 32, 32, generator=generator) * 2 - 1
    real = torch.rand(5, 3, 24, 40, generator=generator) * 2 - 1
    maker = build(registry, "fid", weights=str(weights), feature=64)
    maker.add_real(real[:2])
    maker.add_real(real[2:])
    fid = build(registry, "fid", weights=str(weights), feature=64)
    kid = build(registry, "kid", weights=str(weights), feature=64, subsets=3, subset_size=3)
    feed(fid, fake, real)
    feed(kid, fake, real)
    return {"fake": fake, "real": real, "stats": maker.statistics(), "fid": fid.compute()["fid"],
            "kid": kid.compute()}


def with_reference(registry, weights, name, arrays, source, fake, **options):
    """A metric compared with ``arrays``, fed ``fake`` and real images that must be ignored."""
    metric = build(registry, name, weights=str(weights), feature=64, **options)
    metric.use_reference(arrays, source)
    feed(metric, fake, torch.zeros_like(fake))
    return metric


def test_statistics_round_trip_and_compare_as_the_real_images(registry, weights, small, tmp_path):
    stats = small["stats"]
    assert set(stats) == {"mu", "sigma", "feats", "mode", "count"}
    assert stats["mu"].dtype == np.float32 and stats["mu"].shape == (64,)
    assert stats["sigma"].dtype == np.float64 and stats["sigma"].shape == (64, 64)
    assert stats["feats"].dtype == np.float32 and stats["feats"].shape == (5, 64)
    assert stats["mode"].shape == () and stats["mode"].dtype.kind == "U" and str(stats["mode"]) == "clean"
    assert stats["count"].dtype == np.int64 and int(stats["count"]) == 5
    assert np.array_equal(stats["mu"], np.mean(stats["feats"], axis=0))
    np.savez(tmp_path / "stats.npz", **stats)
    with np.load(tmp_path / "stats.npz", allow_pickle=False) as data:
        loaded = {k: data[k] for k in data.files}
    for key, array in stats.items():
        assert loaded[key].dtype == array.dtype and np.array_equal(loaded[key], array), key

    fid = with_reference(registry, weights, "fid", loaded, "stats.npz", small["fake"])
    assert isinstance(fid, ReferenceStatistics)
    assert fid.compute()["fid"] == pytest.approx(small["fid"], rel=1e-9) and small["fid"] > 0
    protocol = fid.protocol()
    assert protocol["reference_mode"] == "clean" and protocol["reference_images"] == 5 and protocol["real_images"] == 5
    kid = with_reference(registry, weights, "kid", loaded, "stats.npz", small["fake"], subsets=3, subset_size=3)
    assert isinstance(kid, ReferenceStatistics) and kid.compute() == pytest.approx(small["kid"], rel=1e-9)

    kid.reset()  # the reference stays; generated images alone must be enough
    feed(kid, small["fake"][:2], small["fake"][:0])
    assert set(kid.compute()) == {"kid", "kid_std"}
    kid.reset()
    feed(kid, small["fake"][:1], small["fake"][:0])
    with pytest.raises(TranslateError, match="at least 2 generated images"):
        kid.compute()


def test_cleanfid_style_files(registry, weights, small, tmp_path):
    stats = small["stats"]
    fid_file = tmp_path / "horse2zebra_clean_custom_na.npz"  # as clean-fid's make_custom_stats writes them
    kid_file = tmp_path / "horse2zebra_clean_custom_na_kid.npz"
    np.savez_compressed(fid_file, mu=stats["mu"], sigma=stats["sigma"])
    np.savez_compressed(kid_file, feats=stats["feats"])
    read = {f.name: dict(np.load(f, allow_pickle=False)) for f in (fid_file, kid_file)}

    fid = with_reference(registry, weights, "fid", read[fid_file.name], fid_file.name, small["fake"])
    assert fid.compute()["fid"] == pytest.approx(small["fid"], rel=1e-9)
    assert fid.protocol()["reference_mode"] == "clean" and fid.protocol()["reference_images"] is None
    from_feats = with_reference(registry, weights, "fid", read[kid_file.name], kid_file.name, small["fake"])
    assert from_feats.compute()["fid"] == pytest.approx(small["fid"], rel=1e-9)
    kid = with_reference(registry, weights, "kid", read[kid_file.name], kid_file.name, small["fake"],
                         subsets=3, subset_size=3)
    assert kid.compute() == pytest.approx(small["kid"], rel=1e-9) and kid.protocol()["reference_images"] == 5

    with pytest.raises(TranslateError) as info:
        with_reference(registry, weights, "kid", read[fid_file.name], fid_file.name, small["fake"])
    message = str(info.value)
    assert fid_file.name in message and "feats" in message and "_kid.npz" in message and "mu, sigma" in message

    unknown = with_reference(registry, weights, "fid", read[fid_file.name], "stats.npz", small["fake"])
    assert unknown.protocol()["reference_mode"].startswith("unknown")


@pytest.mark.parametrize("arrays_mode, source, said", [
    ("legacy_pytorch", "stats.npz", "array mode"),
    (None, "ffhq_legacy_tensorflow_trainval_1024.npz", "file name"),
    (None, "afhq_dog_legacy_pytorch_train_512_kid.npz", "file name"),
])
def test_a_reference_of_another_mode_is_refused(registry, weights, small, arrays_mode, source, said):
    arrays = {k: v for k, v in small["stats"].items() if k != "mode"}
    if arrays_mode is not None:
        arrays["mode"] = np.array(arrays_mode)
    other = arrays_mode or ("legacy_tensorflow" if "tensorflow" in source else "legacy_pytorch")
    for name in ("fid", "kid"):
        with pytest.raises(TranslateError) as info:
            with_reference(registry, weights, name, arrays, source, small["fake"])
        message = str(info.value)
        assert source in message and f"'{other}'" in message and "'clean'" in message and said in message
        assert f'set mode = "{other}"' in message and f"eval.options.{name}.mode" in message


def test_a_reference_of_another_width_is_refused(registry, weights, small):
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(6, 192)).astype(np.float32)
    arrays = {"mu": feats.mean(0), "sigma": np.cov(feats, rowvar=False), "feats": feats, "mode": np.array("clean")}
    with pytest.raises(TranslateError, match=r"stats\.npz hold 192-wide features.*feature = 192"):
        with_reference(registry, weights, "fid", arrays, "stats.npz", small["fake"])
    with pytest.raises(TranslateError, match="no Inception layer"):
        with_reference(registry, weights, "kid", {"feats": feats[:, :100]}, "clip_clean_x.npz", small["fake"])
    with pytest.raises(TranslateError, match="disagree on the feature width"):
        with_reference(registry, weights, "fid", {"mu": feats[0, :64], "sigma": np.eye(63)}, "s.npz", small["fake"])


def test_mode_in_a_file_name():
    from translate_metrics.modes import mode_in_name

    assert mode_in_name("ffhq_clean_trainval70k_1024.npz") == "clean"
    assert mode_in_name("FFHQ_Legacy_TensorFlow_train_256_kid.npz") == "legacy_tensorflow"
    assert mode_in_name("cifar10_legacy_pytorch_test_32.npz") == "legacy_pytorch"
    assert mode_in_name("cleanup_stats.npz") is None and mode_in_name("stats/clean/x.npz") is None


# --------------------------------------------------------------------------- (5) options


@pytest.mark.parametrize("name", ["fid", "kid"])
@pytest.mark.parametrize("old, new", [("clean", "clean"), ("tf_bilinear", "legacy_tensorflow")])
def test_resize_was_replaced_by_mode(registry, name, old, new):
    with pytest.raises(OptionsInvalid) as info:
        registry.components["metric"][name].parse_options({"resize": old}, f"eval.options.{name}")
    message = str(info.value)
    assert f"eval.options.{name}" in message and "resize was replaced by mode" in message
    assert f'write mode = "{new}" instead of resize = "{old}"' in message


def test_kid_degree_is_three_only(registry):
    component = registry.components["metric"]["kid"]
    assert component.parse_options({"degree": 3}, "eval.options.kid").degree == 3
    for degree in (2, 3.0):
        with pytest.raises(OptionsInvalid, match="degree 3 only"):
            component.parse_options({"degree": degree}, "eval.options.kid")


# --------------------------------------------------------------------------- against NVIDIA's TorchScript

PARITY = os.environ.get("TRANSLATE_PARITY_WEIGHTS")


@pytest.mark.skipif(not PARITY, reason="set TRANSLATE_PARITY_WEIGHTS to a folder holding inception-2015-12-05.pt and "
                                       f"{INCEPTION} to compare with the TorchScript network clean-fid runs")
def test_features_equal_nvidias_torchscript(registry):
    """Our "clean" and "legacy_tensorflow" features against clean-fid's own network, NVIDIA's TorchScript port
    ``inception-2015-12-05.pt``, with torch-fidelity's published weights for ours.

    Skipped by default: it needs the two published files (about 100 MB each; tests never download), and loading a
    TorchScript file runs code stored in it, which translate itself never does: it is done only here, on files the
    person running the test fetched from their origins (clean-fid's and torch-fidelity's download URLs).
    """
    folder = Path(PARITY)
    network = torch.jit.load(str(folder / "inception-2015-12-05.pt"), map_location="cpu").eval()
    generator = torch.Generator().manual_seed(6)
    for mode, size in (("clean", (256, 256)), ("clean", (120, 200)), ("legacy_tensorflow", (256, 256)),
                       ("legacy_tensorflow", (500, 333))):
        images = torch.rand(3, 3, *size, generator=generator) * 2 - 1
        metric = build(registry, "fid", weights=str(folder / INCEPTION), mode=mode)
        x = metric.network_input(images)
        with torch.no_grad():
            if mode == "clean":
                theirs = network.layers.forward((x - 128) / 128).view(3, 2048).numpy()
            else:
                theirs = network(x, return_features=True).view(3, 2048).numpy()
        ours = metric.features_of(images)
        difference = np.abs(ours - theirs).max()
        assert difference <= 1e-4 * max(1.0, float(np.abs(theirs).max())), (mode, size, difference)
