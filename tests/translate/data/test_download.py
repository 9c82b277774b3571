"""Tests for translate.data.download against a local HTTP server (127.0.0.1 only, no internet)."""

from __future__ import annotations

import io
import os
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

import translate
import translate.plugin.loading
from tests.support.archives import tar_gz as _tar_gz
from translate.commands import builtin as builtin_commands
from translate.commands.main import main
from translate.data.download import DataSource, download, extract, fetch
from translate.errors import DataError, PluginError
from translate.plugin.loading import load_plugins

NAME = "testpairs"
FILES = {
    f"{NAME}/train/1.png": os.urandom(40_000),
    f"{NAME}/train/2.png": os.urandom(30_000),
    f"{NAME}/val/1.png": os.urandom(20_000),
}


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    files: dict[str, bytes]
    ranges: list[str | None]
    ignore_range: bool = False
    truncate: int = 0  # answer this many requests with half the body, then close


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        srv = self.server
        data = srv.files.get(self.path)
        rng = self.headers.get("Range")
        srv.ranges.append(rng)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if rng and not srv.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.truncate > 0:
            srv.truncate -= 1
            body = body[: len(body) // 2]
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.files, srv.ranges = {}, []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _url(srv: _Server, path: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def _serve(srv: _Server, data: bytes, *, archive: str = "tar.gz", size: int | None = None, **kw: object) -> DataSource:
    path = f"/sets/{NAME}.{archive}"
    srv.files[path] = data
    return DataSource(name=NAME, url=_url(srv, path), size=size, archive=archive, strip=NAME,
                      description="tiny test pairs", **kw)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _expected() -> dict[str, bytes]:
    return {k.removeprefix(f"{NAME}/"): v for k, v in FILES.items()}


# --------------------------------------------------------------------------- download + extraction


def test_full_download_and_layout(server: _Server, tmp_path: Path) -> None:
    data = _tar_gz(FILES)
    source = _serve(server, data, size=len(data))
    root = tmp_path / "data"
    target = download(source, root, progress=False)
    assert target == root / NAME
    assert _tree(target) == _expected()
    assert sorted(p.name for p in root.iterdir()) == [NAME]  # archive and temp folders are gone
    assert server.ranges == [None]


def test_keep_archive_and_sha256(server: _Server, tmp_path: Path) -> None:
    import hashlib

    data = _tar_gz(FILES)
    source = _serve(server, data, sha256=hashlib.sha256(data).hexdigest())
    download(source, tmp_path, progress=False, keep_archive=True)
    assert (tmp_path / ".downloads" / f"{NAME}.tar.gz").read_bytes() == data


def test_sha256_mismatch(server: _Server, tmp_path: Path) -> None:
    source = _serve(server, _tar_gz(FILES), sha256="0" * 64)
    with pytest.raises(DataError, match="SHA-256"):
        download(source, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_resume_from_partial_file(server: _Server, tmp_path: Path) -> None:
    data = _tar_gz(FILES)
    source = _serve(server, data, size=len(data))
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / f"{NAME}.tar.gz.part").write_bytes(data[:12_345])
    archive = fetch(source, tmp_path, progress=False)
    assert server.ranges == ["bytes=12345-"]
    assert archive.read_bytes() == data
    assert not (downloads / f"{NAME}.tar.gz.part").exists()


def test_interrupted_download_then_resume(server: _Server, tmp_path: Path) -> None:
    data = _tar_gz(FILES)
    source = _serve(server, data)  # no expected size: the server's Content-Length is the check
    server.truncate = 1
    with pytest.raises(DataError, match="resume"):
        download(source, tmp_path, progress=False)
    part = tmp_path / ".downloads" / f"{NAME}.tar.gz.part"
    assert part.stat().st_size == len(data) // 2
    assert not (tmp_path / NAME).exists()
    target = download(source, tmp_path, progress=False)
    assert server.ranges == [None, f"bytes={len(data) // 2}-"]
    assert _tree(target) == _expected()


def test_server_without_range_support_restarts(server: _Server, tmp_path: Path) -> None:
    data = _tar_gz(FILES)
    source = _serve(server, data, size=len(data))
    server.ignore_range = True
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / f"{NAME}.tar.gz.part").write_bytes(b"garbage that is not a prefix")
    archive = fetch(source, tmp_path, progress=False)
    assert server.ranges == ["bytes=28-"]
    assert archive.read_bytes() == data


def test_complete_part_file_416(server: _Server, tmp_path: Path) -> None:
    data = _tar_gz(FILES)
    source = _serve(server, data)
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / f"{NAME}.tar.gz.part").write_bytes(data)
    assert fetch(source, tmp_path, progress=False).read_bytes() == data


