"""Child processes of ``translate run`` whose pix2pix training steps each sleep a little, so that a
signal or a kill surely lands mid-run however fast the machine is (the weights are unaffected).

The sleep is installed by a ``sitecustomize`` module on the child's ``PYTHONPATH``. Where the child's
environment names a file in :data:`STEP_MARKS`, each step appends its number to it before it sleeps: a
test sees when training (not the start of the process) is under way."""

from __future__ import annotations

import os
from pathlib import Path

STEP_MARKS = "TRANSLATE_TEST_STEP_MARKS"
"""The environment variable naming the file that the steps are marked in (optional)."""

_HOOK = """
import os
import time
from translate_pix2pix.method import Pix2Pix

_original = Pix2Pix.train_step
_marks = os.environ.get({marks!r})

def _slow(self, batch, ctx):
    if _marks:
        with open(_marks, "a") as fh:
            fh.write(f"{{ctx.step}}\\n")
    time.sleep({seconds!r})
    return _original(self, batch, ctx)

Pix2Pix.train_step = _slow
"""


def slow_steps_env(hooks: Path, seconds: float) -> dict[str, str]:
    """The environment of a child whose pix2pix steps sleep ``seconds`` each, with one CPU thread (the
    weights are compared bit for bit with runs that use one thread) and no progress bar; the hook is
    written into the folder ``hooks``."""
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / "sitecustomize.py").write_text(_HOOK.format(seconds=seconds, marks=STEP_MARKS))
    return {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])}
