"""``translate.testing.check_metric``: a correct metric passes (the built-in pixel metrics too), and each contract
breach a plugin author makes is named."""

from __future__ import annotations

from typing import Literal

import pytest
import torch
from pydantic import Field

import translate
from translate.testing import check_component, check_metric, load_registry_with

Bug = Literal["none", "undeclared", "nan", "no_reset", "in_place", "protocol", "empty_side", "min_images",
              "not_a_metric"]


class GapOptions(translate.Options):
    bug: Bug = Field("none", description="which contract breach to make")


class Gap(translate.Metric):
    """Mean absolute gap between the mean generated and the mean real image value."""

    def __init__(self, options: GapOptions, ctx: translate.MetricContext) -> None:
        self.bug = options.bug
        if self.bug == "min_images":
            self.min_images = 0
        self.fake, self.real, self.n_fake, self.n_real = 0.0, 0.0, 0, 0

    def reset(self) -> None:
        if self.bug != "no_reset":
            self.fake, self.real, self.n_fake, self.n_real = 0.0, 0.0, 0, 0

    def update(self, batch: translate.EvalBatch) -> None:
        if self.bug == "empty_side" and (len(batch.fake) == 0 or len(batch.real) == 0):
            raise ValueError("empty batch")
        if self.bug == "in_place":
            batch.fake.clamp_(-0.5, 0.5)
        self.fake += float(batch.fake.sum())
        self.real += float(batch.real.sum())
        self.n_fake += batch.fake.numel()
        self.n_real += batch.real.numel()

    def compute(self) -> dict[str, float]:
        value = abs(self.fake / self.n_fake - self.real / self.n_real)
        if self.bug == "nan":
            value = float("nan")
        return {"gap_value" if self.bug == "undeclared" else "gap": value}

    def protocol(self) -> dict[str, object]:
        return {"library": "test", "device": torch.device("cpu")} if self.bug == "protocol" else {"library": "test"}


class MetricsPlugin:
    @translate.hookimpl
    def register_metrics(self, register):
        register("gap", Gap, options=GapOptions, values=("gap",), description="test metric")
        register("gap_undeclared", Gap, options=GapOptions, description="test metric without values")
        register("not_a_metric", lambda options, ctx: object(), options=GapOptions, values=("x",))


@pytest.fixture(scope="module")
def registry():
    return load_registry_with(MetricsPlugin())


def test_a_correct_metric_passes(registry):
    metric = check_metric(registry, "gap")
    assert isinstance(metric, Gap) and set(metric.compute()) == {"gap"}
    assert isinstance(check_component(registry.get("metric", "gap")), Gap)  # check_component routes here


@pytest.mark.parametrize("bug, message", [
    ("undeclared", r"compute\(\) returned 'gap_value', which its registered values \('gap',\) do not match"),
    ("nan", r"'gap' is nan on random images"),
    ("no_reset", r"after reset\(\) the metric gave .* where a new one gives"),
    ("in_place", r"update\(\) changed the batch's images in place"),
    ("protocol", r"protocol\(\) is not plain JSON"),
    ("empty_side", r"update\(\) on unpaired batches \(aligned=False\) raised ValueError: empty batch"),
    ("min_images", r"min_images must be an int of at least 1, got 0"),
])
def test_each_breach_is_named(registry, bug, message):
    with pytest.raises(AssertionError, match=message):
        check_metric(registry, "gap", options={"bug": bug})


def test_values_must_be_declared(registry):
    with pytest.raises(AssertionError, match=r"declare the value names compute\(\) returns when registering"):
        check_metric(registry, "gap_undeclared")


def test_the_factory_must_return_a_metric(registry):
    with pytest.raises(AssertionError, match=r"returned a object, not a translate.Metric"):
        check_metric(registry, "not_a_metric")


@pytest.mark.parametrize("name", ["l1", "psnr", "ssim"])
def test_the_built_in_pixel_metrics_pass(name):
    registry = load_registry_with(installed=True)
    values = check_metric(registry, name).compute()
    assert list(values) == [name]