def test_resume_detects_changed_server_file(server: _Server, tmp_path: Path) -> None:
    data = _tar_gz(FILES)
    source = _serve(server, data, size=len(data) - 1)
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / f"{NAME}.tar.gz.part").write_bytes(data[:-1])
    with pytest.raises(DataError, match=f"offers {len(data)} bytes.*expects {len(data) - 1}"):
        fetch(source, tmp_path, progress=False)
    assert not (downloads / f"{NAME}.tar.gz.part").exists()


def test_size_mismatch(server: _Server, tmp_path: Path) -> None:
    data = _tar_gz(FILES)
    source = _serve(server, data, size=len(data) + 10)
    with pytest.raises(DataError) as err:
        download(source, tmp_path, progress=False)
    msg = str(err.value)
    assert source.url in msg and str(len(data) + 10) in msg and str(len(data)) in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no data, no empty .downloads


def test_http_error_names_url(server: _Server, tmp_path: Path) -> None:
    source = DataSource(name=NAME, url=_url(server, "/missing.tar.gz"), strip=NAME)
    with pytest.raises(DataError, match=r"missing\.tar\.gz.*404"):
        download(source, tmp_path, progress=False)


def test_corrupt_archive(server: _Server, tmp_path: Path) -> None:
    source = _serve(server, b"this is not gzip data" * 10)
    with pytest.raises(DataError, match="not a valid tar.gz archive"):
        download(source, tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".downloads"]


def test_missing_top_folder(server: _Server, tmp_path: Path) -> None:
    source = _serve(server, _tar_gz({"other/train/1.png": b"x"}))
    with pytest.raises(DataError, match="no top folder 'testpairs'.*other"):
        download(source, tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".downloads"]


