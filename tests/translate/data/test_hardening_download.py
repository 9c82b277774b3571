"""Downloads against hostile or failing conditions (issue 8): decompression bombs, servers that trickle
or stall, and a full disk. Servers listen on 127.0.0.1 only."""

from __future__ import annotations

import errno
import importlib
import io
import os
import re
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.archives import tar_gz
from tests.support.trickle import trickling_server
from translate.data.download import DataSource, download, extract, fetch
from translate.errors import DataError

# the package re-exports the functions under the modules' names, so reach the modules themselves
extract_mod = importlib.import_module("translate.data.download.extract")
fetch_mod = importlib.import_module("translate.data.download.fetch")

NAME = "bombset"
BODY = os.urandom(20_000)


# --------------------------------------------------------------------------- archives


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


ZEROS = b"\0" * (4 << 20)  # 4 MiB that compress to a few KiB: over 1000x


def source(archive: str = "tar.gz", size: int | None = None) -> DataSource:
    return DataSource(name=NAME, url=f"http://127.0.0.1:1/{NAME}.{archive}", size=size, archive=archive, strip=NAME)


def write(tmp_path: Path, data: bytes, archive: str) -> Path:
    path = tmp_path / f"{NAME}.{archive}"
    path.write_bytes(data)
    return path


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# --------------------------------------------------------------------------- decompression bombs


@pytest.mark.parametrize("archive", ["tar.gz", "zip"])
def test_bomb_is_refused_by_the_default_factor(tmp_path, archive, monkeypatch):
    monkeypatch.delenv(extract_mod.MAX_BYTES_ENV, raising=False)
    data = (tar_gz if archive == "tar.gz" else zip_bytes)({f"{NAME}/ok.txt": b"fine", f"{NAME}/bomb.bin": ZEROS})
    assert len(ZEROS) > 900 * len(data)  # deflate tops out near 1030x
    path = write(tmp_path, data, archive)
    root = tmp_path / "data"
    with pytest.raises(DataError) as err:
        extract(source(archive), path, root)
    limit = extract_mod.EXPAND_FACTOR * len(data)
    assert str(err.value).startswith(f"refusing to extract {path}: it expands to more than the limit of {limit} bytes")
    assert extract_mod.MAX_BYTES_ENV in str(err.value)
    assert leftovers(root) == []  # the partial folder is gone


def test_tar_over_the_limit_is_refused_before_any_member_is_written(tmp_path, monkeypatch):
    """The first pass reads the headers only: the member over the limit is found before a.bin is written."""
    written: list[str] = []
    real = tarfile.TarFile.makefile

    def makefile(self, tarinfo, targetpath):
        written.append(tarinfo.name)
        return real(self, tarinfo, targetpath)

    monkeypatch.setattr(tarfile.TarFile, "makefile", makefile)
    path = write(tmp_path, tar_gz({f"{NAME}/a.bin": b"a" * 600, f"{NAME}/b.bin": b"b" * 600}), "tar.gz")
    with pytest.raises(DataError, match=r"limit of 1000 bytes \(member 'bombset/b.bin' of 600 bytes brings the "
                                        r"total to 1200 bytes\)"):
        extract(source(), path, tmp_path / "data", max_bytes=1000)
    assert written == []
    assert leftovers(tmp_path / "data") == []


def test_zip_declared_sizes_are_checked_before_anything_is_written(tmp_path, monkeypatch):
    path = write(tmp_path, zip_bytes({f"{NAME}/a.bin": b"a" * 600, f"{NAME}/b.bin": b"b" * 600}), "zip")
    calls: list[str] = []
    real_open = zipfile.ZipFile.open

    def recording_open(self, name, *args, **kwargs):  # every member written is read through ZipFile.open
        calls.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    with pytest.raises(DataError, match=r"limit of 1000 bytes \(its members declare 1200 bytes\)"):
        extract(source("zip"), path, tmp_path / "data", max_bytes=1000)
    assert calls == []


