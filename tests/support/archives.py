"""Archives made in memory for the download and extraction tests."""

from __future__ import annotations

import io
import os
import tarfile


def tar_gz(files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A .tar.gz of ``files`` (name -> bytes) and the ``extra`` members (links, devices, ...)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return buf.getvalue()


def empty_members_tar_gz(path: str | os.PathLike[str], count: int, folder: str) -> int:
    """Write a .tar.gz of ``count`` empty files ``folder/0000000``, ... to ``path``, fast: one ustar header is
    made once and only its name and checksum change (a million members take about 2 s, 10 MB). Returns the
    archive's size."""
    import zlib

    info = tarfile.TarInfo(f"{folder}/{0:07d}")
    info.mtime, info.mode = 0, 0o644
    header = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    header[148:156] = b" " * 8  # the checksum is summed with its own field as spaces
    at, base = len(folder) + 1, sum(header) - sum(b"0000000")
    gz = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    size = 0
    with open(path, "wb") as out:
        block: list[bytes] = []
        for i in range(count):
            digits = b"%07d" % i
            header[at:at + 7] = digits
            header[148:156] = b"%06o\0 " % (base + sum(digits))
            block.append(bytes(header))
            if len(block) == 4096 or i == count - 1:
                size += out.write(gz.compress(b"".join(block)))
                block.clear()
        size += out.write(gz.compress(b"\0" * 1024) + gz.flush())  # the two zero blocks that end a tar
    return size
