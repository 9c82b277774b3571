"""Download one archive over HTTP(S), resuming a partial download, with size and SHA-256 checks.

Layout under ``root``::

    root/.downloads/<filename>.part   # while downloading (resumed with an HTTP Range request)
    root/.downloads/<filename>        # complete, verified archive

What it does: a ``.part`` left by an interrupted run is continued with ``Range: bytes=N-``
(a server that answers 200 instead is read from the start; one that answers 416 for a
``.part`` that already holds the whole file is done). The total size the server
announces is compared with :attr:`DataSource.size` *before* any byte is written, the
size and SHA-256 of the finished file after; a wrong file is removed, a short one kept
for the next run. Requests send ``User-Agent: translate-i2i/<version>``; every error is
a :class:`DataError` naming the URL.

Slow servers: connecting and the whole response head (status line and headers) must be done
within :data:`TIMEOUT_S`, a deadline, not a timeout per read (:mod:`.deadline`: a watchdog shuts
the socket when it passes), so a server that sends its headers a byte every few seconds, or never
finishes them, is dropped in time, through redirects and proxies too. Then, for the body, a read
waits at most :data:`RATE_WINDOW_S` for the next bytes, and in every :data:`RATE_WINDOW_S` seconds
at least :data:`MIN_BYTES_PER_WINDOW` bytes must arrive (a server that trickles a few bytes every
few seconds, which would restart a plain read timeout forever, is dropped). Disk full: a write that fails with ``ENOSPC`` (and a free-space check
before the body, when the size is known) stops with a :class:`DataError` saying where and how
much space is needed. In both cases the ``.part`` file is kept, so the next run resumes.

Why not a library: ``huggingface_hub.file_download.http_get`` (the one resumable
downloader in our dependency tree) is not public API (not exported by
``huggingface_hub`` nor in its reference docs), raises Hub-specific errors, retries by
itself (so an interrupted download does not stop with "run the command again to
resume"), fails on the 416 answer for an already complete ``.part`` and checks the size
only after the whole body arrived. urllib3 and requests are not in the tree, and
``httpx2`` would only replace ``urllib.request``: the Range logic would stay ours. So
this module keeps its own small implementation on the standard library.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from ...errors import DataError
from ...utils.disk import is_disk_full
from ...utils.hashing import file_sha256
from ...version import __version__
from ..source import DataSource
from .deadline import HeadDeadline

DOWNLOADS = ".downloads"
CHUNK = 1 << 20
TIMEOUT_S = 60.0
"""Seconds that connecting and the whole response head may take together (a deadline, not a per-read timeout)."""
RATE_WINDOW_S = 60.0
"""The window of the minimum-rate rule, in seconds; also the longest wait for any bytes of the body."""
MIN_BYTES_PER_WINDOW = 64 * 1024
"""At least this many bytes must arrive in every :data:`RATE_WINDOW_S` seconds (about 1 KiB/s)."""
USER_AGENT = f"translate-i2i/{__version__}"


def fetch(source: DataSource, root: Path | str, *, progress: bool = True) -> Path:
    """Download the archive to ``root/.downloads/<filename>`` (resuming a ``.part``) and verify it."""
    downloads = Path(root) / DOWNLOADS
    downloads.mkdir(parents=True, exist_ok=True)
    final = downloads / source.filename
    part = downloads / (source.filename + ".part")
    if final.is_file():
        if _complete(source, final):
            return final
        final.unlink()  # a stale or damaged archive: fetch it again
    total = _fetch_part(source, part, progress=progress)
    _verify(source, part, source.size if source.size is not None else total)
    os.replace(part, final)
    return final


def _complete(source: DataSource, path: Path) -> bool:
    if source.size is not None and path.stat().st_size != source.size:
        return False
    return source.sha256 is None or file_sha256(path) == source.sha256


def _fetch_part(source: DataSource, part: Path, *, progress: bool) -> int | None:
    """Stream the archive into ``part``, appending when the server continues at its end.

    Returns the total size the server announced (None when it did not say).
    """
    offset = part.stat().st_size if part.is_file() else 0
    if source.size is not None and offset > source.size:
        offset = 0  # larger than the whole file: it cannot be a prefix of it
    resp, start, total = _open(source.url, offset)
    if resp is None and total == offset:  # 416: the .part already holds the whole file
        _check_total(source, total, part)
        return total
    if resp is None or start not in (0, offset):  # the server cannot continue this .part: start over
        if resp is not None:
            resp.close()
        resp, start, total = _open(source.url, 0)
        assert resp is not None  # no Range header was sent, so no 416
    with resp:
        _check_total(source, total, part)
        _stream(resp, part, start or 0, source.size or total, source.url, progress)
    return total


def _open(url: str, offset: int) -> tuple[http.client.HTTPResponse | None, int | None, int | None]:
    """GET ``url`` from byte ``offset``: (response, offset of its first byte, total size), None where unknown.

    The response is None when the server answered 416 (nothing at or after ``offset``).
    """
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    deadline = HeadDeadline(TIMEOUT_S)
    try:
        with deadline:
            resp = deadline.opener().open(urllib.request.Request(url, headers=headers),
                                          timeout=min(TIMEOUT_S, RATE_WINDOW_S))  # also each read of the body
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return None, offset, _content_range(err.headers.get("Content-Range"))[1]
        raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        if deadline.expired or isinstance(getattr(err, "reason", err), TimeoutError):
            raise _late(url) from None
        raise DataError(f"could not download {url}: {getattr(err, 'reason', err)}") from None
    if deadline.expired:  # the head came in just as the watchdog shut the socket
        resp.close()
        raise _late(url)
    length = resp.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if resp.status == 200:
        return resp, 0, length
    if resp.status == 206 and offset:
        start, total = _content_range(resp.headers.get("Content-Range"))
        if total is None and start is not None and length is not None:
            total = start + length
        return resp, start, total
    resp.close()
    raise DataError(f"download of {url} failed: unexpected HTTP status {resp.status}")


def _late(url: str) -> DataError:
    return DataError(f"could not download {url}: no complete answer within {TIMEOUT_S:g} s (connecting and "
                     "receiving the status line and all headers must take less than that in all); the server is "
                     "too slow or not answering. Try again later")


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``"bytes 10-99/100"`` -> ``(10, 100)``, ``"bytes */100"`` -> ``(None, 100)``; ``*`` totals are None."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None
    start, total = m.groups()
    return None if start is None else int(start), None if total == "*" else int(total)


def _check_total(source: DataSource, total: int | None, part: Path) -> None:
    """Raise (and drop the partial file) when the server's total size is not the expected one."""
    if source.size is not None and total is not None and total != source.size:
        part.unlink(missing_ok=True)
        raise DataError(
            f"download of {source.url}: the server offers {total} bytes but data set {source.name!r} "
            f"expects {source.size} bytes (the file on the server may have changed)"
        )


