"""The evaluation core: evaluate_generators with tiny in-process metrics, evaluation.json, and the
recipe's [eval] table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tests.support.tiny_plugin import TinyGenerator, TinyMetricsPlugin, TinyOptions, TinyPlugin
from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.data.contract import DataInfo
from translate.errors import RecipeError
from translate.evaluation import (
    EvaluationError,
    EvaluationResult,
    GeneratorUnderTest,
    MetricSpec,
    evaluate_generators,
    format_table,
    read_evaluation,
    write_evaluation,
)
from translate.nn.test_mode import dropout_seed
from translate.plugin.loading import builtin_entry_points, load_plugins
from translate.recipe import load_recipe

BUILTINS = ("pix2pix", "losses", "datasets", "cyclegan")


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra=[("tinyplug", TinyPlugin()), ("tinymetrics", TinyMetricsPlugin())],
                        entry_points=[]).registry


@pytest.fixture(scope="module")
def recipe_registry():
    eps = [ep for ep in builtin_entry_points() if ep.name in BUILTINS]
    return load_plugins(extra=[("tinymetrics", TinyMetricsPlugin())], entry_points=eps, strict=True).registry


def _image(seed: int, channels: int = 3, size: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(channels, size, size, generator=g) * 2 - 1


class Paired(torch.utils.data.Dataset):
    """Seven deterministic pairs of 8x8 images."""

    def __init__(self, count: int = 7, shift: int = 0, translations: bool = True) -> None:
        self.count, self.shift = count, shift
        self.channels = {"input": 3, "target": 3}
        self.info = DataInfo(translations=(("AtoB", "input", "target"),) if translations else (), aligned=True)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, key):
        index = key[0] if isinstance(key, tuple) else key
        return {"input": _image(index + self.shift), "target": _image(100 + index), "name": f"img{index}"}


class Unpaired(torch.utils.data.Dataset):
    channels = {"A": 3, "B": 3}
    info = DataInfo(translations=(("AtoB", "A", "B"), ("BtoA", "B", "A")), aligned=False)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, key):
        index = key[0]
        return {"A": _image(index), "B": _image(50 + index), "name": f"a{index}", "name_B": f"b{index}"}


def _net(seed: int = 0, dropout: float = 0.0, out_channels: int = 3) -> TinyGenerator:
    torch.manual_seed(seed)
    return TinyGenerator(TinyOptions(width=4, dropout=dropout), in_channels=3, out_channels=out_channels)


def _gen(net, name="G", direction="AtoB", mode="eval") -> GeneratorUnderTest:
    return GeneratorUnderTest(name=name, direction=direction, module=net, test_mode=mode)


def _run(registry, gens, dataset, specs, **kwargs) -> EvaluationResult:
    return evaluate_generators(gens, dataset, specs, registry, device="cpu", **kwargs)


def test_values_match_an_independent_computation(registry) -> None:
    net = _net()
    net.train()  # the caller's mode: the evaluation puts it in eval mode and back
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    data = Paired()
    specs = [MetricSpec("tiny_mae", {"scale": 2.0}), MetricSpec("tiny_mean")]
    rng = torch.get_rng_state()
    result = _run(registry, [_gen(net)], data, specs, batch_size=3, num_images=5, split="test")
    assert torch.equal(torch.get_rng_state(), rng)
    assert net.training and all(torch.equal(v, buffers[k]) for k, v in net.named_buffers())

    net.eval()
    with torch.no_grad():
        fakes = [net(data[(i, i)]["input"][None]).clamp(-1, 1)[0] for i in range(5)]
    mae = sum(float((f - data[(i, i)]["target"]).abs().mean()) for i, f in enumerate(fakes)) / 5
    assert set(result.values) == {"tiny_mae", "tiny_mean", "tiny_mean_real"}
    assert result.values["tiny_mae"] == pytest.approx(2 * mae, rel=1e-5)
    assert result.values["tiny_mean"] == pytest.approx(sum(float(f.mean()) for f in fakes) / 5, rel=1e-5, abs=1e-6)
    assert result.higher_is_better == {"tiny_mae": False, "tiny_mean": True, "tiny_mean_real": True}
    p = result.protocol
    assert p["split"] == "test" and p["precision"] == "fp32" and p["aligned"] is True
    assert p["generators"] == {"G": {"direction": "AtoB", "test_mode": "eval", "num_images": 5,
                                     "input_key": "input", "target_key": "target", "generated_images": 5,
                                     "real_images": 5}}
    assert p["metrics"]["tiny_mae"] == {"options": {"scale": 2.0}, "scale": 2.0, "num_images": 5}
    assert "tiny_mean" in p["metrics"]
    assert len(p["inputs_sha256"]) == 64 and p["translate_version"]
    # the batch size changes nothing; the fingerprint follows the data
    again = _run(registry, [_gen(net)], data, specs, batch_size=5, num_images=5)
    assert again.values == pytest.approx(result.values, abs=1e-6) and again.protocol["inputs_sha256"] == p["inputs_sha256"]
    other = _run(registry, [_gen(net)], Paired(shift=1), specs, num_images=5)
    assert other.protocol["inputs_sha256"] != p["inputs_sha256"]
    assert _run(registry, [_gen(net)], data, specs, num_images=4).protocol["inputs_sha256"] != p["inputs_sha256"]


def test_both_directions_on_unpaired_data(registry) -> None:
    ab, ba = _net(1), _net(2)
    result = _run(registry, [_gen(ab, "AtoB", "AtoB"), _gen(ba, "BtoA", "BtoA")], Unpaired(),
                  [MetricSpec("tiny_mean")])
    assert set(result.values) == {"AtoB/tiny_mean", "AtoB/tiny_mean_real", "BtoA/tiny_mean", "BtoA/tiny_mean_real"}
    data = Unpaired()
    real_b = sum(float(data[(i, i)]["B"].mean()) for i in range(4)) / 4
    real_a = sum(float(data[(i, i)]["A"].mean()) for i in range(4)) / 4
    assert result.values["AtoB/tiny_mean_real"] == pytest.approx(real_b, abs=1e-6)
    assert result.values["BtoA/tiny_mean_real"] == pytest.approx(real_a, abs=1e-6)
    ba.eval()
    with torch.no_grad():
        fake_a = sum(float(ba(data[(i, i)]["B"][None]).clamp(-1, 1).mean()) for i in range(4)) / 4
    assert result.values["BtoA/tiny_mean"] == pytest.approx(fake_a, abs=1e-6)
    assert result.protocol["generators"]["BtoA"]["input_key"] == "B"
    assert result.protocol["aligned"] is False


class Uneven(torch.utils.data.Dataset):
    """3 A images and 5 B images, paired as unpaired sets are off the train split: item i is A[i % 3], B[i % 5]."""

    channels = {"A": 3, "B": 3}
    info = DataInfo(translations=(("AtoB", "A", "B"), ("BtoA", "B", "A")), aligned=False,
                    file_formats=(("A", ".jpg", 3), ("B", ".png", 5)))

    def __len__(self) -> int:
        return 5

    def __getitem__(self, key):
        index = key[0]
        return {"A": _image(index % 3), "B": _image(50 + index % 5), "name": f"a{index % 3}",
                "name_B": f"b{index % 5}"}


def test_unpaired_data_counts_each_image_once_as_the_papers_do(registry) -> None:
    """120 horses against 140 zebras: each distinct input translated once, each distinct real image once."""
    ab, ba = _net(1), _net(2)
    result = _run(registry, [_gen(ab, "AtoB", "AtoB"), _gen(ba, "BtoA", "BtoA")], Uneven(),
                  [MetricSpec("tiny_mean")], batch_size=2)
    gens = result.protocol["generators"]
    assert (gens["AtoB"]["generated_images"], gens["AtoB"]["real_images"], gens["AtoB"]["num_images"]) == (3, 5, 5)
    assert (gens["BtoA"]["generated_images"], gens["BtoA"]["real_images"]) == (5, 3)
    assert result.protocol["file_formats"] == {"A": {".jpg": 3}, "B": {".png": 5}}
    ab.eval()
    with torch.no_grad():
        fake_b = sum(float(ab(_image(i)[None]).clamp(-1, 1).mean()) for i in range(3)) / 3
    assert result.values["AtoB/tiny_mean"] == pytest.approx(fake_b, abs=1e-6)
    assert result.values["AtoB/tiny_mean_real"] == pytest.approx(sum(float(_image(50 + i).mean())
                                                                     for i in range(5)) / 5, abs=1e-6)
    assert result.values["BtoA/tiny_mean_real"] == pytest.approx(sum(float(_image(i).mean())
                                                                     for i in range(3)) / 3, abs=1e-6)


def test_full_reference_metric_is_refused_on_unpaired_data(registry) -> None:
    with pytest.raises(EvaluationError, match="tiny_mae.*unpaired"):
        _run(registry, [_gen(_net(), "AtoB", "AtoB")], Unpaired(), [MetricSpec("tiny_mae")])


def test_train_mode_is_reproducible_and_seeded_per_image(registry) -> None:
    net = _net(dropout=0.5).eval()
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    spec = [MetricSpec("tiny_mean")]
    rng = torch.get_rng_state()
    a = _run(registry, [_gen(net, mode="train")], Paired(), spec, batch_size=4, seed=7)
    b = _run(registry, [_gen(net, mode="train")], Paired(), spec, batch_size=1, seed=7)
    c = _run(registry, [_gen(net, mode="train")], Paired(), spec, seed=8)
    assert torch.equal(torch.get_rng_state(), rng)
    assert not net.training and all(torch.equal(v, buffers[k]) for k, v in net.named_buffers())
    assert a.values == pytest.approx(b.values, abs=1e-6)
    assert abs(a.values["tiny_mean"] - c.values["tiny_mean"]) > 1e-4
    assert a.protocol["generators"]["G"]["test_mode"] == "train"
    # independently: each image alone, in train mode, dropout seeded from the seed and its name
    data, total = Paired(), 0.0
    net.train()
    with torch.no_grad():
        for i in range(len(data)):
            torch.manual_seed(dropout_seed(7, f"img{i}"))
            total += float(net(data[(i, i)]["input"][None]).clamp(-1, 1).mean())
    assert a.values["tiny_mean"] == pytest.approx(total / len(data), abs=1e-6)


def test_bf16_is_recorded(registry) -> None:
    spec = [MetricSpec("tiny_mae")]
    fp32 = _run(registry, [_gen(_net())], Paired(), spec)
    bf16 = _run(registry, [_gen(_net())], Paired(), spec, precision="bf16")
    assert bf16.protocol["precision"] == "bf16"
    assert bf16.values["tiny_mae"] == pytest.approx(fp32.values["tiny_mae"], rel=0.05)


def test_sizes_that_are_not_multiples_are_padded(registry) -> None:
    class Odd(Paired):
        def __getitem__(self, key):
            index = key[0]
            return {"input": _image(index, size=6), "target": _image(9 + index, size=6), "name": f"o{index}"}

    result = _run(registry, [_gen(_net())], Odd(count=3), [MetricSpec("tiny_mae")])
    assert math.isfinite(result.values["tiny_mae"])


def test_errors_name_what_to_fix(registry) -> None:
    net, data = _net(), Paired()
    with pytest.raises(EvaluationError, match=r"eval\.metrics: unknown metric 'tiny_maee'.*did you mean 'tiny_mae'"):
        _run(registry, [_gen(net)], data, [MetricSpec("tiny_maee")])
    with pytest.raises(EvaluationError, match=r"eval\.options\.tiny_mae\.scale"):
        _run(registry, [_gen(net)], data, [MetricSpec("tiny_mae", {"scale": "big"})])
    with pytest.raises(EvaluationError, match=r"eval\.options\.tiny_mae\.nope"):
        _run(registry, [_gen(net)], data, [MetricSpec("tiny_mae", {"nope": 1})])
    with pytest.raises(EvaluationError, match="'tiny_mean' needs at least 2 images.*num_images = 1"):
        _run(registry, [_gen(net)], data, [MetricSpec("tiny_mean")], num_images=1)
    with pytest.raises(EvaluationError, match="AtoB generator.*translations"):
        _run(registry, [_gen(net)], Paired(translations=False), [MetricSpec("tiny_mae")])
    with pytest.raises(EvaluationError, match="precision"):
        _run(registry, [_gen(net)], data, [MetricSpec("tiny_mae")], precision="fp8")
    with pytest.raises(EvaluationError, match="test mode 'dropout'"):
        _run(registry, [_gen(net, mode="dropout")], data, [MetricSpec("tiny_mae")])


def test_metric_context_builds_components(registry) -> None:
    result = _run(registry, [_gen(_net())], Paired(), [MetricSpec("tiny_mean", {"feature": "tiny"})])
    assert math.isfinite(result.values["tiny_mean"])
    with pytest.raises(EvaluationError, match=r"eval\.options\.tiny_mean: unknown generator 'tinyy'"):
        _run(registry, [_gen(_net())], Paired(), [MetricSpec("tiny_mean", {"feature": "tinyy"})])


def test_evaluation_json_round_trip(tmp_path: Path, registry) -> None:
    result = _run(registry, [_gen(_net())], Paired(), [MetricSpec("tiny_mae")], split="test")
    result.values.update({"same": math.inf, "low": -math.inf, "bad": math.nan})
    result.higher_is_better.update({"same": True, "low": True, "bad": False})
    path = write_evaluation(tmp_path / "evaluation.json", result, model={"path": "m.safetensors", "sha256": "ab"},
                            data={"name": "toy", "split": "test", "folder": None, "fingerprint": "cd"})

    def no_constants(text: str) -> None:
        raise AssertionError(f"non-standard JSON constant {text}")

    raw = json.loads(path.read_text(), parse_constant=no_constants)
    assert raw["format"] == 1 and raw["values"]["same"] == "inf" and raw["values"]["bad"] == "nan"
    assert raw["model"]["sha256"] == "ab" and raw["data"]["name"] == "toy" and raw["protocol"]["split"] == "test"
    back = read_evaluation(path)
    assert back["values"]["same"] == math.inf and back["values"]["low"] == -math.inf
    assert math.isnan(back["values"]["bad"])
    assert back["values"]["tiny_mae"] == result.values["tiny_mae"]
    table = format_table(back)
    assert table == format_table(result)
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value", "better"]
    assert any(line.split()[:3] == ["tiny_mae", f"{result.values['tiny_mae']:.4g}", "lower"] for line in lines)
    assert any(line.split()[:2] == ["same", "inf"] for line in lines)
    assert "split test" in lines[-1] and "7 images" in lines[-1]
    (tmp_path / "bad.json").write_text('{"format": 1, "values": {"x": "big"}}')
    with pytest.raises(Exception, match="bad.json: values"):
        read_evaluation(tmp_path / "bad.json")


def _eval_recipe(tmp_path: Path, table: str) -> Path:
    path = write_recipe(PIX2PIX, tmp_path / "r.toml", data=tmp_path / "data", run=tmp_path / "run")
    path.write_text(path.read_text() + "\n" + table)
    return path


def test_recipe_eval_table_validates(tmp_path: Path, recipe_registry) -> None:
    path = _eval_recipe(tmp_path, '[eval]\nmetrics = ["tiny_mae", "tiny_mean"]\nevery = 4\nbest = "tiny_mae"\n'
                                  '[eval.options.tiny_mae]\nscale = 3.0\n')
    recipe, resolved = load_recipe(path, registry=recipe_registry)
    assert recipe.eval is not None and recipe.eval.every == 4 and recipe.eval.split == "test"
    assert resolved["eval"]["options"] == {"tiny_mae": {"scale": 3.0}}
    assert resolved["eval"]["precision"] == "fp32" and "num_images" not in resolved["eval"]
    recipe, _ = load_recipe(path, ['eval.best="AtoB/tiny_mean_real"'], registry=recipe_registry)
    assert recipe.eval.best == "AtoB/tiny_mean_real"
    # a value named after the metric's first word passes (fcn_score gives fcn_iou); the trainer checks exactly
    assert load_recipe(path, ['eval.best="tiny_other"'], registry=recipe_registry)[0].eval.best == "tiny_other"
    assert load_recipe(write_recipe(PIX2PIX, tmp_path / "plain.toml", data=tmp_path, run=tmp_path),
                       registry=recipe_registry)[0].eval is None


@pytest.mark.parametrize("table, expected", [
    ('metrics = ["tiny_maee"]', r"eval\.metrics: unknown metric 'tiny_maee'; did you mean 'tiny_mae'"),
    ('metrics = ["tiny_mae"]\n[eval.options.tiny_mean]\nfeature = "tiny"',
     r"eval\.options\.tiny_mean: options for metric 'tiny_mean', which eval\.metrics does not list"),
    ('metrics = ["tiny_mae"]\n[eval.options.tiny_mae]\nscale = "big"', r"eval\.options\.tiny_mae\.scale"),
    ('metrics = ["tiny_mae"]\nevery = -1', r"eval\.every"),
    ('metrics = ["tiny_mae"]\nbest = "psnr"', r"eval\.best: 'psnr' is not a value of the listed metrics"),
    ('metrics = []', r"eval\.metrics"),
    ('metrics = ["tiny_mae"]\nprecision = "fp16"', r"eval\.precision"),
    ('metrics = ["tiny_mae"]\neveryy = 3', r"eval\.everyy"),
])
def test_recipe_eval_table_errors(tmp_path: Path, recipe_registry, table: str, expected: str) -> None:
    path = _eval_recipe(tmp_path, "[eval]\n" + table + "\n")
    with pytest.raises(RecipeError, match=expected):
        load_recipe(path, registry=recipe_registry)


def test_declared_value_names_make_check_catch_a_misspelt_best(tmp_path: Path) -> None:
    """A metric that declares its value names (register(..., values=...)) has eval.best checked exactly, at once:
    'psnrr' for a built-in metric, 'edge_cor' for a plugin's, and run-time names by pattern ('fcn_iou_road')."""
    import translate
    from translate.plugin.loading import builtin_entry_points

    class EdgePlugin:
        @translate.hookimpl
        def register_metrics(self, register):
            register("edge_corr", TinyMetricsPlugin, values=("edge_corr", "edge_corr_*"))

    eps = [ep for ep in builtin_entry_points() if ep.name in (*BUILTINS, "metrics", "segmentation")]
    registry = load_plugins(extra=[("edge", EdgePlugin())], entry_points=eps, strict=True).registry
    assert registry.get("metric", "kid").values == ("kid", "kid_std")
    for metrics, best, ok in ((["psnr"], "psnrr", False), (["psnr", "ssim"], "ssim", True),
                              (["edge_corr"], "edge_cor", False), (["edge_corr"], "edge_corr_x", True),
                              (["kid"], "AtoB/kid_std", True), (["fcn_score"], "fcn_iou_road", True),
                              (["fcn_score"], "fcn_iou", True), (["fcn_score"], "fcn_ious", False)):
        table = f'[eval]\nmetrics = {json.dumps(metrics)}\nbest = "{best}"\n'
        path = _eval_recipe(tmp_path, table)
        if ok:
            assert load_recipe(path, registry=registry)[0].eval.best == best
        else:
            with pytest.raises(RecipeError, match=rf"eval\.best: '{best}' is not a value of the listed metrics"):
                load_recipe(path, registry=registry)


@pytest.mark.parametrize("kind, values", [("metric", "fid"), ("metric", ()), ("metric", ("",)), ("loss", ("l",))])
def test_only_metrics_declare_values_and_as_names(kind: str, values) -> None:
    import translate
    from translate.errors import PluginError

    class Bad:
        @translate.hookimpl
        def register_metrics(self, register):
            if kind == "metric":
                register("bad_metric", TinyMetricsPlugin, values=values)

        @translate.hookimpl
        def register_losses(self, register):
            if kind == "loss":
                register("bad_loss", TinyMetricsPlugin, values=values)

    with pytest.raises(PluginError, match="only a metric declares values, as a non-empty tuple"):
        load_plugins(extra=[("bad", Bad())], entry_points=[], strict=True)
