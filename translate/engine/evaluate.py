"""Evaluation during training: the recipe's ``[eval]`` table, run on the main process.

At the start the eval split is built once (main process first) and the main process runs a dry
evaluation on the fewest images the metrics accept, so a missing weight file, a metric that does
not fit the data or a ``best`` that names no value stops the run before the first step. Every ``every`` steps and at the end of training the main process runs the
method's exported generators (unwrapped, in their test-time mode) over the split with
:func:`translate.evaluation.evaluate_generators`; the modes, buffers and random state of training
are left as they were and the other processes wait. Values go to ``metrics.jsonl`` as
``eval/<key>`` (and TensorBoard).

With ``best``: when the value improves, the trainer saves a checkpoint at that step (every process
takes part; the decision is the main process's, shared with :func:`.steps.any_process`), then
``RUN/model-best.safetensors`` and ``RUN/best.json`` are written; checkpoint pruning keeps that
step's checkpoint beside the last K (:meth:`TrainingEvaluation.protected_steps`). A resumed run
reads the best so far back from ``best.json``. After the final evaluation and the export,
``RUN/evaluation.json`` records the values, the protocol, the model file and the data.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator

from ..components.build import BuiltMethod
from ..components.method import Method
from ..data.contract import DataInfo
from ..errors import DataError, TranslateError
from ..evaluation import (
    BEST_MODEL_FILENAME,
    EVALUATION_FILENAME,
    EvaluationResult,
    GeneratorUnderTest,
    MetricSpec,
    build_metric,
    evaluate_generators,
    format_table,
    write_evaluation,
)
from ..evaluation.published import check_published_images, compare_published, format_published
from ..evaluation.reference import Reference, assign_references
from ..evaluation.values import float_value, json_value
from ..models.weights import statistics_file
from ..plugin.registry import Registry
from ..recipe import Recipe
from ..run.layout import RunFolder
from .setup import build_dataset
from .steps import any_process


def read_best(run_dir: Path) -> dict[str, Any] | None:
    """``RUN/best.json`` (:meth:`RunFolder.best`) with its value as a float, or None when there is none, it
    cannot be read or its value is not a metric value."""
    best = RunFolder(run_dir).best()
    try:
        return {**best, "value": float_value(best["value"])} if best is not None else None
    except (KeyError, ValueError):
        return None


class TrainingEvaluation:
    """The ``[eval]`` table of one run. Every process builds one; only the main process evaluates."""

    def __init__(self, recipe: Recipe, registry: Registry, run_dir: Path, accelerator: Any, *,
                 resume: bool, data_options: Any = None) -> None:
        assert recipe.eval is not None
        self.recipe, self.spec, self.registry = recipe, recipe.eval, registry
        self.run_dir, self.accelerator = run_dir, accelerator
        self.specs = [MetricSpec(name, dict(self.spec.options.get(name, {}))) for name in self.spec.metrics]
        self.last_result: EvaluationResult | None = None
        self.last_step: int | None = None
        self.evaluated_step: int | None = None  # the same on every process
        self.references: dict[str, Reference] = {}  # [eval] reference, read by the main process in check()
        if self.spec.best is not None and self.spec.split == "test":
            accelerator.print(f"warning: eval.best = {self.spec.best!r} chooses the best checkpoint on the test split: "
                              "that is selection on the test set, so the best value is optimistic; choose on a "
                              "validation split (eval.split = \"val\") to report the test value honestly (the report "
                              "and the model card show the final model's values beside the best)")
        self.best: dict[str, Any] | None = None
        self._previous_best_step: int | None = None
        with accelerator.main_process_first():  # a generated data set is written once, by the main process
            try:
                self.dataset = build_dataset(recipe, registry, self.spec.split, data_options)
            except DataError as err:
                raise DataError(f"eval.split = {self.spec.split!r}: {err}") from None
        if resume and self.spec.best is not None:
            best = read_best(run_dir)
            if best is not None and best.get("key") == self.spec.best:
                self.best = best

    def check(self, method: Method) -> None:
        """Fail before the first step when the evaluation cannot run (all processes call it).

        Raises:
            TranslateError: an empty split, a direction the data set cannot evaluate, a metric that
                cannot be built (unknown, bad options, missing weights) or does not fit the data.
        """
        error: TranslateError | None = None
        if self.accelerator.is_main_process:
            try:
                self._check(method)
            except TranslateError as err:
                error = err
        self._agree(error)

    def _check(self, method: Method) -> None:
        count = len(self.dataset)
        if count == 0:
            raise TranslateError(f"eval.split: the {self.spec.split!r} split of data set "
                                 f"{self.recipe.data.name!r} has no images to evaluate")
        info = getattr(self.dataset, "info", None)
        for export in method.exports():
            if export.test_mode == "train" and self.recipe.train.sync_batchnorm and self.accelerator.num_processes > 1:
                raise TranslateError(  # SyncBatchNorm in train mode would wait for processes that do not evaluate
                    f"eval: generator {export.name!r} is tested in train mode, which cannot run with "
                    "train.sync_batchnorm on several processes; use test_mode = \"eval\" or turn sync_batchnorm off")
            if not isinstance(info, DataInfo) or info.keys_for(export.direction) is None:
                raise TranslateError(
                    f"eval: data set {self.recipe.data.name!r} does not say which images a {export.direction} "
                    f"generator reads and should produce (DataInfo.translations), so it cannot be evaluated")
        check_published_images([p.model_dump() for p in self.spec.published], count, "eval.published")
        count = min(count, self.spec.num_images or count)
        self.references = assign_references(self.spec.reference, [(e.name, e.direction) for e in method.exports()],
                                            statistics_file, where="eval.reference")  # read once, used every time
        fewest = 1
        served = dict(getattr(self.dataset, "channels", None) or {})  # the outputs' channels, for RGB-only metrics
        counts = {served.get(info.keys_for(e.direction)[1]) for e in method.exports()}  # type: ignore[union-attr]
        channels = next(iter(counts)) if len(counts) == 1 else None
        for spec in self.specs:
            metric = build_metric(self.registry, spec, device=self.accelerator.device, where="eval", channels=channels)
            if metric.needs_aligned and not info.aligned:  # type: ignore[union-attr]
                raise TranslateError(f"eval.metrics: {spec.name!r} compares each output with its own ground truth, "
                                     "but the training data set is unpaired; use a distribution metric (FID, KID)")
            if count < metric.min_images:
                raise TranslateError(f"eval: metric {spec.name!r} needs at least {metric.min_images} images; "
                                     f"the {self.spec.split!r} split gives {count}")
            fewest = max(fewest, metric.min_images)
        # A dry run on the fewest images the metrics accept: the value names are known (eval.best is
        # checked) and a metric that fails on these images fails now, not after hours of training.
        values = self._evaluate(method, num_images=fewest).values
        if self.spec.best is not None and self.spec.best not in values:
            raise TranslateError(f"eval.best: {self.spec.best!r} is not one of the values the evaluation gives: "
                                 f"{', '.join(values)}")

    def _agree(self, error: TranslateError | None) -> None:
        """Raise ``error`` on the main process, and a pointer to it on the others (a collective call)."""
        if any_process(error is not None, self.accelerator):
            raise error or TranslateError("the evaluation failed on the main process (see its error)")

    def due(self, step: int, final: bool) -> bool:
        """Whether to evaluate after ``step``: every ``every`` steps, and at the end of training."""
        return final or (self.spec.every > 0 and step % self.spec.every == 0)

    def evaluate(self, step: int, method: Method, log: Any) -> bool:
        """Evaluate at ``step`` on the main process, log the values; whether ``best`` improved (all processes
        call it and get the same answer)."""
        error: TranslateError | None = None
        improved = False
        self.evaluated_step = step
        if self.accelerator.is_main_process:
            try:
                result = self._evaluate(method)
                self.last_result, self.last_step = result, step
                if log is not None:
                    log.log(step, {f"eval/{k}": json_value(v) for k, v in result.values.items()})
                improved = self._improves(result, step)
            except TranslateError as err:
                error = err
        self._agree(error)
        return any_process(improved, self.accelerator)

    def _evaluate(self, method: Method, num_images: int | None = None) -> EvaluationResult:
        unwrap = self.accelerator.unwrap_model
        gens = [GeneratorUnderTest(e.name, e.direction, unwrap(method.networks[e.network]), e.test_mode)
                for e in method.exports()]
        with _plain_forward([g.module for g in gens]):
            return evaluate_generators(
                gens, self.dataset, self.specs, self.registry, device=self.accelerator.device,
                batch_size=self.spec.batch_size, num_images=num_images or self.spec.num_images,
                precision=self.spec.precision,
                seed=self.recipe.seed, where="eval", split=self.spec.split, references=self.references)

    def _improves(self, result: EvaluationResult, step: int) -> bool:
        key = self.spec.best
        if key is None:
            return False
        if key not in result.values:
            raise TranslateError(f"eval.best: {key!r} is not one of the values the evaluation gives: "
                                 f"{', '.join(result.values)}")
        value, higher = result.values[key], result.higher_is_better[key]
        if math.isnan(value):
            return False
        if self.best is not None and not (value > self.best["value"] if higher else value < self.best["value"]):
            return False
        self._previous_best_step = self.best["step"] if self.best is not None else None
        self.best = {"key": key, "value": value, "step": step, "higher_is_better": higher}
        return True

    def protected_steps(self) -> tuple[int, ...]:
        """Checkpoint steps that pruning must keep: the best one (and the previous best until best.json moves on)."""
        steps = [s for s in (self._previous_best_step, self.best["step"] if self.best else None) if s is not None]
        return tuple(steps)

    def write_best(self, step: int, checkpoint: Path, built: BuiltMethod, resolved: dict[str, Any]) -> None:
        """Write ``model-best.safetensors`` and ``best.json`` for ``step`` (every process calls it)."""
        from .steps import export

        export(self.run_dir, built, self.accelerator, resolved, filename=BEST_MODEL_FILENAME)
        if self.accelerator.is_main_process and self.best is not None:
            body = {**self.best, "value": json_value(self.best["value"]),
                    "checkpoint": checkpoint.relative_to(self.run_dir).as_posix()}
            RunFolder(self.run_dir).write_best(body)
        self._previous_best_step = None

    def finish(self, model_path: Path | None, info: DataInfo) -> Path | None:
        """After the export: print the last evaluation's table, write ``evaluation.json`` (main process)."""
        if not self.accelerator.is_main_process or self.last_result is None:
            return None
        from ..models.weights import file_sha256

        result = self.last_result
        model: dict[str, Any] = {"step": self.last_step}
        if model_path is not None:
            model.update(path=str(model_path), sha256=file_sha256(model_path))
        data = {"name": self.recipe.data.name, "split": self.spec.split, "folder": info.folder,
                "fingerprint": result.protocol.get("inputs_sha256")}
        published = compare_published([p.model_dump() for p in self.spec.published], result.values, result.protocol)
        path = write_evaluation(self.run_dir / EVALUATION_FILENAME, result, model=model, data=data,
                                published=published)
        self.accelerator.print(f"evaluation at step {self.last_step} on the {self.spec.split!r} split:\n"
                               f"{format_table(result)}" + (f"\n{format_published(published)}" if published else ""))
        if self.best is not None and self.best["step"] != self.last_step:
            self.accelerator.print(f"best {self.best['key']} {self.best['value']:.4g} at step {self.best['step']}: "
                                   f"{self.run_dir / BEST_MODEL_FILENAME}")
        return path


@contextlib.contextmanager
def _plain_forward(modules: list[Any]) -> Iterator[None]:
    """Run the modules without Accelerate's mixed-precision forward wrapper, so that ``eval.precision``
    decides the precision (the wrapper is put back afterwards)."""
    swapped = []
    for module in modules:
        state = getattr(module, "__dict__", {})
        if "forward" in state and "_original_forward" in state:
            swapped.append((module, state["forward"]))
            module.forward = state["_original_forward"]
    try:
        yield
    finally:
        for module, forward in swapped:
            module.forward = forward