def test_zip_members_are_counted_while_written(tmp_path, monkeypatch):
    """Should a member produce more than it declares, writing stops at the limit."""
    path = write(tmp_path, zip_bytes({f"{NAME}/a.bin": b"a" * 100}), "zip")
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda self, n=-1: b"x" * (n if n > 0 else 4096))  # endless
    with pytest.raises(DataError, match="member 'bombset/a.bin' holds more than the 100 bytes it declares"):
        extract(source("zip"), path, tmp_path / "data", max_bytes=10_000)
    assert leftovers(tmp_path / "data") == []


def test_limit_from_the_declared_size_env_and_keyword(tmp_path, monkeypatch):
    monkeypatch.delenv(extract_mod.MAX_BYTES_ENV, raising=False)
    files = {f"{NAME}/a.bin": os.urandom(3000)}
    path = write(tmp_path, tar_gz(files), "tar.gz")
    assert extract_mod.extract_limit(source(size=100), path) == 100 * extract_mod.EXPAND_FACTOR
    with pytest.raises(DataError, match="limit of 2000 bytes"):
        extract(source(size=100), path, tmp_path / "data")  # 20 x the declared 100 bytes
    monkeypatch.setenv(extract_mod.MAX_BYTES_ENV, "2999")
    with pytest.raises(DataError, match="limit of 2999 bytes"):
        extract(source(), path, tmp_path / "data")
    monkeypatch.setenv(extract_mod.MAX_BYTES_ENV, "lots")
    with pytest.raises(DataError, match=r"TRANSLATE_MAX_EXTRACT_BYTES='lots': expected a positive number of bytes"):
        extract(source(), path, tmp_path / "data")
    monkeypatch.setenv(extract_mod.MAX_BYTES_ENV, "3000")
    target = extract(source(), path, tmp_path / "data")  # exactly at the limit: fine
    assert (target / "a.bin").read_bytes() == files[f"{NAME}/a.bin"]
    assert extract(source(), path, tmp_path / "other", max_bytes=3000).is_dir()


# --------------------------------------------------------------------------- slow servers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mode = "normal"  # "trickle": 10 bytes every 0.05 s; "silent": headers, then nothing
    ranges: list[str | None]
    stop: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        srv = self.server
        rng = self.headers.get("Range")
        srv.ranges.append(rng)
        start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)) if rng else 0
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(BODY) - start))
        self.end_headers()
        body = BODY[start:]
        try:
            if srv.mode == "normal":
                self.wfile.write(body)
            elif srv.mode == "trickle":
                for i in range(0, min(len(body), 2000), 10):  # at most 10 s
                    self.wfile.write(body[i:i + 10])
                    self.wfile.flush()
                    if srv.stop.wait(0.05):
                        return
            else:
                srv.stop.wait(10)
        except OSError:
            pass  # the client gave up

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.ranges, srv.stop = [], threading.Event()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()


def served(srv: _Server, size: int | None = len(BODY)) -> DataSource:
    return DataSource(name=NAME, url=f"http://127.0.0.1:{srv.server_address[1]}/{NAME}.tar.gz", size=size)


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(fetch_mod, "RATE_WINDOW_S", 1.0)  # 200 bytes/s arrive: too slow
    monkeypatch.setattr(fetch_mod, "MIN_BYTES_PER_WINDOW", 1000)


def test_trickling_server_is_dropped_and_the_part_resumed(server, tmp_path, small_limits):
    server.mode = "trickle"
    src = served(server)
    started = time.monotonic()
    with pytest.raises(DataError) as err:
        fetch(src, tmp_path, progress=False)
    assert time.monotonic() - started < 5
    part = tmp_path / ".downloads" / f"{NAME}.tar.gz.part"
    kept = part.stat().st_size
    assert 0 < kept < 1000
    assert re.fullmatch(rf"download of {re.escape(src.url)} is too slow: \d+ bytes in the last 1(\.\d+)? s "
                        rf"\(at least 1000 are needed\); kept {kept} bytes in {re.escape(str(part))}; "
                        "run the command again to resume",
                        str(err.value)), str(err.value)
    server.mode = "normal"
    final = fetch(src, tmp_path, progress=False)
    assert final.read_bytes() == BODY
    assert server.ranges[-1] == f"bytes={kept}-"


