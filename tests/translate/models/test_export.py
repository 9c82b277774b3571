"""Model folders: ``translate export``, what the folder holds, and loading folders that were tampered with."""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import translate
from tests.support.model_runs import copy_folder, exported, forbid_unpickling
from translate.errors import ModelFileError, TranslateError
from translate.models import FORMAT_VERSION, load_model, read_config
from translate.models.export import export_cli, export_run, model_card, save_folder

FILES = {"model.safetensors", "config.json", "README.md"}
KEY = "G.down.0.weight"  # the first convolution of the tiny UNet


@pytest.fixture
def folder(tmp_path, pix2pix_model) -> Path:
    """A copy of the exported pix2pix folder that a test may tamper with."""
    return copy_folder(pix2pix_model, tmp_path / "model")


def tensors_of(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}


def header_of(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata())


def config_of(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def write_config(folder: Path, data: dict) -> None:
    (folder / "config.json").write_text(json.dumps(data, indent=2))


def rewrite_weights(folder: Path, *, tensors=None, meta: dict | None = None) -> None:
    path = folder / "model.safetensors"
    header = header_of(path)
    if meta is not None:
        header["translate"] = json.dumps(meta)
    save_file(tensors if tensors is not None else tensors_of(path), str(path), metadata=header)


def edit_both(folder: Path, change) -> None:
    """Apply ``change`` to the metadata in config.json and in model.safetensors alike."""
    config = config_of(folder)
    change(config)
    write_config(folder, config)
    meta = {k: v for k, v in config.items() if k != "format_version"}
    rewrite_weights(folder, meta=meta)


def load_error(path: Path) -> str:
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    return str(err.value)


# --------------------------------------------------------------------------- what an export holds


def test_pix2pix_export_folder(pix2pix_run, pix2pix_model):
    assert {p.name for p in pix2pix_model.iterdir()} == FILES
    assert not [p for p in pix2pix_model.parent.iterdir() if p.name.startswith(".")]  # no temp folder left
    # the very tensors of the run, with the same metadata plus the folder's additions
    run_tensors, tensors = tensors_of(pix2pix_run / "model.safetensors"), tensors_of(pix2pix_model / "model.safetensors")
    assert run_tensors.keys() == tensors.keys() and all(torch.equal(run_tensors[k], tensors[k]) for k in tensors)
    header = header_of(pix2pix_model / "model.safetensors")
    assert header["format"] == "pt" and header["translate.format_version"] == FORMAT_VERSION == "1"
    config = config_of(pix2pix_model)
    assert config.pop("format_version") == "1"
    assert json.loads(header["translate"]) == config  # config.json says what the weights file says
    assert config["translate_version"] == translate.__version__ and config["method"] == "pix2pix"
    assert config["default"] == "G"
    g = config["generators"]["G"]
    assert g["component"] == "unet" and g["options"]["num_downs"] == 5 and g["options"]["ngf"] == 8
    assert g["plugin"] == {"name": "pix2pix", "distribution": "translate-i2i", "version": translate.__version__}
    assert (g["in_channels"], g["out_channels"], g["value_range"]) == (3, 3, [-1.0, 1.0])
    assert g["normalization"] == {"mean": 0.5, "std": 0.5}
    assert (g["direction"], g["test_mode"], g["size_multiple"]) == ("AtoB", "eval", 32)
    assert config["preprocessing"] == {"size_multiple": 32, "recommended_size": 32}
    data_options = config["recipe"].pop("data_options")  # what translate eval --data FOLDER rebuilds the set with
    assert (data_options["count"], data_options["image_size"], data_options["val_count"]) == (24, 32, 4)
    assert data_options["root"] == "shapes"  # the folder's name only: a shared file carries no local path
    assert config["recipe"] == {"method": "pix2pix", "data": "synthetic_shapes", "data_folder": "shapes",
                                "seed": 3, "steps": 8, "batch_size": 4}
    training = config["training"]
    assert training["steps"] == 2 and {"D", "G", "G_gan", "G_l1"} <= set(training["losses"])
    assert (pix2pix_model / "config.json").read_text().startswith('{\n  "format_version": "1",\n')  # pretty


def test_model_card(pix2pix_model):
    card = (pix2pix_model / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: translate\n")
    for text in ("pix2pix", "`synthetic_shapes`", "steps trained: 2", "| G_l1 |", "planned length: 8 steps",
                 "translate infer pix2pix-model INPUT --out OUT", 'pipe = translate.load("pix2pix-model")',
                 "## Intended use and limits", "synthetic data", "32x32", "Not evaluated"):
        assert text in card, text


def test_model_card_names_the_data_sets_domains(pix2pix_model):
    """synthetic_shapes names its domains (DataInfo.domains): the model records them, not 'A' and 'B'."""
    g = read_config(pix2pix_model / "config.json").generators["G"]
    assert (g.input_domain, g.output_domain) == ("edges", "filled shapes")
    card = (pix2pix_model / "README.md").read_text()
    assert "# pix2pix: edges -> filled shapes (synthetic_shapes)" in card
    assert "By default it translates edges images into filled shapes images." in card
    assert "A -> B" not in card


def test_the_usage_example_does_not_call_a_default_export_folder_export(pix2pix_model, tmp_path):
    from translate.models.card import PLACEHOLDER, card_source

    assert card_source(Path("runs/quickstart/export")) == PLACEHOLDER == "MODEL_DIR"
    assert card_source(Path("facades-pix2pix")) == "facades-pix2pix"
    out = export_run(pix2pix_model, tmp_path / "run" / "export")
    card = (out / "README.md").read_text()
    assert "translate infer export" not in card and 'translate.load("export")' not in card
    assert "translate infer MODEL_DIR INPUT --out OUT" in card and 'pipe = translate.load("MODEL_DIR")' in card
    assert "MODEL_DIR is this model's folder (or its Hub id, `hf://OWNER/NAME`, once pushed)." in card


def test_cyclegan_export_has_both_generators(cyclegan_run, tmp_path_factory):
    folder = exported("cyclegan", tmp_path_factory)
    config = read_config(folder / "config.json")
    assert config.method == "cyclegan" and config.default == "AtoB"
    assert {n: (g.input_domain, g.output_domain) for n, g in config.generators.items()} == {
        "AtoB": ("day", "night"), "BtoA": ("night", "day")}
    assert config.training is not None and config.training.steps == 1 and "cycle_A" in config.training.losses
    card = (folder / "README.md").read_text()
    assert "--direction BtoA" in card and "texture and colour" in card
    loaded = load_model(folder)
    assert loaded.names == ["AtoB", "BtoA"] and loaded.config_path == folder / "config.json"


def test_evaluation_metrics_go_into_the_card(pix2pix_model):
    meta = load_model(pix2pix_model).meta
    training = meta.training.model_copy(update={"evaluation": {"fid": 42.5, "ssim": 0.61}})
    card = model_card(meta.model_copy(update={"training": training}))
    assert "| fid | 42.5 |" in card and "| ssim | 0.61 |" in card and "Not evaluated" not in card


def test_export_reads_no_evaluation_file(pix2pix_run, tmp_path):
    """Nothing writes ``evaluation.json``: a stray one is not read into the folder."""
    run = copy_folder(pix2pix_run, tmp_path / "run")
    (run / "evaluation.json").write_text(json.dumps({"fid": 42.5}))
    out = export_run(run)
    assert out == run / "export"
    assert read_config(out / "config.json").training.evaluation == {}
    assert "Not evaluated" in (out / "README.md").read_text()


def test_refuses_to_overwrite(pix2pix_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert export_run(pix2pix_run, out) == out  # an empty folder is fine
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(TranslateError, match=re.escape(str(out)) + ".*exists and is not empty.*nothing was written"):
        export_run(pix2pix_run, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(TranslateError, match="exists and is not a folder"):
        export_run(pix2pix_run, tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out"]  # no temp folders left


def test_run_without_a_model_file(pix2pix_run, tmp_path):
    run = copy_folder(pix2pix_run, tmp_path / "run")
    (run / "model.safetensors").unlink()
    with pytest.raises(TranslateError, match="run has checkpoints but no model.safetensors"):
        export_run(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_of_a_model_folder_keeps_its_metadata(pix2pix_model, tmp_path):
    again = export_run(pix2pix_model, tmp_path / "again")
    assert config_of(again) == config_of(pix2pix_model)


def test_export_cli_function_and_onnx_hook(pix2pix_run, tmp_path, monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("translate.models.onnx")
    fake.export_onnx = lambda folder, *a, **k: calls.append(Path(folder))
    fake.require_onnx = lambda **k: calls.append("checked")
    monkeypatch.setitem(sys.modules, "translate.models.onnx", fake)
    out = tmp_path / "cli"
    assert export_cli(argparse.Namespace(run=str(pix2pix_run), out=str(out))) == 0
    assert calls == [] and {p.name for p in out.iterdir()} == FILES
    assert f"-> {out}" in capsys.readouterr().out
    assert export_cli(argparse.Namespace(run=str(pix2pix_run), out=str(tmp_path / "onnx"), onnx=True)) == 0
    assert calls == ["checked", tmp_path / "onnx"]  # the extras are checked before anything is written


def test_export_onnx_without_the_extras_writes_nothing(pix2pix_run, tmp_path, monkeypatch, capsys):
    from translate.commands.main import main

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed: importing it fails
    out = tmp_path / "folder"
    assert main(["export", str(pix2pix_run), "--out", str(out), "--onnx"]) == 2
    err = capsys.readouterr().err
    assert "onnxscript" in err and 'pip install "translate-i2i[onnx]"' in err and "Traceback" not in err
    assert not out.exists()  # so the retry after installing the extras is not refused
    monkeypatch.delitem(sys.modules, "onnxscript")


def test_cli_export_subcommand(pix2pix_run, tmp_path, capsys):
    from translate.commands.main import main

    out = tmp_path / "shared"
    assert main(["export", str(pix2pix_run), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    assert main(["export", str(pix2pix_run), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err


# --------------------------------------------------------------------------- what loading accepts


def test_load_folder_file_bare_folder_and_run(folder, pix2pix_run):
    assert load_model(folder).config_path == folder / "config.json"
    assert load_model(folder / "model.safetensors").config_path is None
    assert load_model(pix2pix_run).config_path is None
    (folder / "config.json").unlink()
    (folder / "README.md").unlink()
    assert load_model(folder).meta.default == "G"


def test_loading_never_unpickles(folder, monkeypatch, tmp_path):
    forbid_unpickling(monkeypatch)
    load_model(folder)
    translate.load(folder)(torch.zeros(3, 8, 8))
    export_run(folder, tmp_path / "again")


def _unsafe_loads(source: str) -> list[int]:
    """Lines of ``torch.load(...)`` calls without a literal ``weights_only=True``."""
    import ast

    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in node.keywords)
            if not safe:
                bad.append(node.lineno)
    return bad


def test_no_pickle_and_only_safe_torch_load_in_the_package_and_plugins():
    roots = [Path(translate.__file__).parent, Path(__file__).resolve().parents[3] / "plugins"]
    # ``import pickle`` alone is allowed (translate convert catches pickle.UnpicklingError); loading is not
    pattern = re.compile(r"\bpickle\.(load|loads|Unpickler)\b|^\s*(import|from) (cPickle|dill)\b", re.MULTILINE)
    offenders = []
    for root in roots:
        for p in root.rglob("*.py"):
            text = p.read_text()
            if pattern.search(text) or _unsafe_loads(text):
                offenders.append(str(p))
    assert offenders == []
    assert _unsafe_loads("import torch\ntorch.load(f)\ntorch.load(f, weights_only=True)\n") == [2]


# --------------------------------------------------------------------------- tampered folders


def test_truncated_weights(folder):
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    msg = load_error(folder)
    assert str(path) in msg and "truncated" in msg


def test_oversized_header(folder):
    path = folder / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 300 * 1024 * 1024) + b"{" + b" " * 64)
    msg = load_error(folder)
    assert str(path) in msg and "header claims 314572800 bytes" in msg and "refusing" in msg


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.__setitem__(KEY, torch.zeros(1, 2, 3)), "shape mismatches: down.0.weight"),
        (lambda t: t.__setitem__(KEY, t[KEY].double()),
         "dtype mismatches: down.0.weight: file float64 vs network float32"),
        (lambda t: t.__setitem__(KEY, t[KEY].int()),
         "dtype mismatches: down.0.weight: file int32 vs network float32"),
        (lambda t: t.pop(KEY), "missing keys: down.0.weight"),
        (lambda t: t.__setitem__("G.down.1.2.num_batches_tracked", torch.zeros(())),
         "dtype mismatches: down.1.2.num_batches_tracked: file float32 vs network int64"),
        (lambda t: t.__setitem__("G.__class__", torch.zeros(1)), "unexpected keys: __class__"),
    ],
)
def test_tampered_weights(folder, change, expected):
    tensors = tensors_of(folder / "model.safetensors")
    assert KEY in tensors, sorted(tensors)[:5]
    change(tensors)
    rewrite_weights(folder, tensors=tensors)
    msg = load_error(folder)
    assert str(folder / "model.safetensors") in msg and "weights of generator 'G' do not match" in msg
    assert expected in msg


def test_unknown_component_names_the_distribution(folder):
    def change(meta):
        meta["generators"]["G"]["component"] = "fancy_unet"
        meta["generators"]["G"]["plugin"] = {"name": "fancy", "distribution": "translate-fancy-nets",
                                             "version": "1.2.0"}

    edit_both(folder, change)
    msg = load_error(folder)
    assert str(folder / "model.safetensors") in msg
    assert "model needs generator 'fancy_unet' from distribution 'translate-fancy-nets' (version 1.2.0): " \
           "pip install translate-fancy-nets" in msg


def test_plugin_too_old_names_the_version(folder):
    def change(meta):
        meta["generators"]["G"]["component"] = "unet_v2"
        meta["generators"]["G"]["plugin"]["version"] = "9.1"

    edit_both(folder, change)
    msg = load_error(folder)
    assert f"translate-i2i {translate.__version__} is installed but registers no generator 'unet_v2'" in msg
    assert "pip install -U 'translate-i2i>=9.1'" in msg


@pytest.mark.parametrize("component", ["os.system", "os:system", "__import__('os').system('touch PWNED')",
                                       "../../evil", "builtins.eval"])
def test_config_naming_code_is_rejected(folder, component, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = config_of(folder)
    config["generators"]["G"]["component"] = component
    write_config(folder, config)
    msg = load_error(folder)
    assert f"{folder / 'config.json'}: invalid config:\n  generators.G.component" in msg
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("key", ["__class__", "_target_", "os.system", "__reduce__"])
def test_option_keys_naming_code_are_rejected(folder, key):
    config = config_of(folder)
    config["generators"]["G"]["options"][key] = "os.system"
    write_config(folder, config)
    msg = load_error(folder)
    assert f"{folder / 'config.json'}: invalid config:\n  generators.G.options: option name {key!r} " \
           "is not a plain identifier" in msg
    # the same schema guards the metadata inside the weights file
    edit_both(folder, lambda meta: meta["generators"]["G"]["options"].update({key: 1}))
    (folder / "config.json").unlink()
    assert "invalid metadata:\n  translate.generators.G.options: option name" in load_error(folder)


def test_nested_option_keys_naming_code_are_rejected(folder):
    edit_both(folder, lambda meta: meta["generators"]["G"]["options"].update({"extra": {"_target_": "os.system"}}))
    assert "nested option key '_target_' is refused" in load_error(folder)


def test_unknown_option_is_rejected_by_the_plugin(folder):
    edit_both(folder, lambda meta: meta["generators"]["G"]["options"].update({"callback": "os.system"}))
    msg = load_error(folder)
    assert "options do not validate" in msg and "translate.generators.G.options.callback: unknown key" in msg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        (b"\xff\xfe{}", "not a JSON file (not UTF-8 text)"),
        ("[1, 2]", "not a translate model config (a JSON object is expected)"),
        ('{"method": "pix2pix"}', "not a translate model config: field 'format_version' is missing"),
        ('{"format_version": "2"}', "field 'format_version' is '2'; this translate reads version '1'"),
        ('{"format_version": "1", "format_version": "1"}', "duplicate key 'format_version'"),
        ('{"format_version": "1", "x": NaN}', "NaN is not allowed"),
        ("[" * 100_000, "not valid JSON"),
        ('{"format_version": "1", "translate_version": "0.1"}', "invalid config:\n  method: required key is missing"),
    ],
)
def test_broken_config(folder, text, expected):
    path = folder / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    msg = load_error(folder)
    assert msg.startswith(f"{path}: ") and expected in msg


def test_config_field_problems_are_named(folder):
    config = config_of(folder)
    config["generators"]["G"]["normalization"]["std"] = 0
    config["generators"]["G"]["in_channels"] = "3"
    config["surprise"] = True
    write_config(folder, config)
    msg = load_error(folder)
    assert "generators.G.normalization.std: Input should be greater than 0" in msg
    assert "generators.G.in_channels: Input should be a valid integer" in msg
    assert "surprise: unknown key" in msg


def test_oversized_config_is_refused_unread(folder, monkeypatch):
    import translate.models.header as header

    monkeypatch.setattr(header, "MAX_CONFIG_BYTES", 100)
    assert "refusing to read it" in load_error(folder)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c["generators"]["G"].__setitem__("test_mode", "train"), "generators.G.test_mode"),
        (lambda c: c["generators"]["G"]["options"].__setitem__("ngf", 16), "generators.G.options.ngf"),
        (lambda c: c.__setitem__("default", "BtoA") or c["generators"].__setitem__("BtoA", c["generators"]["G"]),
         "default, generators.BtoA"),
        (lambda c: c.pop("training"), "training"),
    ],
)
def test_config_and_weights_disagree(folder, change, field):
    config = config_of(folder)
    change(config)
    write_config(folder, config)
    msg = load_error(folder)
    assert f"{folder / 'config.json'} and {folder / 'model.safetensors'} disagree on {field}" in msg


def test_save_folder_writes_atomically(folder, tmp_path, monkeypatch):
    loaded = load_model(folder)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("translate.models.export.model_card", broken)
    with pytest.raises(OSError, match="disk full"):
        save_folder(tmp_path / "new", loaded.meta, loaded.tensors())
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".new")]


def test_model_card_without_training_information(folder):
    meta = load_model(folder).meta.model_copy(update={"recipe": None, "training": None})
    card = model_card(meta, source="hf://someone/model")
    assert 'translate.load("hf://someone/model")' in card and "data set: `unknown`" in card


def test_the_cards_last_losses_are_losses_not_evaluation_values(pix2pix_run, tmp_path):
    """With an [eval] table the last metrics record is an evaluation record: the card and config.json take the
    losses from the last record that has losses, and never an eval/ value."""
    run = copy_folder(pix2pix_run, tmp_path / "run")
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"step": 2, "eval/psnr": 17.5, "eval/ssim": 0.7}) + "\n")
    out = export_run(run, tmp_path / "model")
    losses = read_config(out / "config.json").training.losses
    assert {"D", "G", "G_gan", "G_l1"} <= set(losses) and not any(k.startswith("eval/") for k in losses)
    card = (out / "README.md").read_text()
    section = card[card.index("Last logged losses"):card.index("\n## ", card.index("Last logged losses"))]
    assert "eval/psnr" not in section and "| G_l1 |" in section
