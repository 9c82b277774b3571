"""A run folder is used by one training process at a time.

The lock is an OS lock (``fcntl.flock``) on ``RUN/.translate.lock``: the OS releases it when
the holder exits or dies, so a lock left by a killed run is simply taken over. The holder's pid
is written inside for the message a second process gets. The file itself stays (removing it
would let two processes lock two different files of the same name).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import IO

from ..errors import TranslateError

LOCK_NAME = ".translate.lock"


class RunFolderBusy(TranslateError):
    """Another live process trains in this run folder."""


class RunLock:
    """Context manager holding the run folder's lock (a no-op where ``fcntl`` is missing)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no lock
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise RunFolderBusy(
                f"run folder {self.run_dir} is in use by another translate process (pid {holder}); "
                "wait for it to finish, stop it, or choose another --output-dir (nothing was changed)"
            ) from None
        except BaseException:
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