def _stream(resp: http.client.HTTPResponse, part: Path, offset: int,
            total: int | None, url: str, progress: bool) -> None:
    """Write the body to ``part`` from byte ``offset`` on (appending when it is not 0)."""
    from tqdm import tqdm

    if total is not None:
        _check_space(part, total - offset, url)
    written = offset
    window_start, window_bytes = time.monotonic(), offset
    try:
        with open(part, "ab" if offset else "wb") as fh, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress,
        ) as bar:
            while True:
                chunk = _read(resp, url, written, part)
                if not chunk:
                    break
                fh.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
                now = time.monotonic()
                if now - window_start >= RATE_WINDOW_S:
                    if written - window_bytes < MIN_BYTES_PER_WINDOW:
                        raise DataError(
                            f"download of {url} is too slow: {written - window_bytes} bytes in the last "
                            f"{now - window_start:.3g} s (at least {MIN_BYTES_PER_WINDOW} are needed); kept "
                            f"{written} bytes in {part}; run the command again to resume"
                        )
                    window_start, window_bytes = now, written
    except OSError as err:  # writing (reading errors are DataErrors already)
        raise _write_error(err, part, written, total, url) from None


def _read(resp: http.client.HTTPResponse, url: str, written: int, part: Path) -> bytes:
    """The next bytes the server sent (``read1``: returns as soon as any arrived); b"" at the end."""
    try:
        return resp.read1(CHUNK)
    except TimeoutError:
        raise DataError(
            f"download of {url} stalled: no data for {min(TIMEOUT_S, RATE_WINDOW_S):.3g} s after {written} bytes "
            f"(kept in {part}); run the command again to resume"
        ) from None
    except (http.client.HTTPException, OSError) as err:
        raise DataError(
            f"download of {url} was interrupted after {written} bytes ({type(err).__name__}); "
            "run the command again to resume"
        ) from None


def _check_space(part: Path, needed: int, url: str) -> None:
    """Raise before the body is read when the folder of ``part`` has less than ``needed`` bytes free."""
    try:
        free = shutil.disk_usage(part.parent).free
    except OSError:
        return
    if needed > free:
        raise DataError(
            f"not enough disk space for {url}: {needed} more bytes are needed in {part.parent}, "
            f"{free} are free; free some space (or use another --root) and run the command again"
        )


def _write_error(err: OSError, part: Path, written: int, total: int | None, url: str) -> DataError:
    """A DataError for a failed write of ``part``; a full disk says how much space is still needed."""
    if is_disk_full(err):
        try:
            kept = part.stat().st_size
        except OSError:
            kept = written
        needed = f"{total - kept} more bytes are needed" if total is not None else \
            "the total size is unknown, so more space than that is needed"
        return DataError(
            f"download of {url}: the disk is full ({err.strerror}) writing {part} after {kept} bytes; {needed}. "
            "The partial download is kept: free some space and run the command again to resume"
        )
    return DataError(f"download of {url}: could not write {part}: {err}")


def _verify(source: DataSource, part: Path, expected: int | None) -> None:
    size = part.stat().st_size
    if expected is not None and size < expected:
        raise DataError(
            f"download of {source.url} ended early: got {size} of {expected} bytes "
            f"(kept in {part}); run the command again to resume"
        )
    if expected is not None and size > expected:
        part.unlink()
        raise DataError(f"download of {source.url}: got {size} bytes, expected {expected}; removed the download")
    if source.sha256 is not None:
        digest = file_sha256(part)
        if digest != source.sha256:
            part.unlink()
            raise DataError(
                f"download of {source.url}: SHA-256 is {digest}, expected {source.sha256}; removed the download"
            )
