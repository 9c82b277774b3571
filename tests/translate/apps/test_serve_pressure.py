"""``translate serve`` under pressure (issue 26): Retry-After on every 503, the queue deadline, ``GET /metrics``,
and a bounded load test on 127.0.0.1 (16 clients x 10 requests against a queue of 2, the tiny pix2pix model
slowed to 20 ms a batch) that checks the answers, the metrics and the recovery after the burst."""

from __future__ import annotations

import argparse
import http.client
import json
import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.model_runs import write_image
from translate.apps.serve import Batcher, Limits, ModelService, RequestError, make_server
from translate.commands.serve import add_serve_arguments, limits_from

CLIENTS, REQUESTS = 16, 10
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


class Slowed:
    """The service's pipeline, taking ``seconds`` more per call, or waiting for ``gate`` first; counts images."""

    def __init__(self, inner: Any, seconds: float = 0.0, gate: threading.Event | None = None) -> None:
        self.inner, self.seconds, self.gate, self.images = inner, seconds, gate, 0
        self.entered = threading.Event()

    def __call__(self, images: list[np.ndarray], **kwargs: Any) -> Any:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30)
        time.sleep(self.seconds)
        self.images += len(images)
        return self.inner(images, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def serving(model: Path, limits: Limits, **slow: Any):
    service = ModelService(model, device="cpu", limits=limits)
    service.pipeline = Slowed(service.pipeline, **slow)
    server = make_server(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return service, server


def stop(service: ModelService, server) -> None:
    server.shutdown()
    server.server_close()
    service.close()


def call(server, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "image/png"} if body else {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def metrics(server) -> dict[str, float]:
    """``GET /metrics`` parsed: ``name{labels}`` -> value; checks the text format on the way."""
    status, headers, body = call(server, "GET", "/metrics")
    assert status == 200 and headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    typed, out = set(), {}
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, labels, value = match.groups()
        assert any(name == t or name.startswith(t + "_") for t in typed), f"{name} has no # TYPE line before it"
        out[name + (labels or "")] = float(value)
    return out


@pytest.fixture
def png(tmp_path: Path) -> bytes:
    return write_image(tmp_path / "in.png", 32, 32, seed=3).read_bytes()


def test_a_burst_past_the_queue_gets_200_or_503_with_retry_after_and_the_metrics_agree(pix2pix_model, png):
    service, server = serving(pix2pix_model, Limits(max_queue=2, max_batch=1, max_wait_ms=0, deadline_ms=15),
                              seconds=0.02)
    try:
        assert call(server, "POST", "/translate", png)[0] == 200  # one measured batch before the burst
        before = metrics(server)
        answers: list[tuple[int, str | None, str | None]] = []
        lock, barrier = threading.Lock(), threading.Barrier(CLIENTS)

        def client() -> None:
            barrier.wait(30)
            for _ in range(REQUESTS):
                status, headers, body = call(server, "POST", "/translate", png)
                code = json.loads(body)["error"]["code"] if status != 200 else None
                with lock:
                    answers.append((status, headers.get("Retry-After"), code))

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(answers) == CLIENTS * REQUESTS
        assert {status for status, _, _ in answers} <= {200, 503}
        refused = [(retry, code) for status, retry, code in answers if status == 503]
        assert refused, "16 clients against a queue of 2 were never refused"
        assert all(retry is not None and retry.isdigit() and int(retry) >= 1 for retry, _ in refused), refused
        assert {code for _, code in refused} <= {"busy", "deadline_exceeded"}

        after = metrics(server)
        ok = sum(status == 200 for status, _, _ in answers)
        grew = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        assert grew['translate_requests_total{endpoint="/translate",code="200"}'] == ok
        assert grew.get('translate_requests_total{endpoint="/translate",code="503"}', 0) == len(refused)
        assert not [k for k in after if 'endpoint="/translate"' in k and not re.search(r'code="(200|503)"', k)]
        assert grew["translate_rejections_total"] == sum(code == "busy" for _, code in refused)
        assert grew["translate_deadline_expiries_total"] == sum(code == "deadline_exceeded" for _, code in refused)
        assert grew["translate_request_duration_seconds_count"] == ok
        assert grew['translate_request_duration_seconds_bucket{le="+Inf"}'] == ok
        buckets = [v for k, v in after.items() if k.startswith("translate_request_duration_seconds_bucket")]
        assert buckets == sorted(buckets)  # cumulative
        assert service.pipeline.images == ok + 1  # refused and expired requests were never computed
        assert after["translate_images_total"] == ok + 1
        assert after["translate_queue_length"] == 0 and after["translate_requests_in_progress"] == 0
        assert after["translate_seconds_per_image"] >= 0.02

        status, _, body = call(server, "POST", "/translate", png)  # the burst is over: served again
        assert status == 200 and body[:4] == b"\x89PNG"
        assert metrics(server)['translate_requests_total{endpoint="/translate",code="200"}'] == \
            after['translate_requests_total{endpoint="/translate",code="200"}'] + 1
    finally:
        stop(service, server)


def test_a_request_past_its_deadline_is_answered_503_and_never_computed(pix2pix_model, png):
    gate = threading.Event()
    service, server = serving(pix2pix_model, Limits(max_queue=4, max_batch=1, max_wait_ms=0, deadline_ms=200),
                              gate=gate)
    try:
        first: list[tuple[int, dict[str, str], bytes]] = []
        holder = threading.Thread(target=lambda: first.append(call(server, "POST", "/translate", png)))
        holder.start()
        assert service.pipeline.entered.wait(30)  # the worker took it and waits at the gate
        status, headers, body = call(server, "POST", "/translate", png)  # queued behind it: 200 ms pass
        error = json.loads(body)["error"]
        assert status == 503 and error["code"] == "deadline_exceeded" and "deadline of 200 ms" in error["message"]
        assert int(headers["Retry-After"]) >= 1
        gate.set()
        holder.join(60)
        assert first[0][0] == 200
        assert service.pipeline.images == 1  # the expired request was dropped, not translated
        m = metrics(server)
        assert m["translate_deadline_expiries_total"] == 1 and m["translate_rejections_total"] == 0
        assert service.batcher.stats.expired == 1
        assert call(server, "POST", "/translate", png)[0] == 200
    finally:
        gate.set()
        stop(service, server)


def test_retry_after_is_the_measured_drain_time_at_least_one_second() -> None:
    gate, started = threading.Event(), threading.Event()

    def run(images: list[np.ndarray], generator: str) -> list[np.ndarray]:
        started.set()
        gate.wait(10)
        return images

    batcher = Batcher(run, max_batch=1, max_wait_ms=0, max_queue=8)
    assert batcher.retry_after() == 1  # nothing measured, nothing waiting
    threads = [threading.Thread(target=batcher.submit, args=(np.zeros(1), "G")) for _ in range(4)]
    threads[0].start()
    assert started.wait(10)
    for t in threads[1:]:
        t.start()
    while batcher.waiting < 3:
        time.sleep(0.01)
    batcher.stats.seconds_per_image = 0.7  # as if measured: 1 running + 3 waiting = 2.8 s
    assert batcher.drain_seconds() == pytest.approx(2.8) and batcher.retry_after() == math.ceil(2.8)
    gate.set()
    for t in threads:
        t.join(10)
    assert batcher.waiting == 0 and 0 < batcher.stats.seconds_per_image < 0.7
    assert batcher.retry_after() == 1
    batcher.close()


def test_deadline_option_and_limits() -> None:
    parser = add_serve_arguments(argparse.ArgumentParser())
    assert limits_from(parser.parse_args(["m", "--deadline-ms", "250"])).deadline_ms == 250
    assert limits_from(parser.parse_args(["m"])).deadline_ms is None
    with pytest.raises(Exception, match=r"deadline-ms must be more than 0 and at most 3600000 \(an hour\), got 0"):
        Limits(deadline_ms=0)


def test_batcher_without_a_deadline_waits_as_long_as_it_takes() -> None:
    gate = threading.Event()
    batcher = Batcher(lambda images, g: (gate.wait(10), images)[1], max_batch=1, max_wait_ms=0, max_queue=2)
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(batcher.submit(np.ones(1), "G")))
    t.start()
    time.sleep(0.3)
    assert out == []
    gate.set()
    t.join(10)
    assert float(out[0][0]) == 1.0 and batcher.stats.expired == 0
    batcher.close()
    with pytest.raises(RequestError):
        batcher.submit(np.ones(1), "G")
