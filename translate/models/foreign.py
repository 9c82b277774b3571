"""Files that are not translate model files but are often mistaken for them: PyTorch checkpoints.

:func:`pytorch_checkpoint` recognises what ``torch.save`` writes (a zip archive with a
``data.pkl`` member, or, in its legacy format, a pickle) from the first bytes and, for a zip, the
member names; nothing is unpickled. The message it returns names ``translate convert``, which
turns an authors' pix2pix/CycleGAN checkpoint into a model folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

CONVERT_HINT = "translate convert {path} --out DIR"
"""The command that turns an authors' checkpoint into a model folder."""


def _head(path: Path) -> bytes:
    """The first 8 bytes of a regular file (b"" for anything else: a FIFO is never opened)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return b""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            return fh.read(8)
    except OSError:
        return b""


def checkpoints_hint(folder: Path) -> str:
    """``"; it holds PyTorch checkpoints ...: translate convert ..."`` for a folder with ``*.pth`` files, else ""."""
    found = sorted(f.name for f in folder.glob("*.pth"))[:3]
    if not found:
        return ""
    return (f"; it holds PyTorch checkpoints ({', '.join(found)}): convert one into a model folder with "
            + CONVERT_HINT.format(path=folder / found[0]))


def is_pickle(head: bytes) -> bool:
    """Whether ``head`` starts a pickle of protocol 2 to 5 (``torch.save``'s legacy format starts with one).

    The PROTO opcode (0x80) and its protocol byte are followed by an opcode, never a byte below 0x20:
    a safetensors length prefix such as 0x280 (0x80 0x02 0x00 ...) is not taken for a pickle.
    """
    return len(head) >= 3 and head[0] == 0x80 and 2 <= head[1] <= 5 and head[2] >= 0x20


def pytorch_checkpoint(path: str | os.PathLike[str]) -> str | None:
    """The error message for a PyTorch checkpoint or a pickle at ``path``, None for anything else."""
    p = Path(path)
    head = _head(p)
    if head[:4] == b"PK\x03\x04":
        import zipfile

        try:
            with zipfile.ZipFile(p) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return (f"{p}: a zip archive that cannot be read (truncated?), not a translate model file "
                    "(model.safetensors); if it is a PyTorch checkpoint, copy it again and convert it: "
                    + CONVERT_HINT.format(path=p))
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return f"{p}: a zip archive, not a translate model file (model.safetensors)"
        what = "a PyTorch checkpoint (torch.save's zip format)"
    elif is_pickle(head):
        what = "a PyTorch checkpoint or Python pickle (torch.save's legacy format)"
    else:
        return None
    return (f"{p}: is {what}, not a translate model file (model.safetensors); translate does not unpickle the "
            "models it loads. If it is a pix2pix or CycleGAN generator of the authors' code (*_net_G.pth, or "
            f"*_net_G_A.pth with *_net_G_B.pth), convert it once into a model folder: {CONVERT_HINT.format(path=p)} "
            "(then use DIR)")


__all__ = ["CONVERT_HINT", "checkpoints_hint", "is_pickle", "pytorch_checkpoint"]
