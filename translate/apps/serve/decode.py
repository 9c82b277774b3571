"""Request bodies to images and images to PNG bytes, safely.

A body is either the image itself (``image/png``, ``image/jpeg`` or ``application/octet-stream``)
or ``multipart/form-data`` with the image in a file part (the field ``image`` or ``file``, else
the first part that has a file name) and, optionally, a ``direction`` field. Only PNG and JPEG are
decoded (Pillow is told which formats to try, so no other decoder ever sees the bytes); the image
size is checked on the header, before any pixel is decoded (the decompression-bomb guard); EXIF
orientation is applied as :func:`translate.data.imageio.read_image` does for files, so a request gives
what ``translate.load(...)`` gives for the same file. Nothing in a request names a file: bodies are
decoded in memory.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np

from .limits import RequestError

FORMATS = ("PNG", "JPEG")
"""The image formats a request may carry."""
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "application/octet-stream",
               "application/x-www-form-urlencoded")
"""Content types of a raw image body (the bytes decide the format, not the type; the last is what
``curl --data-binary @file`` sends when not told otherwise)."""

_PARAM = re.compile(r';\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class Upload:
    """What a request body held: the image bytes and the ``direction`` form field, if any."""

    data: bytes
    direction: str | None = None


def _params(header: str) -> dict[str, str]:
    """``k=v`` parameters of a header value such as ``form-data; name="image"; filename="a.png"``."""
    out = {}
    for key, value in _PARAM.findall(header):
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[key.lower()] = value
    return out


def read_upload(body: bytes, content_type: str | None) -> Upload:
    """The image bytes of a request body (raw or ``multipart/form-data``).

    Raises:
        RequestError: 415 for another content type, 400 for a malformed multipart body or one
            without a file part.
    """
    kind = (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()
    if kind in IMAGE_TYPES:
        return Upload(body)
    if kind != "multipart/form-data":
        raise RequestError(415, "unsupported_content_type",
                           f"Content-Type {kind!r} is not accepted: send the image as image/png, image/jpeg or "
                           "application/octet-stream, or as multipart/form-data with a file field 'image'")
    boundary = _params(content_type or "").get("boundary")
    if not boundary or len(boundary) > 200:
        raise RequestError(400, "bad_multipart", "multipart/form-data without a boundary parameter")
    files: list[tuple[str, bytes]] = []
    direction = None
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise RequestError(400, "bad_multipart", "the multipart body has no part delimited by its boundary")
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise RequestError(400, "bad_multipart", "a multipart part has no header/body separator")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = _params(";" + headers.get("content-disposition", "").partition(";")[2])
        field = disposition.get("name", "")
        if field == "direction" and "filename" not in disposition:
            direction = content.decode("utf-8", "replace").strip()
        elif "filename" in disposition or field in ("image", "file"):
            files.append((field, content))
    if not files:
        raise RequestError(400, "no_image", "the multipart body has no file part: send the image in a field 'image'")
    chosen = next((data for field, data in files if field in ("image", "file")), files[0][1])
    return Upload(chosen, direction)


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """A PNG or JPEG as an ``(H, W, C)`` float32 array in [0, 1] (EXIF orientation applied).

    Raises:
        RequestError: 400 for an empty body or a corrupt or truncated image, 413 for more than
            ``max_pixels`` pixels, 415 for bytes that are not a PNG or JPEG.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ...data.imageio import pil_to_array

    if not data:
        raise RequestError(400, "empty_body", "the request has no image: send PNG or JPEG bytes as the body")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own, lower limit follows
            img = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except Image.DecompressionBombError as err:
        raise RequestError(413, "too_many_pixels", f"the image is too large: {err}") from None
    except UnidentifiedImageError:
        raise RequestError(415, "not_an_image",
                           f"the body ({len(data)} bytes, starting {data[:8]!r}) is not a PNG or JPEG image") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise RequestError(400, "corrupt_image", f"cannot read the image header: {err}") from None
    width, height = img.size
    if width < 1 or height < 1:
        raise RequestError(400, "corrupt_image", f"the image is empty ({width}x{height})")
    if width * height > max_pixels:
        raise RequestError(413, "too_many_pixels",
                           f"the image is {width}x{height} = {width * height} pixels, more than the "
                           f"{max_pixels} this server accepts (send a smaller image)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            ImageOps.exif_transpose(img, in_place=True)  # loads the pixels
            img.load()
        return pil_to_array(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise RequestError(400, "corrupt_image", f"cannot decode the {img.format} image: {err}") from None


def to_uint8(unit: np.ndarray) -> np.ndarray:
    """An ``(H, W, C)`` array in [0, 1] as uint8, rounded as ``translate.load`` rounds its PIL outputs."""
    return np.round(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)


def encode_png(unit: np.ndarray) -> bytes:
    """An ``(H, W, C)`` array in [0, 1] (C in 1..4) as 8-bit PNG bytes (``L``, ``LA``, ``RGB`` or ``RGBA``)."""
    from PIL import Image

    u8 = to_uint8(unit)
    buf = io.BytesIO()
    Image.fromarray(u8[:, :, 0] if u8.shape[2] == 1 else u8).save(buf, format="PNG")
    return buf.getvalue()


__all__ = ["FORMATS", "IMAGE_TYPES", "Upload", "decode_image", "encode_png", "read_upload", "to_uint8"]
