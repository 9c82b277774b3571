"""The built-in metrics (plugins/translate_metrics) against values computed independently on tiny inputs.

Weight files are made by the test: torch-fidelity's Inception and torchvision's AlexNet/SqueezeNet
with random weights under their real names and shapes. Inception runs on a handful of 32x32 images
(resized to 299x299) and mostly on its 64-wide first block. The FID and KID arithmetic is checked on
features fed directly (an identity feature network) against closed forms; test_cleanfid.py checks
each mode against clean-fid itself.
"""

from __future__ import annotations

import math
import os
import unittest.mock

import kornia
import pytest
import torch
import torchvision
from huggingface_hub import constants

import translate
from tests.support.features import Identity
from translate.api import DataError, EvalBatch, MetricContext, ModelFileError, WeightsMissing
from translate.errors import OptionsInvalid
from translate.testing import check_options_strict

INCEPTION = "weights-inception-2015-12-05-6726825d.pth"
ALEXNET = "alexnet-owt-7be5be79.pth"


@pytest.fixture(scope="module")
def registry():
    return translate.get_registry()


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """Random weights under the real file names: Inception (torch-fidelity's layout), AlexNet, SqueezeNet."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    with unittest.mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state, **kw: None), \
            unittest.mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url",
                                lambda *args, **kwargs: {}):
        inception = FeatureExtractorInceptionV3("inception-v3-compat", ["64"])  # randomly initialised, not loaded
    torch.save(inception.state_dict(), folder / INCEPTION)
    for arch, name in (("alexnet", ALEXNET), ("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth")):
        features = getattr(torchvision.models, arch)(weights=None).features
        torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, folder / name)
    return folder


@pytest.fixture
def env(monkeypatch, weights_dir, tmp_path):
    """The test's weights folder as TRANSLATE_WEIGHTS_DIR; no user caches; the Hub offline."""
    monkeypatch.setenv("TRANSLATE_WEIGHTS_DIR", str(weights_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return weights_dir


CTX = MetricContext(device=torch.device("cpu"), build=lambda *a, **k: None, where="eval.options.metric")


def build(registry, name, options=None, where=None):
    ctx = MetricContext(device=torch.device("cpu"), build=CTX.build, where=where or f"eval.options.{name}")
    return registry.components["metric"][name].build(options or {}, ctx=ctx)


def images(n=4, size=32, channels=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=generator) * 2 - 1


def batch(fake, real, aligned=True):
    return EvalBatch(fake=fake, real=real, input=real, names=[str(i) for i in range(len(fake))], aligned=aligned)


def feed(metric, fake, real, parts=2):
    for f, r in zip(fake.chunk(parts), real.chunk(parts)):
        metric.update(batch(f, r))
    return metric.compute()


# --------------------------------------------------------------------------- full-reference metrics


def test_identical_images(registry, env):
    real = images()
    values = {}
    for name, options in [("l1", {}), ("psnr", {}), ("psnr", {"average": "set"}), ("ssim", {}),
                          ("ms_ssim", {"scales": 2, "kernel_size": 3}), ("lpips", {})]:
        values[(name, tuple(options))] = feed(build(registry, name, options), real, real.clone())
    assert values[("l1", ())] == {"l1": 0.0}
    assert values[("psnr", ())] == {"psnr": math.inf} and values[("psnr", ("average",))] == {"psnr": math.inf}
    assert values[("ssim", ())]["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert values[("ms_ssim", ("scales", "kernel_size"))]["ms_ssim"] == pytest.approx(1.0, abs=1e-6)
    assert values[("lpips", ())]["lpips"] == pytest.approx(0.0, abs=1e-7)


def test_l1_and_psnr_by_hand(registry):
    fake, real = images(seed=1), images(seed=2)
    f, r = (fake + 1) / 2, (real + 1) / 2
    assert feed(build(registry, "l1"), fake, real)["l1"] == pytest.approx((f - r).abs().mean().item(), rel=1e-5)
    per_image = [10 * math.log10(1 / ((a - b) ** 2).mean().item()) for a, b in zip(f, r)]
    assert feed(build(registry, "psnr"), fake, real)["psnr"] == pytest.approx(sum(per_image) / 4, rel=1e-5)
    whole = 10 * math.log10(1 / ((f - r) ** 2).mean().item())
    assert feed(build(registry, "psnr", {"average": "set"}), fake, real)["psnr"] == pytest.approx(whole, rel=1e-5)


def test_out_of_range_images_are_clamped(registry):
    real = images().sign()  # -1 or 1
    assert feed(build(registry, "l1"), real * 3, real)["l1"] == pytest.approx(0.0, abs=1e-7)


def test_ssim_against_kornia(registry):
    real = images(seed=3)
    fake = (real + 0.3 * torch.randn(real.shape, generator=torch.Generator().manual_seed(4))).clamp(-1, 1)
    expected = kornia.metrics.ssim((fake + 1) / 2, (real + 1) / 2, window_size=11, max_val=1.0).mean().item()
    value = feed(build(registry, "ssim"), fake, real)["ssim"]
    assert 0.2 < value < 0.95 and value == pytest.approx(expected, abs=1e-4)
    grey = feed(build(registry, "ssim", {"kernel_size": 7, "sigma": 1.0}), fake[:, :1], real[:, :1])["ssim"]
    assert grey == pytest.approx(kornia.metrics.ssim((fake[:, :1] + 1) / 2, (real[:, :1] + 1) / 2, 7,
                                                     max_val=1.0).mean().item(), abs=2e-2)


def test_ms_ssim_too_small_names_the_option(registry):
    metric = build(registry, "ms_ssim")
    with pytest.raises(DataError) as info:
        metric.update(batch(images(), images(seed=1)))
    message = str(info.value)
    assert "32x32" in message and "scales = 5" in message and "option scales" in message and "176x176" in message
    with pytest.raises(DataError, match="175x175"):
        metric.update(batch(images(n=1, size=175), images(n=1, size=175)))
    metric.update(batch(images(n=1, size=176), images(n=1, size=176)))  # the documented minimum works
    metric = build(registry, "ms_ssim", {"scales": 3, "kernel_size": 3})
    value = feed(metric, images(seed=1), images(seed=1) * 0.9)["ms_ssim"]
    assert 0.5 < value < 1.0
    assert metric.protocol()["betas"] == pytest.approx([0.0448 / 0.6305, 0.2856 / 0.6305, 0.3001 / 0.6305], abs=1e-5)


def test_accumulate_and_reset(registry, env):
    fake, real = images(seed=5), images(seed=6)
    for name in ("l1", "psnr", "ssim", "lpips"):
        metric = build(registry, name)
        whole = feed(metric, fake, real, parts=1)
        metric.reset()
        assert feed(metric, fake, real, parts=4) == pytest.approx(whole, rel=1e-5), name
        metric.reset()
        single = feed(metric, fake[:1], real[:1], parts=1)
        assert single != pytest.approx(whole), name  # reset forgot the first four images


def test_paired_metrics_refuse_unpaired_batches(registry, env):
    for name in ("l1", "psnr", "ssim", "ms_ssim", "lpips"):
        metric = build(registry, name, {"scales": 1} if name == "ms_ssim" else {})
        assert type(metric).needs_aligned and metric.higher_is_better(name) == (name not in ("l1", "lpips"))
        with pytest.raises(DataError, match="paired"):
            metric.update(batch(images(), images(), aligned=False))
        with pytest.raises(DataError, match="differ in shape"):
            metric.update(batch(images(size=32), images(size=16)))


# --------------------------------------------------------------------------- LPIPS


def test_lpips_protocol_and_grey_images(registry, env):
    metric = build(registry, "lpips")
    value = feed(metric, images(seed=1), images(seed=2))["lpips"]
    assert value > 0
    protocol = metric.protocol()
    assert protocol["weights_file"] == ALEXNET
    assert protocol["weights_sha256"] == translate.file_sha256(env / ALEXNET)
    assert protocol["net"] == "alex" and len(protocol["linear_layers_sha256"]) == 64
    assert protocol["weights_published"] is False
    metric.reset()
    assert feed(metric, images(channels=1), images(channels=1))["lpips"] == pytest.approx(0.0, abs=1e-7)


def test_lpips_refuses_the_wrong_backbone_file(registry, env, tmp_path):
    with pytest.raises(ModelFileError, match="features.0.weight has shape"):
        build(registry, "lpips", {"weights": str(env / "squeezenet1_1-b8a52dc0.pth")})
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(ModelFileError, match="is missing"):
        build(registry, "lpips", {"weights": str(tmp_path / "partial.pth")})


# --------------------------------------------------------------------------- FID and KID arithmetic


def gaussian_set(n: int, mean: torch.Tensor, variances: torch.Tensor, seed: int) -> torch.Tensor:
    """``n`` samples whose sample mean is ``mean`` and sample covariance is exactly ``diag(variances)``."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, len(mean), generator=generator, dtype=torch.float64)
    z = torch.cat([torch.ones(n, 1, dtype=torch.float64), z], dim=1)
    q, _ = torch.linalg.qr(z)  # orthonormal columns; the first is along ones, so the others have mean 0
    return mean + q[:, 1:] * math.sqrt(n - 1) * variances.sqrt()


def test_fid_closed_form_for_gaussian_features():
    from translate_metrics.distribution import FID
    from translate_metrics.options import FIDOptions

    dim = 6
    mu1, mu2 = torch.arange(dim, dtype=torch.float64), torch.linspace(-1, 2, dim, dtype=torch.float64)
    a, b = torch.linspace(0.5, 3, dim, dtype=torch.float64), torch.linspace(2, 0.1, dim, dtype=torch.float64)
    fake, real = gaussian_set(40, mu1, a, seed=1), gaussian_set(30, mu2, b, seed=2)
    assert torch.allclose(torch.cov(fake.T), torch.diag(a), atol=1e-9)
    expected = ((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum()
    metric = FID(Identity(dim), FIDOptions(), CTX)
    metric.add_features(fake[:25], real[:10])
    metric.add_features(fake[25:], real[10:])
    assert metric.compute()["fid"] == pytest.approx(expected.item(), rel=1e-6)
    metric.reset()
    metric.add_features(fake, fake.clone())
    assert metric.compute()["fid"] == pytest.approx(0.0, abs=1e-6)


def unbiased_mmd(x: torch.Tensor, y: torch.Tensor) -> float:
    """KID's estimate by hand: unbiased polynomial-kernel MMD^2, k(a, b) = (a.b / dim + 1)^3."""
    m = x.shape[0]
    kxx, kyy, kxy = ((p @ q.T / x.shape[1] + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
    return float((kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * kxy.sum() / m**2)


def test_kid_against_the_unbiased_estimate_and_seed():
    from translate_metrics.distribution import KID
    from translate_metrics.options import KIDOptions

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(20, 8, generator=generator, dtype=torch.float64)
    metric = KID(Identity(8), KIDOptions(subsets=10, subset_size=50), CTX)
    metric.add_features(x, x.clone())  # subset_size clamps to 20: every subset is the whole set
    values = metric.compute()
    assert set(values) == {"kid", "kid_std"} and values["kid_std"] == pytest.approx(0.0, abs=1e-9)
    assert values["kid"] == pytest.approx(unbiased_mmd(x, x), rel=1e-9)
    assert metric.protocol()["subset_size"] == 20 and metric.protocol()["subset_size_requested"] == 50
    metric.reset()
    y = torch.randn(20, 8, generator=generator, dtype=torch.float64) + 1.0
    metric.add_features(y, x)
    far = metric.compute()
    assert far["kid"] == pytest.approx(unbiased_mmd(x, y), rel=1e-9) and far["kid"] > 1.0
    assert metric.compute() == far  # the seed fixes the subsets
    assert not metric.higher_is_better("kid") and not metric.higher_is_better("kid_std")


def test_kid_of_two_samples_of_one_distribution_is_about_zero():
    from translate_metrics.distribution import KID
    from translate_metrics.options import KIDOptions

    generator = torch.Generator().manual_seed(1)
    a, b = (torch.randn(400, 4, generator=generator, dtype=torch.float64) for _ in range(2))
    metric = KID(Identity(4), KIDOptions(subsets=20, subset_size=100), CTX)
    metric.add_features(a, b)
    same = metric.compute()["kid"]
    metric.reset()
    metric.add_features(a + 0.5, b)
    assert abs(same) < 0.05 < metric.compute()["kid"]


# --------------------------------------------------------------------------- FID and KID through Inception


def test_fid_and_kid_on_images_record_the_protocol(registry, env):
    real = images(n=4, seed=7)
    fid = build(registry, "fid", {"feature": 64})
    assert type(fid).min_images == 2 and not type(fid).needs_aligned and not fid.higher_is_better("fid")
    assert feed(fid, real, real.clone()) == {"fid": pytest.approx(0.0, abs=1e-6)}
    protocol = fid.protocol()
    assert protocol["weights_file"] == INCEPTION
    assert protocol["weights_sha256"] == translate.file_sha256(env / INCEPTION)
    assert protocol["weights_published"] is False  # random weights: not the published file's sha256
    assert protocol["feature_layer"] == "64" and protocol["feature_dim"] == 64
    assert protocol["network_input_size"] == [299, 299] and protocol["image_sizes"] == [[32, 32]]
    assert protocol["mode"] == "clean" and protocol["resize"].startswith("clean: PIL bicubic")
    assert "torch-fidelity" in protocol["library"] and "clean-fid 0.1.35" in protocol["library"]
    assert len(protocol["steps"]) == 5 and "MaxPool_1" in protocol["steps"][3]
    assert protocol["generated_images"] == 4 and protocol["real_images"] == 4
    fid.reset()
    fid.update(batch(images(n=1), images(n=1)))
    with pytest.raises(translate.TranslateError, match="at least 2"):
        fid.compute()

    kid = build(registry, "kid", {"feature": 64, "mode": "legacy_tensorflow", "subsets": 3, "subset_size": 10})
    kid.update(batch(real[:2, :1], images(n=2, seed=8, channels=1), aligned=False))  # grey, unpaired
    values = kid.compute()
    assert set(values) == {"kid", "kid_std"} and math.isfinite(values["kid"])
    protocol = kid.protocol()
    assert protocol["mode"] == "legacy_tensorflow" and protocol["resize"].startswith("legacy_tensorflow: no resize")
    assert protocol["subsets"] == 3 and "grid_sample" in protocol["steps"][2]
    assert protocol["subset_size"] == 2 and protocol["subset_size_requested"] == 10


def test_networks_ignore_the_evaluators_autocast(registry, env):
    real, fake = images(n=2, seed=13), images(n=2, seed=14)
    for name, options in (("lpips", {}), ("fid", {"feature": 64})):
        plain = feed(build(registry, name, options), fake, real)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            under_autocast = feed(build(registry, name, options), fake, real)
        assert under_autocast == pytest.approx(plain, rel=1e-5), name


def test_the_three_modes_give_different_values(registry, env):
    real, fake = images(n=2, seed=9), images(n=2, seed=10)
    values = [feed(build(registry, "fid", {"feature": 64, "mode": mode}), fake, real, parts=1)["fid"]
              for mode in ("clean", "legacy_tensorflow", "legacy_pytorch")]
    assert min(values) > 0
    for i in range(3):
        assert values[i] != pytest.approx(values[(i + 1) % 3], rel=1e-3)


def test_pytorch_fid_file_name_is_accepted(env, monkeypatch, tmp_path):
    from translate_metrics.inception import ALTERNATIVE, resolve_inception

    os.link(env / INCEPTION, tmp_path / ALTERNATIVE)  # a second name for the same file
    monkeypatch.setenv("TRANSLATE_WEIGHTS_DIR", str(tmp_path))
    assert resolve_inception(None, option="weights", metric="FID").name == ALTERNATIVE


def test_bad_inception_file(registry, env, tmp_path):
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ModelFileError, match="wrong.pth: not the Inception weights"):
        build(registry, "fid", {"weights": str(tmp_path / "wrong.pth")})


# --------------------------------------------------------------------------- offline without weights


@pytest.mark.parametrize("name, filename", [("fid", INCEPTION), ("kid", INCEPTION), ("lpips", ALEXNET)])
def test_offline_without_weights(registry, env, monkeypatch, tmp_path, name, filename):
    monkeypatch.setenv("TRANSLATE_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(WeightsMissing) as info:
        build(registry, name)
    message = str(info.value)
    assert filename in message and "eval.options." + name + ".weights" in message and "https://" in message
    with pytest.raises(WeightsMissing, match="HF_HUB_OFFLINE=1"):
        build(registry, name, {"weights": f"hf://someone/weights/{filename}"})


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("name, options, problem", [
    ("psnr", {"average": "pixel"}, "average"),
    ("ssim", {"kernel_size": 4}, "must be odd"),
    ("ms_ssim", {"scales": 6}, "scales"),
    ("lpips", {"net": "resnet"}, "net"),
    ("fid", {"mode": "tf_bilinear"}, "mode"),
    ("fid", {"feature": 100}, "feature"),
    ("kid", {"subsets": 0}, "subsets"),
    ("kid", {"subset_size": 1}, "subset_size"),
    ("kid", {"degree": 2}, "degree 3 only"),
    ("l1", {"reduction": "sum"}, "unknown key"),
])
def test_option_errors(registry, name, options, problem):
    component = registry.components["metric"][name]
    with pytest.raises(OptionsInvalid) as info:
        component.parse_options(options, f"eval.options.{name}")
    assert problem in str(info.value) and f"eval.options.{name}." in str(info.value)


def test_every_metric_has_valid_smoke_options(registry):
    for name in ("l1", "psnr", "ssim", "ms_ssim", "lpips", "fid", "kid"):
        component = registry.components["metric"][name]
        check_options_strict(component)
        assert component.description


# --------------------------------------------------------------------------- on the GPU


@pytest.mark.gpu
def test_every_metric_on_the_gpu_matches_the_cpu(registry, env):
    """State and networks live on ctx.device; the values are the CPU's."""
    cuda = torch.device("cuda")
    fake, real = images(seed=11), images(seed=12)
    for name, options in [("l1", {}), ("psnr", {}), ("ssim", {}), ("ms_ssim", {"scales": 2, "kernel_size": 3}),
                          ("lpips", {}), ("fid", {"feature": 64}), ("kid", {"feature": 192, "subsets": 5})]:
        component = registry.components["metric"][name]
        on_cpu = feed(component.build(options, ctx=CTX), fake, real)
        metric = component.build(options, ctx=MetricContext(device=cuda, build=CTX.build, where=name))
        on_gpu = feed(metric, fake.to(cuda), real.to(cuda))
        assert on_gpu.keys() == on_cpu.keys()
        for key in on_cpu:
            assert on_gpu[key] == pytest.approx(on_cpu[key], rel=1e-3, abs=1e-5), (name, key)