def test_zip_archive(server: _Server, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(name, data)
    source = _serve(server, buf.getvalue(), archive="zip")
    assert _tree(download(source, tmp_path, progress=False)) == _expected()


# --------------------------------------------------------------------------- unsafe archives


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", size: int = 5) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = size if kind == tarfile.REGTYPE else 0
    return info


def _unsafe_members(outside: Path) -> dict[str, list[tarfile.TarInfo]]:
    return {
        "dotdot": [_member(f"{NAME}/../../evil.txt")],
        "absolute": [_member(str(outside / "abs_evil.txt"))],
        "symlink": [
            _member(f"{NAME}/link", tarfile.SYMTYPE, linkname="../../outside"),
            _member(f"{NAME}/link/pwned.txt"),
        ],
        "absolute-symlink": [
            _member(f"{NAME}/link", tarfile.SYMTYPE, linkname=str(outside)),
            _member(f"{NAME}/link/pwned.txt"),
        ],
        "hardlink": [_member(f"{NAME}/hard", tarfile.LNKTYPE, linkname="../secret.txt")],
        "chained-symlinks": [  # each link looks harmless as text; together they lead out of the folder
            _member(f"{NAME}/up", tarfile.SYMTYPE, linkname=".."),
            _member(f"{NAME}/out", tarfile.SYMTYPE, linkname="up/.."),
            _member(f"{NAME}/out/pwned.txt"),
        ],
        "device": [_member(f"{NAME}/dev", tarfile.CHRTYPE)],
    }


@pytest.mark.parametrize(
    "case", ["dotdot", "absolute", "symlink", "absolute-symlink", "hardlink", "chained-symlinks", "device"]
)
@pytest.mark.parametrize("data_filter", [True, False], ids=["filter", "without-filter"])
def test_unsafe_tar_members_rejected(server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     case: str, data_filter: bool) -> None:
    if not data_filter:  # as on a Python without tarfile's extraction filters
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    root = tmp_path / "root"
    before = _tree(tmp_path)
    members = _unsafe_members(outside)[case]
    source = _serve(server, _tar_gz(FILES, members))
    with pytest.raises(DataError, match="refusing to extract") as err:
        download(source, root, progress=False)
    assert source.filename in str(err.value)  # the message names the archive ...
    if data_filter:
        assert any(repr(m.name) in str(err.value) for m in members)  # ... and the member
    else:  # no safe way to extract: refused, and the message says why
        assert "extraction filters" in str(err.value)
    after = {k: v for k, v in _tree(tmp_path).items() if not k.startswith("root/")}
    assert after == before  # nothing written or changed outside root
    assert not (tmp_path / "evil.txt").exists() and not (outside / "pwned.txt").exists()
    assert not (root / "pwned.txt").exists()
    assert sorted(p.name for p in root.iterdir()) == [".downloads"]  # no half-extracted folder


def test_symlink_inside_is_allowed(server: _Server, tmp_path: Path) -> None:
    extra = [_member(f"{NAME}/latest", tarfile.SYMTYPE, linkname="train/1.png")]
    target = download(_serve(server, _tar_gz(FILES, extra)), tmp_path, progress=False)
    assert (target / "latest").is_symlink()
    assert (target / "latest").read_bytes() == FILES[f"{NAME}/train/1.png"]


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs_evil.txt"])
def test_unsafe_zip_members_rejected(tmp_path: Path, bad: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{NAME}/train/1.png", b"ok")
        zf.writestr(bad, b"evil")
    source = DataSource(name=NAME, url="http://127.0.0.1/bad.zip", archive="zip", strip=NAME)
    root = tmp_path / "root"
    with pytest.raises(DataError, match="refusing to extract"):
        extract(source, archive, root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip", "root"]
    assert list(root.iterdir()) == []


def test_existing_target_untouched(server: _Server, tmp_path: Path) -> None:
    source = _serve(server, _tar_gz(FILES))
    (tmp_path / NAME).mkdir()
    (tmp_path / NAME / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="already exists"):
        download(source, tmp_path, progress=False)
    assert _tree(tmp_path / NAME) == {"mine.txt": b"keep me"}
    assert server.ranges == []  # refused before downloading anything


def test_empty_target_folder_is_filled(server: _Server, tmp_path: Path) -> None:
    (tmp_path / NAME).mkdir()
    target = download(_serve(server, _tar_gz(FILES)), tmp_path, progress=False)
    assert _tree(target) == _expected()


def test_datasource_validation() -> None:
    with pytest.raises(ValueError, match="plain"):
        DataSource(name="../x", url="http://127.0.0.1/x.tar.gz")
    with pytest.raises(ValueError, match="filename"):
        DataSource(name="x", url="http://127.0.0.1/x.tar.gz", filename="../x.tar.gz")
    with pytest.raises(ValueError, match="http"):
        DataSource(name="x", url="file:///etc/passwd")
    with pytest.raises(ValueError, match="archive"):
        DataSource(name="x", url="http://127.0.0.1/x.rar", archive="rar")  # type: ignore[arg-type]
    assert DataSource(name="x", url="http://127.0.0.1/a/x.tar.gz").filename == "x.tar.gz"


# --------------------------------------------------------------------------- CLI and registry


class _SourcePlugin:
    def __init__(self, source: DataSource) -> None:
        self.source = source

    @translate.hookimpl
    def register_data_sources(self, register) -> None:  # noqa: ANN001
        register(self.source.name, lambda: self.source, description=self.source.description)


@pytest.fixture
def use_plugin(install_plugins):
    def install(obj: object) -> None:
        install_plugins(load_plugins(extra=[("testsrc", obj), ("commands", builtin_commands)], entry_points=[],
                                     strict=True))

    return install


def test_cli_download(server: _Server, tmp_path: Path, use_plugin, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = _tar_gz(FILES)
    use_plugin(_SourcePlugin(_serve(server, data, size=len(data), citation="cite the test")))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "uses_it.toml").write_text(f'[data]\nname = "paired"\noptions = {{ root = "data/{NAME}" }}\n')
    (tmp_path / "recipes" / "other.toml").write_text('[data]\nname = "paired"\noptions = { root = "data/x" }\n')
    root = tmp_path / "data"
    assert main(["data", "download", NAME, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert str(root / NAME) in out and "train, val" in out
    assert "uses_it.toml" in out and "other.toml" not in out
    assert "cite the test" in out
    assert _tree(root / NAME) == _expected()
    # a second run refuses and leaves the data alone
    assert main(["data", "download", NAME, "--root", str(root)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_download_of_a_bomb(server: _Server, tmp_path: Path, use_plugin, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A tar.gz expanding over 1000x: one error line, exit 2, no data folder, no extraction debris."""
    monkeypatch.delenv("TRANSLATE_MAX_EXTRACT_BYTES", raising=False)
    data = _tar_gz({f"{NAME}/train/bomb.png": b"\0" * (8 << 20)})
    assert len(data) * 1000 < 8 << 20
    use_plugin(_SourcePlugin(_serve(server, data, size=len(data))))
    root = tmp_path / "data"
    assert main(["data", "download", NAME, "--root", str(root)]) == 2
    full = capsys.readouterr().err
    err = full.splitlines()[-1]  # after the progress bar
    assert err.startswith(f"error: refusing to extract {root / '.downloads' / (NAME + '.tar.gz')}: it expands to "
                          f"more than the limit of {20 * len(data)} bytes")
    assert "Nothing was extracted" in err and "Traceback" not in full and not (root / NAME).exists()
    assert sorted(p.name for p in root.iterdir()) == [".downloads"]  # the verified archive, nothing extracted


def test_cli_list_and_unknown(server: _Server, use_plugin, capsys: pytest.CaptureFixture[str]) -> None:
    use_plugin(_SourcePlugin(_serve(server, b"x", size=30168306)))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert NAME in out and "28.8 MiB" in out and "tiny test pairs" in out
    assert main(["data", "download", "testpair"]) == 2
    err = capsys.readouterr().err
    assert "unknown data_source 'testpair'" in err and "did you mean 'testpairs'" in err


def test_factory_returning_wrong_type(use_plugin) -> None:
    class Broken:
        @translate.hookimpl
        def register_data_sources(self, register) -> None:  # noqa: ANN001
            register("broken", lambda: {"url": "x"})

    use_plugin(Broken())
    from translate.commands.download import source_of

    with pytest.raises(PluginError, match="not a DataSource"):
        source_of(translate.plugin.loading.get_registry().get("data_source", "broken"))


def test_pix2pix_sources_register() -> None:
    from translate_datasets.sources import BASE_URL, register_sources

    class Plugin:
        @translate.hookimpl
        def register_data_sources(self, register) -> None:  # noqa: ANN001
            register_sources(register)

    registry = load_plugins(extra=[("pix2pix_sources", Plugin())], entry_points=[], strict=True).registry
    names = registry.names("data_source")
    assert names == sorted(["facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day"])
    for name in names:
        source = registry.get("data_source", name).factory()
        assert isinstance(source, DataSource)
        assert source.url == f"{BASE_URL}{name}.tar.gz" and source.strip == name and source.archive == "tar.gz"
        assert source.citation and registry.get("data_source", name).description
