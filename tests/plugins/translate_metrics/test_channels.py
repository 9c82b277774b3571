"""Metrics on non-RGB data: the full-reference ones measure any channel count; those whose networks read RGB
(FID, KID, LPIPS, the FCN-score) refuse other counts with an error naming the metric and the count."""

from __future__ import annotations

import pytest
import torch

import translate
from tests.support.features import Identity
from translate.api import DataError, EvalBatch, MetricContext
from translate_metrics.distribution import FID
from translate_metrics.options import FIDOptions

CPU = torch.device("cpu")


def _ctx(channels: int | None, where: str) -> MetricContext:
    def build(*args, **kwargs):
        raise AssertionError("nothing is built (no segmenter, no weights) for data the metric refuses")

    return MetricContext(device=CPU, build=build, where=where, channels=channels)


def _batch(channels: int, seed: int = 0) -> EvalBatch:
    g = torch.Generator().manual_seed(seed)
    fake = torch.rand(2, channels, 16, 16, generator=g) * 2 - 1
    real = torch.rand(2, channels, 16, 16, generator=g) * 2 - 1
    return EvalBatch(fake=fake, real=real, input=real.clone(), names=["a", "b"])


@pytest.mark.parametrize("channels", [4, 6])
def test_fid_on_n_channel_images_names_the_metric_and_the_count(channels):
    metric = FID(Identity(8), FIDOptions(), _ctx(None, "eval.options.fid"))  # no channel count known ahead
    with pytest.raises(DataError, match=rf"metric fid: .*RGB .*these have {channels} channels.*psnr"):
        metric.update(_batch(channels))


@pytest.mark.parametrize("name", ["fid", "kid", "lpips", "fcn_score"])
def test_rgb_metrics_refuse_a_known_channel_count_before_loading_anything(name, monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSLATE_WEIGHTS_DIR", str(tmp_path))  # empty: a weights lookup would fail differently
    comp = translate.get_registry().get("metric", name)
    options = comp.parse_options({}, f"eval.options.{name}")
    with pytest.raises(DataError, match=rf"{name}: .*RGB.*have 5 channels"):
        comp.build(options, _ctx(5, f"eval.options.{name}"))


@pytest.mark.parametrize("name", ["l1", "psnr", "ssim"])
def test_full_reference_metrics_measure_n_channels(name):
    comp = translate.get_registry().get("metric", name)
    metric = comp.build(comp.parse_options({"kernel_size": 7} if name == "ssim" else {}, "m"), _ctx(5, "m"))
    same = _batch(5)
    metric.update(EvalBatch(fake=same.real, real=same.real, input=same.input, names=same.names))
    perfect = metric.compute()[name]
    metric.reset()
    metric.update(_batch(5))
    noisy = metric.compute()[name]
    if name == "l1":
        assert perfect == 0 and noisy > 0.2
    elif name == "psnr":
        assert perfect == float("inf") and 0 < noisy < 20
    else:
        assert perfect == pytest.approx(1.0) and noisy < 0.5
