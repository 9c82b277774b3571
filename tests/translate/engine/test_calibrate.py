"""Calibrating the fast plan: the fastest agreeing candidate is kept, the training state is put back
exactly (a calibrated run equals the same plan set explicitly, bit for bit), the choice is cached
and recorded, and a resumed run reuses the plan it was trained with."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support.tiny_recipes import CYCLEGAN, PIX2PIX, write_recipe
from translate.engine import calibrate, calibration_cache
from translate.engine.speed import SpeedPlan
from translate.engine.trainer import train
from translate.nn import gemm_conv, precision
from translate.recipe import TrainSpec

BASE = SpeedPlan(precision="no", channels_last=False, compile="off", gemm_convs=True)


class _Clock:
    """A clock that only moves when a fake step runs: by that step's plan's duration."""

    def __init__(self, durations: dict[SpeedPlan, float]) -> None:
        self.durations, self.now = durations, 0.0

    def __call__(self) -> float:
        return self.now

    def step(self, plan: SpeedPlan, losses: dict[str, float]) -> dict[str, float]:
        self.now += self.durations[plan]
        return losses


def test_candidates_start_with_the_plain_layout_and_cover_every_combination() -> None:
    plans = calibrate.candidate_plans(BASE, ["channels_last", "gemm_convs"])
    assert [(p.channels_last, p.gemm_convs) for p in plans] == [(False, False), (True, False), (False, True),
                                                                (True, True)]
    assert calibrate.candidate_plans(BASE, []) == [BASE]


def test_free_levers_are_those_the_recipe_left_unset_on_a_calibrated_fast_cpu_run() -> None:
    assert calibrate.free_levers(TrainSpec(steps=1), "cpu") == ["channels_last", "gemm_convs"]
    assert calibrate.free_levers(TrainSpec(steps=1, channels_last=False), "cpu") == ["gemm_convs"]
    assert calibrate.free_levers(TrainSpec(steps=1, calibrate=False), "cpu") == []
    assert calibrate.free_levers(TrainSpec(steps=1, speed="reference"), "cpu") == []
    assert calibrate.free_levers(TrainSpec(steps=1), "cuda") == []


def test_measure_keeps_the_fastest_candidate_and_interleaves_the_timed_steps() -> None:
    plans = calibrate.candidate_plans(BASE, ["channels_last", "gemm_convs"])
    clock = _Clock(dict(zip(plans, [1.0, 0.9, 0.5, 0.7])))
    current: list[SpeedPlan] = [plans[0]]
    order: list[SpeedPlan] = []

    def step(plan: SpeedPlan) -> dict[str, float]:
        order.append(plan)
        return clock.step(plan, {"G": 2.0, "D": 0.5})

    result = calibrate.measure(plans, step, apply=lambda p: current.__setitem__(0, p),
                               timing=calibrate.Timing(rounds=3, timer=clock))
    assert result.plan == plans[2]
    assert result.seconds[plans[2].describe()] == pytest.approx(0.5)
    assert result.seconds[plans[0].describe()] == pytest.approx(1.0)
    assert order == plans + plans * 3  # one warm-up each, then rounds taken in turns
    assert current[0] == plans[2]  # the networks are left switched to the choice
    assert "kept fp32, contiguous, small convs as GEMM, eager, 2.00x the plain layout" in result.summary()


def test_a_candidate_whose_losses_disagree_is_rejected_however_fast() -> None:
    plans = calibrate.candidate_plans(BASE, ["gemm_convs"])
    clock = _Clock({plans[0]: 1.0, plans[1]: 0.1})
    result = calibrate.measure(
        plans, lambda p: clock.step(p, {"G": 1.0 if not p.gemm_convs else 1.5}), apply=lambda p: None,
        timing=calibrate.Timing(timer=clock))
    assert result.plan == plans[0]
    assert "loss G = 1.5 where the plain layout gives 1" in result.rejected[plans[1].describe()]


def test_the_warm_up_steps_all_start_from_the_same_state() -> None:
    plans = calibrate.candidate_plans(BASE, ["gemm_convs"])
    state = {"w": 1.0}
    seen: list[float] = []

    @contextlib.contextmanager
    def kept():
        saved = dict(state)
        try:
            yield
        finally:
            state.update(saved)

    def step(plan: SpeedPlan) -> dict[str, float]:
        seen.append(state["w"])
        state["w"] += 1.0  # an optimizer step
        return {"loss": state["w"]}

    calibrate.measure(plans, step, apply=lambda p: None, kept=kept, timing=calibrate.Timing(rounds=1))
    assert seen[:2] == [1.0, 1.0]
    assert state["w"] == 1.0  # put back after the timed rounds too


def test_cache_round_trip_and_refusal_of_other_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    monkeypatch.setenv("TRANSLATE_SPEED_CACHE", str(tmp_path / "speed"))
    built = SimpleNamespace(method=torch.nn.Identity(), records={"G": {"name": "unet"}})
    key = calibration_cache.cache_key(BASE, ["gemm_convs"], built, {"A": torch.zeros(1, 3, 8, 8)}, 1)
    assert key["batch"] == {"A": {"shape": [1, 3, 8, 8], "dtype": "float32"}}
    assert calibration_cache.read(key) is None
    record = calibrate.Calibration(SpeedPlan("no", False, "off", gemm_convs=False), seconds={"a": 0.1}).to_json()
    path = calibration_cache.write(key, record)
    assert path is not None and path.parent == tmp_path / "speed"
    found = calibration_cache.read(key)
    assert found == ({"levers": {"gemm_convs": False}, "seconds": {"a": 0.1}}, path)
    other = calibration_cache.cache_key(BASE, ["gemm_convs"], built, {"A": torch.zeros(4, 3, 8, 8)}, 1)
    assert calibration_cache.cache_file(other) != path and calibration_cache.read(other) is None
    path.write_text(json.dumps({"key": other, **record}))  # a file holding another key's record
    assert calibration_cache.read(key) is None
    path.write_text("{not json")
    assert calibration_cache.read(key) is None


def test_recorded_levers_read_only_a_whole_record() -> None:
    assert calibrate.recorded_levers({"speed": {"levers": {"channels_last": True, "gemm_convs": False}}}) == \
        {"channels_last": True, "gemm_convs": False}
    assert calibrate.recorded_levers({"speed": {"levers": {"channels_last": True}}}) is None
    assert calibrate.recorded_levers({}) is None


def test_library_convolutions_undo_the_gemm_route() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ConvTranspose2d(4, 2, 4, 2, 1))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert gemm_conv.use_gemm_convolutions(net) == 2
    assert gemm_conv.use_library_convolutions(net) == 2
    assert [type(m) for m in net] == [torch.nn.Conv2d, torch.nn.ConvTranspose2d]
    assert "max_columns" not in net[0].__dict__
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_an_isa_cap_below_bf16_means_no_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert precision.isa_capped_below_bf16()
    assert precision.native_bf16("cpu") is False
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert not precision.isa_capped_below_bf16()


def _model(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model.safetensors"))


@pytest.mark.parametrize("text,data", [(PIX2PIX, "shapes"), (CYCLEGAN, "unpaired")], ids=["pix2pix", "cyclegan"])
def test_a_calibrated_run_equals_its_plan_set_explicitly(text: str, data: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRANSLATE_SPEED_CACHE", str(tmp_path / "speed"))
    recipe = write_recipe(text, tmp_path / "r.toml", data=tmp_path / data, run=tmp_path / "run")
    steps = 4
    calibrated = train(recipe, output_dir=str(tmp_path / "cal"), max_steps=steps).run_dir
    out = capsys.readouterr().out
    assert "speed calibration (" in out and "kept " in out
    record = json.loads((calibrated / "environment.json").read_text())["speed"]
    assert record["source"] == "measured" and len(record["seconds"]) == 4
    levers = record["levers"]
    explicit = [f"train.{name}={str(value).lower()}" for name, value in levers.items()] + ["train.calibrate=false"]
    plain = train(recipe, overrides=explicit, output_dir=str(tmp_path / "explicit"), max_steps=steps).run_dir
    assert "speed calibration" not in capsys.readouterr().out
    a, b = _model(calibrated), _model(plain)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the same configuration again: the cached choice, no timing
    train(recipe, output_dir=str(tmp_path / "again"), max_steps=1)
    assert "(from cache " in capsys.readouterr().out
    again = json.loads((tmp_path / "again" / "environment.json").read_text())["speed"]
    assert again["levers"] == levers


def test_a_resumed_run_reuses_the_plan_it_was_trained_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRANSLATE_SPEED_CACHE", str(tmp_path / "speed"))
    recipe = write_recipe(PIX2PIX, tmp_path / "r.toml", data=tmp_path / "shapes", run=tmp_path / "run")
    run = train(recipe, max_steps=3).run_dir
    env = run / "environment.json"
    record = json.loads(env.read_text())
    flipped = {name: not value for name, value in record["speed"]["levers"].items()}
    record["speed"]["levers"] = flipped  # as if another machine had chosen otherwise
    env.write_text(json.dumps(record))
    capsys.readouterr()
    train(recipe, max_steps=4, resume=True)
    out = capsys.readouterr().out
    assert "as the run was trained" in out
    assert json.loads(env.read_text())["speed"]["levers"] == flipped


def test_slow_steps_get_fewer_timed_rounds_and_every_process_the_main_ones_count() -> None:
    plans = calibrate.candidate_plans(BASE, ["gemm_convs"])
    clock = _Clock({plans[0]: 10.0, plans[1]: 8.0})
    order: list[SpeedPlan] = []

    def step(plan: SpeedPlan) -> dict[str, float]:
        order.append(plan)
        return clock.step(plan, {"G": 1.0})

    asked: list[int] = []
    result = calibrate.measure(plans, step, apply=lambda p: None, timing=calibrate.Timing(
        rounds=3, budget=30.0, timer=clock, agree=lambda n: asked.append(n) or 2))
    assert asked == [1]  # 18 s of warm-up steps: one round fits the 30 s budget
    assert order == plans + plans * 2  # the main process's count (2) wins
    assert result.plan == plans[1]


def test_the_loss_tolerance_follows_the_precision() -> None:
    """A bf16 candidate differs from the plain layout by bf16 rounding (measured: 1.5723 against 1.5699 for
    CycleGAN's G): within bf16's tolerance, beyond fp32's."""
    for dtype, kept in (("bf16", True), ("no", False)):
        plans = calibrate.candidate_plans(dataclasses.replace(BASE, precision=dtype), ["channels_last"])
        clock = _Clock({plans[0]: 1.0, plans[1]: 0.5})
        result = calibrate.measure(
            plans, lambda p: clock.step(p, {"G": 1.5723 if p.channels_last else 1.56986}), apply=lambda p: None,
            timing=calibrate.Timing(timer=clock))
        assert (result.plan == plans[1]) is kept and bool(result.rejected) is not kept
