"""The run folder: checkpoints, state files, the metrics log, the lock, and reading a finished run.

- :mod:`~translate.run.checkpoint`: writing and reading checkpoints (safetensors and JSON, no pickle);
- :mod:`~translate.run.state`: optimizer, scheduler and RNG state files;
- :mod:`~translate.run.resume`: the newest usable checkpoint, falling back from damaged ones;
- :mod:`~translate.run.logs`: ``metrics.jsonl`` and the TensorBoard mirror;
- :mod:`~translate.run.lock`: one training process per run folder;
- :mod:`~translate.run.nospace`: a full disk while writing, reported clearly;
- :mod:`~translate.run.layout`: :class:`RunFolder`, the layout of a run folder, named in one place, and
  what its readers share (the last metrics record, one step's metrics, which keys are losses);
- :mod:`~translate.run.folder`: reading a finished run folder for the report (:class:`RunContents`).

May import :mod:`translate.utils` only: the engine, the model files and the apps read and write
run folders through it.
"""
