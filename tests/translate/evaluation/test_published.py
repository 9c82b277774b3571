"""Published numbers beside the model's own: the difference, and whether the protocols match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.model_runs import copy_folder
from tests.support.tiny_plugin import TinyMetricsPlugin
from translate.commands.eval import eval_cli
from translate.commands.main import build_parser
from translate.errors import RecipeError, TranslateError
from translate.evaluation.published import check_published_images, compare_published, format_published
from translate.plugin.loading import load_plugins
from translate.recipe import validate

PROTOCOL = {
    "split": "test",
    "generators": {"G_A": {"direction": "AtoB", "num_images": 120}, "G_B": {"direction": "BtoA", "num_images": 140}},
    "metrics": {"fid": {"options": {"mode": "clean", "feature": 2048}, "library": "clean-fid"}},
    "values_from": {"AtoB/fid": "fid", "BtoA/fid": "fid"},
}
VALUES = {"AtoB/fid": 50.0, "BtoA/fid": float("inf")}


def entry(**kw):
    return {"metric": "AtoB/fid", "value": 45.5, "source": "CUT paper, Table 1", **kw}


def test_a_matching_protocol_is_comparable_and_the_difference_is_ours_minus_theirs():
    (c,) = compare_published([entry(protocol={"mode": "clean", "num_images": 120, "split": "test"})], VALUES, PROTOCOL)
    assert c == {"metric": "AtoB/fid", "source": "CUT paper, Table 1", "published": 45.5, "value": 50.0,
                 "difference": 4.5, "comparable": True, "differs": []}


def test_each_difference_is_named_and_a_missing_protocol_is_not_called_comparable():
    (c,) = compare_published([entry(protocol={"mode": "legacy_pytorch", "num_images": 120, "resize": "x"})],
                             VALUES, PROTOCOL)
    assert c["comparable"] is False
    assert c["differs"] == ["mode: clean here, legacy_pytorch published", "resize: not recorded here (published: x)"]
    (c,) = compare_published([entry()], VALUES, PROTOCOL)
    assert c["comparable"] is None and c["differs"] == []
    (c,) = compare_published([entry(metric="BtoA/fid", protocol={"num_images": 120})], VALUES, PROTOCOL)
    assert c["differs"] == ["num_images: 140 here, 120 published"] and c["value"] == "inf" and c["difference"] is None
    (c,) = compare_published([entry(metric="kid")], VALUES, PROTOCOL)
    assert c["comparable"] is False and c["differs"] == ["kid was not evaluated here"] and c["value"] is None
    text = format_published(compare_published([entry(protocol={"mode": "legacy_pytorch"}), entry()], VALUES, PROTOCOL))
    assert "AtoB/fid: 45.5 in CUT paper, Table 1; this model 50 (+4.5); NOT comparable: mode: clean here" in text
    assert "protocol not stated: compare with care" in text


def test_a_split_smaller_than_the_papers_test_set_is_refused():
    check_published_images([entry(images=120)], 120, "eval.published")
    with pytest.raises(TranslateError, match=r"CUT paper, Table 1 measured AtoB/fid on 120 test images, but the split "
                                             r"to evaluate holds 100"):
        check_published_images([entry(images=120)], 100, "eval.published")


def test_the_recipe_validates_published_entries():
    registry = load_plugins(extra=[("tiny-metrics", TinyMetricsPlugin())]).registry
    base = {"method": {"name": "pix2pix"}, "data": {"name": "synthetic_shapes"}, "train": {"steps": 1}}
    ok = validate({**base, "eval": {"metrics": ["tiny_gap"], "published": [
        {"metric": "tiny_gap", "value": 0.1, "source": "a paper", "protocol": {"split": "test"}, "images": 4}]}},
        registry)
    assert ok.eval.published[0].images == 4
    with pytest.raises(RecipeError, match="eval.published.0.value"):
        validate({**base, "eval": {"metrics": ["tiny_gap"], "published": [{"metric": "x", "source": "s"}]}}, registry)


def test_translate_eval_prints_and_records_the_published_numbers(tmp_path: Path, pix2pix_run, capsys):
    plugins = load_plugins(extra=[("tiny-metrics", TinyMetricsPlugin())])
    run = copy_folder(pix2pix_run, tmp_path / "run")
    table = ('\n[eval]\nmetrics = ["tiny_gap"]\nsplit = "val"\n'
             '[[eval.published]]\nmetric = "tiny_gap"\nvalue = 0.25\nsource = "Tiny et al., Table 2"\n'
             'protocol = { split = "val" }\n'
             '[[eval.published]]\nmetric = "tiny_gap"\nvalue = 0.5\nsource = "Other, Table 1"\n'
             'protocol = { split = "test" }\n')
    (tmp_path / "r.toml").write_text((run / "recipe.toml").read_text() + table)
    args = build_parser(plugins.registry, "eval").parse_args(["eval", str(run), "--data", str(tmp_path / "r.toml")])
    assert eval_cli(args, plugins.registry) == 0
    out = capsys.readouterr().out
    assert "tiny_gap: 0.25 in Tiny et al., Table 2; this model" in out and "; comparable" in out
    assert "NOT comparable: split: val here, test published" in out
    body = json.loads((run / "evaluation.json").read_text())
    first, second = body["published"]
    assert first["comparable"] is True and second["comparable"] is False
    assert first["difference"] == pytest.approx(body["values"]["tiny_gap"] - 0.25)
    (tmp_path / "big.toml").write_text((run / "recipe.toml").read_text() + table.replace(
        'protocol = { split = "val" }\n', 'protocol = { split = "val" }\nimages = 500\n', 1))
    args = build_parser(plugins.registry, "eval").parse_args(["eval", str(run), "--data", str(tmp_path / "big.toml"),
                                                              "--out", str(tmp_path / "never.json")])
    with pytest.raises(TranslateError, match="Tiny et al., Table 2 measured tiny_gap on 500 test images"):
        eval_cli(args, plugins.registry)
    assert not (tmp_path / "never.json").exists()
