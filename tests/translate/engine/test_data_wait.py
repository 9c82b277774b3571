"""data_wait: the training loop's time blocked on the loader, added up by translate.engine.data_wait.DataClock."""

from __future__ import annotations

import pytest

from translate.engine import data_wait


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waits_are_added_up_and_compute_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(data_wait.time, "perf_counter", clock)

    class Loader:
        def __iter__(self):
            clock.now += 5.0  # workers starting: waited for too
            for i in range(3):
                clock.now += 2.0  # loading one batch
                yield i

    timer = data_wait.DataClock()
    seen = []
    for batch in timer.iterate(Loader()):
        clock.now += 1.0  # the train step: not waiting
        seen.append(batch)
    assert seen == [0, 1, 2]
    assert timer.waited == pytest.approx(5.0 + 3 * 2.0)
    assert timer.fraction_since_mark(clock.now) == pytest.approx(11.0 / 14.0)
    assert timer.fraction_since_mark(10.0) == 0.0  # nothing waited since the mark
    assert timer.fraction_since_mark(0.0) == 0.0


def test_breaking_out_keeps_what_was_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(data_wait.time, "perf_counter", clock)

    def loader():
        while True:
            clock.now += 0.5
            yield 1

    timer = data_wait.DataClock()
    for i, _ in enumerate(timer.iterate(loader())):
        if i == 3:
            break
    assert timer.waited == pytest.approx(2.0)
    assert timer.fraction_since_mark(1.0) == 1.0  # capped at the whole interval
