"""Read the parameter blobs of a binary ``.caffemodel`` without Caffe or protobuf.

A ``.caffemodel`` is a serialised ``caffe.NetParameter`` (protocol buffers wire format). Only the
fields that hold weights are read; everything else is skipped by its wire type:

- ``NetParameter``: ``layer = 100`` (``LayerParameter``), legacy ``layers = 2`` (``V1LayerParameter``);
- ``LayerParameter``: ``name = 1``, ``type = 2``, ``blobs = 7``; ``V1LayerParameter``: ``name = 4``,
  ``blobs = 6``;
- ``BlobProto``: ``shape = 7`` (``BlobShape.dim = 1``, int64), legacy ``num/channels/height/width =
  1..4``, ``data = 5`` (float32), ``double_data = 8`` (float64).

The file is memory-mapped and each blob is copied out once, so a 500 MB model needs about its own
size in memory.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from translate.api import ModelFileError

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class NotACaffemodel(ModelFileError):
    """The file is not a binary Caffe NetParameter (or is truncated)."""


@dataclass
class CaffeLayer:
    """A layer of a caffemodel: its name, its type (a string; legacy files give the enum number) and blobs."""

    name: str
    type: str
    blobs: list[np.ndarray] = field(default_factory=list)


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int | tuple[int, int]]]:
    """The fields of one message in ``buf[start:end]`` as ``(number, wire type, value)``.

    Varints are ints; length-delimited fields and fixed32/fixed64 values are ``(start, end)`` offsets.
    """
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError(f"field number 0 at byte {pos}")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value
            continue
        if wire == _BYTES:
            size, pos = _varint(buf, pos, end)
        elif wire in (_FIXED32, _FIXED64):
            size = 4 if wire == _FIXED32 else 8
        else:
            raise ValueError(f"unsupported wire type {wire} (field {number}) at byte {pos}")
        if pos + size > end:
            raise ValueError(f"field {number} runs past the end of its message ({pos + size} > {end})")
        yield number, wire, (pos, pos + size)
        pos += size


def _text(buf: memoryview, span: tuple[int, int]) -> str:
    return bytes(buf[span[0]:span[1]]).decode("utf-8", errors="replace")


def _ints(buf: memoryview, wire: int, value: int | tuple[int, int]) -> list[int]:
    if wire == _VARINT:
        return [value]  # type: ignore[list-item]
    start, end = value  # type: ignore[misc]
    out = []
    while start < end:
        v, start = _varint(buf, start, end)
        out.append(v)
    return out


def read_blob(buf: memoryview, start: int, end: int) -> np.ndarray:
    """One ``BlobProto`` as a float32 array of its shape."""
    dims: list[int] = []
    legacy = [0, 0, 0, 0]
    chunks: list[np.ndarray] = []
    singles: list[float] = []
    for number, wire, value in fields(buf, start, end):
        if number == 7 and wire == _BYTES:
            for n, w, v in fields(buf, *value):  # type: ignore[misc]
                if n == 1:
                    dims.extend(_ints(buf, w, v))
        elif number in (1, 2, 3, 4) and wire == _VARINT:
            legacy[number - 1] = value  # type: ignore[assignment]
        elif number in (5, 8) and wire == _BYTES:
            s, e = value  # type: ignore[misc]
            dtype = "<f4" if number == 5 else "<f8"
            chunks.append(np.frombuffer(buf[s:e], dtype=dtype).astype(np.float32))
        elif number == 5 and wire == _FIXED32:
            singles.append(struct.unpack("<f", buf[value[0]:value[1]])[0])  # type: ignore[index]
        elif number == 8 and wire == _FIXED64:
            singles.append(struct.unpack("<d", buf[value[0]:value[1]])[0])  # type: ignore[index]
    if singles:
        chunks.append(np.asarray(singles, dtype=np.float32))
    data = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    shape = dims or [d for d in legacy if d] or [data.size]
    if int(np.prod(shape)) != data.size:
        raise ValueError(f"blob of shape {shape} holds {data.size} values")
    return data.reshape(shape)


def read_caffemodel(path: str | os.PathLike[str]) -> list[CaffeLayer]:
    """Every layer of a binary caffemodel with its blobs (layers without blobs included).

    Raises:
        NotACaffemodel: the file is missing, empty, a text prototxt, truncated or not a NetParameter.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            if not head:
                raise NotACaffemodel(f"{path}: empty file, not a caffemodel")
            if head.lstrip().startswith((b"name:", b"layer", b"input", b"#")):
                raise NotACaffemodel(f"{path}: a text prototxt (the network description), not the binary "
                                     ".caffemodel that holds the weights")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                buf = memoryview(mm)
                try:
                    return _read_net(buf)
                finally:
                    buf.release()
    except FileNotFoundError:
        raise NotACaffemodel(f"{path}: file not found") from None
    except ValueError as err:
        raise NotACaffemodel(f"{path}: not a readable binary caffemodel (Caffe NetParameter): {err}") from None


def _read_net(buf: memoryview) -> list[CaffeLayer]:
    layers = []
    for number, wire, value in fields(buf, 0, len(buf)):
        if wire != _BYTES or number not in (100, 2):
            continue
        name_field, blob_field = (1, 7) if number == 100 else (4, 6)
        name, kind, blobs = "", "", []
        for n, w, v in fields(buf, *value):  # type: ignore[misc]
            if n == name_field and w == _BYTES:
                name = _text(buf, v)  # type: ignore[arg-type]
            elif n == blob_field and w == _BYTES:
                blobs.append(read_blob(buf, *v))  # type: ignore[misc]
            elif number == 100 and n == 2 and w == _BYTES:
                kind = _text(buf, v)  # type: ignore[arg-type]
            elif number == 2 and n == 5 and w == _VARINT:
                kind = f"V1:{v}"
        layers.append(CaffeLayer(name, kind, blobs))
    if not layers:
        raise ValueError("no layers (NetParameter fields 'layer' or 'layers') found")
    return layers
