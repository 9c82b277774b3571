"""``translate serve``: the HTTP API on 127.0.0.1 (port 0, in a thread) against the tiny trained models.

Outputs equal ``translate.load(...)`` on the same image; concurrent requests (a bounded number)
are batched; bad requests (oversized, malformed, not images, wrong routes) get clear JSON 4xx
answers and the server goes on serving.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import translate
from tests.support.model_runs import write_image
from translate.apps.serve import Batcher, Limits, ModelService, RequestError, decode_image, make_server, read_upload

ROOT = Path(__file__).resolve().parents[3]


def _start(service: ModelService):
    server = make_server(service, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def p2p(pix2pix_model: Path):
    service = ModelService(pix2pix_model, device="cpu", limits=Limits(max_pixels=64 * 64, max_bytes=200_000,
                                                                      max_wait_ms=5))
    server, thread = _start(service)
    yield server
    server.shutdown()
    server.server_close()
    service.close()


@pytest.fixture(scope="module")
def cyc(cyclegan_model: Path):
    service = ModelService(cyclegan_model, device="cpu", limits=Limits(max_batch=4, max_wait_ms=300))
    server, thread = _start(service)
    yield server
    server.shutdown()
    server.server_close()
    service.close()


def call(server, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body) of one request on a fresh connection."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def png_bytes(path: Path) -> bytes:
    return path.read_bytes()


def as_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def error_of(status: int, body: bytes) -> dict:
    payload = json.loads(body)["error"]
    assert payload["status"] == status and payload["message"]
    return payload


def multipart(fields: list[tuple[str, str | None, bytes]], boundary: str = "xYzBoundary42") -> tuple[bytes, str]:
    parts = []
    for name, filename, data in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disp}\r\n"
        if filename:
            head += "Content-Type: image/png\r\n"
        parts.append(head.encode() + b"\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------- description, health


def test_description_endpoint(p2p, cyc) -> None:
    status, headers, body = call(cyc, "GET", "/model")
    assert status == 200 and headers["Content-Type"] == "application/json"
    d = json.loads(body)
    assert d["name"] == "cyclegan-model" and d["method"] == "cyclegan"
    assert d["domains"] == ["day", "night"] and d["default_direction"] == "AtoB"
    assert [(x["direction"], x["input_domain"], x["output_domain"]) for x in d["directions"]] == [
        ("AtoB", "day", "night"), ("BtoA", "night", "day")]
    assert all(x["in_channels"] == 3 and x["out_channels"] == 3 and x["scale_factor"] == 1 for x in d["directions"])
    assert d["input"]["size_multiple"] == 4 and d["input"]["recommended_size"] == 32
    assert d["input"]["formats"] == ["image/png", "image/jpeg"] and d["batching"]["max_batch"] == 4
    assert d["limitations"] and "/" not in d["name"]  # no server path in the description
    d = json.loads(call(p2p, "GET", "/model")[2])
    assert d["method"] == "pix2pix" and [x["direction"] for x in d["directions"]] == ["AtoB"]
    assert d["input"]["max_pixels"] == 64 * 64 and d["input"]["max_bytes"] == 200_000
    status, _, body = call(p2p, "GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, _, body = call(p2p, "GET", "/")
    assert status == 200 and "POST /translate" in json.loads(body)["endpoints"]


# --------------------------------------------------------------------------- outputs equal translate.load


def test_outputs_equal_translate_load(p2p, pix2pix_model: Path, tmp_path: Path) -> None:
    pipe = translate.load(pix2pix_model, device="cpu")
    png = write_image(tmp_path / "in.png", 40, 36, seed=1)  # not a multiple of the size multiple: padded
    status, headers, body = call(p2p, "POST", "/translate", png_bytes(png), {"Content-Type": "image/png"})
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["X-Translate-Generator"] == "G" and headers["X-Translate-Direction"] == "AtoB"
    expected = np.asarray(pipe(png))
    assert expected.shape == (40, 36, 3)
    np.testing.assert_array_equal(as_array(body), expected)

    jpeg = tmp_path / "in.jpg"
    Image.open(png).save(jpeg, quality=90)
    status, _, body = call(p2p, "POST", "/translate", jpeg.read_bytes(), {"Content-Type": "image/jpeg"})
    assert status == 200
    np.testing.assert_array_equal(as_array(body), np.asarray(pipe(jpeg)))

    gray = write_image(tmp_path / "gray.png", 32, 32, mode="L", seed=2)  # converted to the 3 input channels
    form, ctype = multipart([("note", None, b"hello"), ("image", "gray.png", png_bytes(gray))])
    status, _, body = call(p2p, "POST", "/translate", form, {"Content-Type": ctype})
    assert status == 200
    np.testing.assert_array_equal(as_array(body), np.asarray(pipe(gray)))


def test_exif_orientation_is_applied_as_for_files(tmp_path: Path) -> None:
    from translate.data.imageio import read_image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 12, 3), dtype=np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif, quality=95)
    arr = decode_image(path.read_bytes(), 10_000)
    assert arr.shape == (12, 8, 3)
    np.testing.assert_array_equal(arr, read_image(path))


def test_cyclegan_directions(cyc, cyclegan_model: Path, tmp_path: Path) -> None:
    png = write_image(tmp_path / "night.png", 32, 32, seed=3)
    for direction in ("AtoB", "BtoA"):
        status, headers, body = call(cyc, "POST", f"/translate?direction={direction}", png_bytes(png),
                                     {"Content-Type": "image/png"})
        assert status == 200 and headers["X-Translate-Direction"] == direction
        expected = np.asarray(translate.load(cyclegan_model, device="cpu", direction=direction)(png))
        np.testing.assert_array_equal(as_array(body), expected)
    form, ctype = multipart([("direction", None, b"BtoA"), ("image", "n.png", png_bytes(png))])
    status, headers, _ = call(cyc, "POST", "/translate", form, {"Content-Type": ctype})
    assert status == 200 and headers["X-Translate-Direction"] == "BtoA"
    status, _, body = call(cyc, "POST", "/translate?direction=CtoD", png_bytes(png), {"Content-Type": "image/png"})
    err = error_of(400, body)
    assert err["code"] == "unknown_direction" and "AtoB (AtoB: day -> night)" in err["message"]
    status, _, body = call(cyc, "POST", "/translate?direction=AtoB", form, {"Content-Type": ctype})
    assert status == 400 and error_of(400, body)["code"] == "conflicting_direction"


# --------------------------------------------------------------------------- batching


def test_concurrent_requests_are_batched(cyc, cyclegan_model: Path, tmp_path: Path) -> None:
    pipe = translate.load(cyclegan_model, device="cpu")
    n = 8
    images = [png_bytes(write_image(tmp_path / f"c{i}.png", 32, 32, seed=10 + i)) for i in range(n)]
    before = json.loads(call(cyc, "GET", "/health")[2])
    barrier = threading.Barrier(n)
    results: list[tuple[int, bytes] | None] = [None] * n

    def client(i: int) -> None:
        barrier.wait(timeout=30)
        status, _, body = call(cyc, "POST", "/translate", images[i], {"Content-Type": "image/png"})
        results[i] = (status, body)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None and r[0] == 200 for r in results), results
    for i, (_, body) in enumerate(results):  # batched results are the single-image ones (float rounding aside)
        expected = np.asarray(pipe(tmp_path / f"c{i}.png")).astype(int)
        assert np.abs(as_array(body).astype(int) - expected).max() <= 1
    after = json.loads(call(cyc, "GET", "/health")[2])
    assert after["images"] - before["images"] == n
    assert after["batches"] - before["batches"] < n and after["largest_batch"] > 1  # max_wait 300 ms, batch of 4
    assert after["largest_batch"] <= 4 and after["waiting"] == 0


def test_batcher_groups_by_generator_bounds_the_queue_and_survives_errors() -> None:
    calls: list[tuple[str, int]] = []
    gate = threading.Event()

    def run(images: list[np.ndarray], generator: str) -> list[np.ndarray]:
        gate.wait(10)
        calls.append((generator, len(images)))
        if generator == "bad":
            raise RuntimeError("the model failed")
        return [im + 1 for im in images]

    batcher = Batcher(run, max_batch=3, max_wait_ms=50, max_queue=6)
    out: dict[int, object] = {}

    def submit(i: int, generator: str) -> None:
        try:
            with batcher.expecting():
                out[i] = batcher.submit(np.full((1,), float(i)), generator)
        except (RuntimeError, RequestError) as err:
            out[i] = err

    jobs = [("a", 0), ("b", 1), ("a", 2), ("a", 3), ("bad", 4), ("a", 5)]
    threads = [threading.Thread(target=submit, args=(i, g)) for g, i in jobs]
    for t in threads:
        t.start()
        time.sleep(0.01)
    time.sleep(0.2)  # the worker runs a, a, a (blocked on the gate); b waits aside; bad and a are queued
    extra = []
    while batcher.waiting < batcher.max_queue and len(extra) < 10:  # fill the queue up (the worker is blocked)
        extra.append(threading.Thread(target=submit, args=(10 + len(extra), "a")))
        extra[-1].start()
        time.sleep(0.1)
    assert batcher.waiting >= batcher.max_queue
    with pytest.raises(RequestError) as full:
        batcher.submit(np.zeros(1), "a")
    assert full.value.status == 503 and full.value.code == "busy"
    gate.set()
    for t in threads + extra:
        t.join(10)
    assert [float(out[i][0]) for i in (0, 1, 2, 3, 5)] == [1.0, 2.0, 3.0, 4.0, 6.0]
    assert [float(out[10 + i][0]) for i in range(len(extra))] == [11.0 + i for i in range(len(extra))]
    assert isinstance(out[4], RuntimeError)
    assert all(n <= 3 for _, n in calls) and ("b", 1) in calls
    assert float(batcher.submit(np.zeros(1), "a")[0]) == 1.0  # the worker survived the failed batch
    batcher.close()
    with pytest.raises(RequestError, match="shutting down"):
        batcher.submit(np.zeros(1), "a")


# --------------------------------------------------------------------------- bad requests


def _huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels but holds almost no data (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _raw(server, data: bytes) -> bytes:
    """Send raw bytes on a socket and return the answer (for requests http.client will not make)."""
    with socket.create_connection(server.server_address[:2], timeout=30) as s:
        s.sendall(data)
        chunks = []
        while True:
            got = s.recv(65536)
            if not got:
                break
            chunks.append(got)
    return b"".join(chunks)


def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(p2p, tmp_path: Path) -> None:
    good = png_bytes(write_image(tmp_path / "ok.png", 32, 32, seed=4))
    big = png_bytes(write_image(tmp_path / "big.png", 80, 80, seed=5))  # 6400 > 64 * 64 pixels
    truncated = good[: len(good) // 2]
    png = {"Content-Type": "image/png"}
    cases = [
        ("POST", "/translate", b"this is not an image", png, 415, "not_an_image"),
        ("POST", "/translate", b"", png, 400, "empty_body"),
        ("POST", "/translate", truncated, png, 400, "corrupt_image"),
        ("POST", "/translate", big, png, 413, "too_many_pixels"),
        ("POST", "/translate", _huge_png_header(100_000, 100_000), png, 413, "too_many_pixels"),
        ("POST", "/translate", good, {"Content-Type": "text/plain"}, 415, "unsupported_content_type"),
        ("POST", "/translate", b"--nope\r\n", {"Content-Type": "multipart/form-data; boundary=zz"}, 400,
         "bad_multipart"),
        ("POST", "/translate", multipart([("other", None, b"x")])[0],
         {"Content-Type": multipart([])[1]}, 400, "no_image"),
        ("POST", "/translate?path=/etc/passwd", good, png, 400, "unknown_parameter"),
        ("POST", "/translate", b"\0" * 200_001, png, 413, "body_too_large"),
        ("GET", "/translate", None, {}, 405, "method_not_allowed"),
        ("PUT", "/model", good, png, 405, "method_not_allowed"),
        ("GET", "/../../etc/passwd", None, {}, 404, "not_found"),
        ("POST", "/health", good, png, 405, "method_not_allowed"),
    ]
    for method, path, body, headers, status, code in cases:
        got, got_headers, answer = call(p2p, method, path, body, headers)
        assert got == status, (path, code, answer)
        assert got_headers["Content-Type"] == "application/json"
        assert error_of(status, answer)["code"] == code, answer
        ok, _, _ = call(p2p, "POST", "/translate", good, png)  # still serving
        assert ok == 200
    text = error_of(413, call(p2p, "POST", "/translate", big, png)[2])["message"]
    assert "80x80 = 6400 pixels, more than the 4096" in text
    # no Content-Length (chunked): 411; a declared length over the limit: 413 before any body is sent
    answer = _raw(p2p, b"POST /translate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411") and b"length_required" in answer
    answer = _raw(p2p, b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and b"body_too_large" in answer
    answer = _raw(p2p, b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"bad_content_length" in answer
    answer = _raw(p2p, b"GARBAGE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b'"code": "bad_http"' in answer
    assert call(p2p, "POST", "/translate", good, png)[0] == 200
    assert json.loads(call(p2p, "GET", "/health")[2])["status"] == "ok"


def test_keep_alive_connection_serves_several_requests(p2p, tmp_path: Path) -> None:
    good = png_bytes(write_image(tmp_path / "ok.png", 32, 32, seed=6))
    host, port = p2p.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for _ in range(3):
            conn.request("POST", "/translate", body=good, headers={"Content-Type": "image/png"})
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read()[:4] == b"\x89PNG"
        conn.request("POST", "/translate", body=b"nope", headers={"Content-Type": "image/png"})
        resp = conn.getresponse()
        assert resp.status == 415
        resp.read()
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_multipart_parsing_keeps_binary_bytes() -> None:
    data = bytes(range(256)) * 4 + b"\r\n--almost\r\n"
    body, ctype = multipart([("file", "x.bin", data)], boundary="b0undary")
    assert read_upload(body, ctype).data == data
    body, ctype = multipart([("a", "a.png", b"first"), ("image", "b.png", b"second")])
    assert read_upload(body, ctype).data == b"second"  # the field named image wins
    assert read_upload(b"raw", None).data == b"raw"
    with pytest.raises(RequestError, match="boundary"):
        read_upload(b"x", "multipart/form-data")


def test_limits_are_checked() -> None:
    with pytest.raises(translate.TranslateError, match="max-batch must be at least 1"):
        Limits(max_batch=0)
    with pytest.raises(translate.TranslateError, match="max-wait-ms"):
        Limits(max_wait_ms=-1)


# --------------------------------------------------------------------------- the command


def test_serve_command_end_to_end(pix2pix_model: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "translate", "serve", str(pix2pix_model), "--port", "0",
                             "--device", "cpu", "--max-batch", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving pix2pix-model (pix2pix: AtoB) on http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        good = png_bytes(write_image(tmp_path / "ok.png", 32, 32, seed=7))
        conn.request("POST", "/translate", body=good, headers={"Content-Type": "image/png"})
        resp = conn.getresponse()
        assert resp.status == 200
        served = as_array(resp.read()).astype(int)
        here = np.asarray(translate.load(pix2pix_model, device="cpu")(tmp_path / "ok.png")).astype(int)
        # Another process: oneDNN may sum in another order (threads), and a last-bit difference can flip the
        # rounding to 8 bits (seen once: one value of 3072 off by one). In-process, the tests above are exact.
        assert served.shape == here.shape and np.abs(served - here).max() <= 1
        assert (served != here).mean() < 0.01
        conn.request("GET", "/model")
        assert json.loads(conn.getresponse().read())["batching"]["max_batch"] == 2
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_serve_command_reports_a_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from translate.commands.main import main

    assert main(["serve", str(tmp_path / "nope"), "--port", "0"]) == 2
    assert "nope" in capsys.readouterr().err