def test_silent_server_is_dropped(server, tmp_path, small_limits):
    server.mode = "silent"
    started = time.monotonic()
    with pytest.raises(DataError, match=r"download of http://127\.0\.0\.1:\d+/bombset\.tar\.gz stalled: no data for "
                                        r"1 s after 0 bytes \(kept in .*\.part\); run the command again to resume"):
        fetch(served(server), tmp_path, progress=False)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("mode", ["trickle", "silent"])
def test_a_server_slow_with_its_headers_is_dropped_at_the_deadline(tmp_path, monkeypatch, mode):
    """Connecting and the whole response head share one deadline (issue 26): a header byte every 0.05 s would
    restart a per-read timeout forever."""
    monkeypatch.setattr(fetch_mod, "TIMEOUT_S", 0.5)
    with trickling_server(mode, every=0.05, limit=20) as server:
        with pytest.raises(DataError) as err:
            fetch(DataSource(name=NAME, url=server.url), tmp_path, progress=False)
        assert server.done.wait(20)
    assert str(err.value) == (
        f"could not download {server.url}: no complete answer within 0.5 s (connecting and receiving the status line "
        "and all headers must take less than that in all); the server is too slow or not answering. Try again later")
    assert server.client_left  # the client hung up, not the server
    if mode == "trickle":
        assert 0 < server.sent < 200  # it got through a few bytes of its head, not the 400 of its 20 s
    assert not (tmp_path / ".downloads" / "file.bin.part").exists()


def test_the_deadline_ends_with_the_head(server, tmp_path, monkeypatch):
    """A body that takes longer than the deadline in all, at a fine rate, is not cut by it."""
    monkeypatch.setattr(fetch_mod, "TIMEOUT_S", 0.3)
    monkeypatch.setattr(fetch_mod, "RATE_WINDOW_S", 1.0)
    monkeypatch.setattr(fetch_mod, "MIN_BYTES_PER_WINDOW", 100)  # the trickle sends 200 bytes/s
    server.mode = "trickle"  # 200 bytes over 1 s: past the 0.3 s deadline, never under the rate
    body = BODY[:200]
    monkeypatch.setitem(globals(), "BODY", body)  # what the handler serves
    final = fetch(served(server, size=len(body)), tmp_path, progress=False)
    assert final.read_bytes() == body


# --------------------------------------------------------------------------- disk full


class _FullDisk:
    """A file whose writes fail with ENOSPC once ``room`` bytes were written."""

    def __init__(self, path, mode, room: int):
        self._fh = open(path, mode)  # noqa: SIM115 - closed by __exit__
        self._room = room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            self._fh.write(data[: self._room])
            self._room = 0
            self._fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._fh.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def test_disk_full_keeps_the_part_for_resume(server, tmp_path, monkeypatch):
    src = served(server)
    monkeypatch.setattr(fetch_mod, "CHUNK", 4096)
    monkeypatch.setattr(fetch_mod, "open", lambda path, mode: _FullDisk(path, mode, 5000), raising=False)
    with pytest.raises(DataError) as err:
        download(src, tmp_path / "data", progress=False)
    part = tmp_path / "data" / ".downloads" / f"{NAME}.tar.gz.part"
    assert part.read_bytes() == BODY[:5000]
    assert str(err.value) == (
        f"download of {src.url}: the disk is full (No space left on device) writing {part} after 5000 bytes; "
        f"{len(BODY) - 5000} more bytes are needed. The partial download is kept: free some space and run the "
        "command again to resume"
    )
    monkeypatch.undo()
    assert fetch(src, tmp_path / "data", progress=False).read_bytes() == BODY
    assert server.ranges[-1] == "bytes=5000-"


def test_not_enough_space_is_said_before_the_body(server, tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(fetch_mod.shutil, "disk_usage", lambda path: usage._replace(free=1234))
    with pytest.raises(DataError, match=rf"not enough disk space for .*: {len(BODY)} more bytes are needed in "
                                        rf".*\.downloads, 1234 are free"):
        fetch(served(server), tmp_path, progress=False)
    assert server.ranges == [None]
    assert not (tmp_path / ".downloads" / f"{NAME}.tar.gz.part").exists()
