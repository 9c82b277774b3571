"""Model files: save/load round trip, metadata, and tampered or foreign files."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

import translate
from tests.support.tiny_plugin import TinyGenerator, TinyOptions, TinyPlugin  # noqa: E402
from translate.components.build import BuildContext
from translate.components.method import ComponentRecord, ExportSpec
from translate.data.contract import DataInfo
from translate.errors import ModelFileError, PluginError
from translate.models import (
    FORMAT_VERSION,
    Preprocessing,
    RecipeSummary,
    build_meta,
    load_model,
    read_metadata,
    save_model,
)
from translate.plugin.loading import load_plugins
from translate.recipe import Recipe


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra=[("tinyplug", TinyPlugin())], entry_points=[]).registry


RECIPE = {
    "seed": 7,
    "method": {"name": "pix2pix"},
    "generator": {"name": "tiny", "options": {"width": 4}},
    "data": {"name": "facades"},
    "train": {"epochs": 3},
}


def build_generator(registry, *, in_channels=3, out_channels=3, **options) -> tuple[nn.Module, ComponentRecord]:
    """A tiny generator built through a BuildContext, and the context's record of it."""
    recipe = Recipe.model_validate({**RECIPE, "generator": {"name": "tiny", "options": options}})
    ctx = BuildContext(recipe, registry, channels={})
    torch.manual_seed(0)
    module = ctx.generator(in_channels=in_channels, out_channels=out_channels)
    with torch.no_grad():  # non-trivial BatchNorm statistics so that buffers matter
        module.norm.running_mean.uniform_(-0.5, 0.5)
        module.norm.running_var.uniform_(0.5, 2.0)
    return module, ctx.record_of(module)


@pytest.fixture
def model_file(tmp_path, registry) -> Path:
    gen = build_generator(registry)
    return save_model(tmp_path / "model.safetensors", method="pix2pix", exports=[(ExportSpec("AtoB", "G"), *gen)],
                      recipe=RECIPE)


def raw_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata())


def rewrite(path: Path, *, tensors=None, metadata=None, translate_json=None) -> None:
    """Re-save ``path`` with changed tensors and/or metadata."""
    with safe_open(str(path), framework="pt") as fh:
        old = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    if translate_json is not None:
        meta["translate"] = translate_json if isinstance(translate_json, str) else json.dumps(translate_json)
    save_file(tensors if tensors is not None else old, str(path), metadata=metadata if metadata is not None else meta)


def load_error(path: Path, registry) -> str:
    """The message of the ModelFileError that loading ``path`` raises."""
    with pytest.raises(ModelFileError) as err:
        load_model(path, registry)
    return str(err.value)


def edit_generator_meta(path: Path, **changes) -> None:
    data = json.loads(raw_metadata(path)["translate"])
    data["generators"]["AtoB"].update(changes)
    rewrite(path, translate_json=data)


# --------------------------------------------------------------------------- round trip


def test_round_trip_gives_identical_outputs(tmp_path, registry):
    gen, record = build_generator(registry, width=6)
    path = save_model(tmp_path / "model.safetensors", method="pix2pix",
                      exports=[(ExportSpec("AtoB", "G"), gen, record)])
    loaded = load_model(path, registry)
    module, info = loaded.generator()
    assert info.name == "AtoB" and info.meta.options == {"width": 6, "dropout": 0.0, "note": None}
    x = torch.rand(2, 3, 16, 12) * 2 - 1
    gen.eval()
    module.eval()
    with torch.no_grad():
        assert torch.equal(gen(x), module(x))
    for (k, a), (k2, b) in zip(gen.state_dict().items(), module.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left


def test_load_from_run_folder(model_file, registry):
    assert load_model(model_file.parent, registry).meta.default == "AtoB"


def test_metadata_contents(model_file):
    raw = raw_metadata(model_file)
    assert raw["format"] == "pt"
    assert raw["translate.format_version"] == FORMAT_VERSION == "1"
    meta = json.loads(raw["translate"])
    assert meta["translate_version"] == translate.__version__
    assert meta["method"] == "pix2pix" and meta["default"] == "AtoB"
    assert meta["recipe"] == {"method": "pix2pix", "data": "facades", "seed": 7, "epochs": 3}
    g = meta["generators"]["AtoB"]
    assert g["component"] == "tiny"
    assert g["options"] == {"width": 4, "dropout": 0.0, "note": None}
    assert g["plugin"] == {"name": "tinyplug", "distribution": "(in-process)", "version": "0"}
    assert (g["in_channels"], g["out_channels"]) == (3, 3)
    assert g["value_range"] == [-1.0, 1.0]
    assert g["normalization"] == {"mean": 0.5, "std": 0.5}
    assert (g["direction"], g["input_domain"], g["output_domain"]) == ("AtoB", "A", "B")
    assert g["test_mode"] == "eval" and g["size_multiple"] == 4
    with safe_open(str(model_file), framework="pt") as fh:
        assert sorted(fh.keys()) == sorted(f"AtoB.{k}" for k in build_generator_keys())
    assert read_metadata(model_file).generators["AtoB"].component == "tiny"


def test_the_data_set_speaks_through_data_info(tmp_path, registry):
    """Recommended size and data folder come from DataInfo; the recipe's data options are recorded as a whole (for
    ``translate eval --data FOLDER``), never read by key, with local paths cut to their last component."""
    options = {"crop_size": 64, "image_size": 72, "root": "/home/someone/data/elsewhere", "preprocess": "crop",
               "url": "https://example.org/sets/facades.tar.gz", "files": ["~/a/b.png", "c"]}
    shared = {**options, "root": "elsewhere", "files": ["b.png", "c"]}
    recipe = {**RECIPE, "data": {"name": "facades", "batch_size": 2, "options": options}}
    exports = [(ExportSpec("AtoB", "G"), *build_generator(registry))]
    meta, _ = build_meta(method="pix2pix", exports=exports, recipe=recipe)
    assert meta.preprocessing == Preprocessing(size_multiple=4, recommended_size=None)
    assert meta.recipe == RecipeSummary(method="pix2pix", data="facades", seed=7, epochs=3, batch_size=2,
                                        data_options=shared)
    info = DataInfo(image_size=32, folder="facades", limitations=("from the data set",))
    path = save_model(tmp_path / "m.safetensors", method="pix2pix", exports=exports, recipe=recipe, data=info,
                      limitations=("from the method", "from the data set"))
    meta = read_metadata(path)
    assert meta.preprocessing == Preprocessing(size_multiple=4, recommended_size=32)
    assert meta.recipe.data_folder == "facades" and meta.recipe.data_options == shared  # through the file
    assert meta.limitations == ["from the method", "from the data set"]  # as given: nothing added twice
    meta, _ = build_meta(method="pix2pix", exports=exports, data=DataInfo(image_size=70000, folder="x"))
    assert meta.preprocessing.recommended_size is None and meta.recipe == RecipeSummary(data_folder="x")


def build_generator_keys() -> list[str]:
    return list(TinyGenerator(TinyOptions(), in_channels=3, out_channels=3).state_dict())


def test_two_generators_pick_by_name_and_direction(tmp_path, registry):
    g_ab, g_ba = build_generator(registry), build_generator(registry, in_channels=1, out_channels=3)
    exports = [
        (ExportSpec("G_AB", "G_AB", "AtoB", "photo", "painting"), *g_ab),
        (ExportSpec("G_BA", "G_BA", "BtoA", "painting", "photo", test_mode="train"), *g_ba),
    ]
    loaded = load_model(save_model(tmp_path / "m.safetensors", method="cyclegan", exports=exports), registry)
    assert loaded.names == ["G_AB", "G_BA"]
    assert loaded.generator()[1].name == "G_AB"
    assert loaded.generator("BtoA")[1].name == "G_BA"
    _, info = loaded.generator("G_BA")
    assert (info.meta.in_channels, info.meta.test_mode, info.meta.input_domain) == (1, "train", "painting")
    with pytest.raises(ModelFileError, match=r"no generator named or directed 'sideways'.*G_AB \(direction AtoB\)"):
        loaded.generator("sideways")


def test_save_needs_each_modules_build_record(tmp_path):
    bare = TinyGenerator(TinyOptions(), in_channels=3, out_channels=3)
    for export in [(ExportSpec("AtoB", "G"), bare), (ExportSpec("AtoB", "G"), bare, None)]:
        with pytest.raises(ValueError, match=r"'AtoB': exports are \(ExportSpec, module, ComponentRecord\) triples"):
            save_model(tmp_path / "m.safetensors", method="x", exports=[export])
    assert not (tmp_path / "m.safetensors").exists()


def test_the_context_records_beside_the_module_and_the_file_stores_rebuild_options(tmp_path, registry):
    """The record is kept by the BuildContext (nothing is set on the module); a network's declared
    rebuild_options decide what the model file stores, and the record itself is left as built."""
    gen, record = build_generator(registry, width=6)
    assert "translate_record" not in vars(gen) and record.options["width"] == 6
    gen.rebuild_options = lambda options: {**options, "note": "rebuilt"}
    meta, _ = build_meta(method="pix2pix", exports=[(ExportSpec("AtoB", "G"), gen, record)])
    assert meta.generators["AtoB"].options["note"] == "rebuilt" and record.options["note"] is None
    gen.rebuild_options = lambda options: "stored"
    with pytest.raises(PluginError, match=r"export 'AtoB': TinyGenerator.rebuild_options\(\) returned str"):
        build_meta(method="pix2pix", exports=[(ExportSpec("AtoB", "G"), gen, record)])


def test_loading_never_unpickles(model_file, registry, monkeypatch):
    from tests.support.model_runs import forbid_unpickling

    forbid_unpickling(monkeypatch)
    load_model(model_file, registry)


# --------------------------------------------------------------------------- broken and tampered files


@pytest.mark.parametrize("keep", [0, 5, 8, 100, -30])
def test_truncated_file(model_file, registry, keep):
    data = model_file.read_bytes()
    model_file.write_bytes(data[:keep])
    where = re.escape(str(model_file))
    with pytest.raises(ModelFileError, match=where + r".*(truncated|not a safetensors)"):
        load_model(model_file, registry)


def test_not_a_safetensors_file(tmp_path, registry):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"this is not json")
    with pytest.raises(ModelFileError, match="header is not JSON"):
        load_model(path, registry)


def test_missing_file_and_folder(tmp_path, registry):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope.safetensors", registry)
    with pytest.raises(ModelFileError, match="folder has no model.safetensors"):
        load_model(tmp_path, registry)


def test_oversized_header_is_refused_unread(tmp_path, registry):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 200 * 1024 * 1024) + b"{" + b" " * 64)
    with pytest.raises(ModelFileError, match=r"header claims 209715200 bytes.*refusing"):
        load_model(path, registry)


def test_plain_safetensors_without_metadata(tmp_path, registry):
    path = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ModelFileError, match="no translate metadata"):
        load_model(path, registry)


def test_unknown_format_version(model_file, registry):
    meta = raw_metadata(model_file)
    meta["translate.format_version"] = "2"
    rewrite(model_file, metadata=meta)
    with pytest.raises(ModelFileError, match=r"'translate.format_version' is '2'; this translate reads version '1'"):
        load_model(model_file, registry)


def test_wrong_shapes_missing_and_extra_keys(model_file, registry):
    with safe_open(str(model_file), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    tensors["AtoB.down.weight"] = torch.zeros(5, 3, 4, 4)
    del tensors["AtoB.up.bias"]
    tensors["AtoB.extra.weight"] = torch.zeros(1)
    rewrite(model_file, tensors=tensors)
    msg = load_error(model_file, registry)
    assert "weights of generator 'AtoB' do not match" in msg
    assert "missing keys: up.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "down.weight: file (5, 3, 4, 4) vs network (4, 3, 4, 4)" in msg


def test_tensors_of_no_generator(model_file, registry):
    with safe_open(str(model_file), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    tensors["stowaway.weight"] = torch.zeros(1)
    rewrite(model_file, tensors=tensors)
    with pytest.raises(ModelFileError, match="tensors belonging to no generator: stowaway.weight"):
        load_model(model_file, registry)


def test_missing_plugin_names_the_distribution(model_file, registry):
    edit_generator_meta(model_file, component="fancy_unet",
                        plugin={"name": "fancy", "distribution": "translate-fancy-nets", "version": "1.2.0"})
    assert ("model needs generator 'fancy_unet' from distribution 'translate-fancy-nets' (version 1.2.0): "
            "pip install translate-fancy-nets") in load_error(model_file, registry)


def test_installed_distribution_lacking_the_component(model_file, registry):
    edit_generator_meta(model_file, component="fancy_unet",
                        plugin={"name": "fancy", "distribution": "pydantic", "version": "99.0"})
    with pytest.raises(ModelFileError, match=r"pydantic .* is installed but registers no generator 'fancy_unet'; "
                                             r"it may be too old.*pip install -U 'pydantic>=99.0'"):
        load_model(model_file, registry)


def test_unknown_component_from_in_process_plugin(model_file, registry):
    edit_generator_meta(model_file, component="gone")
    with pytest.raises(ModelFileError, match="model needs generator 'gone' from distribution '\\(in-process\\)'"):
        load_model(model_file, registry)


@pytest.mark.parametrize(
    "component",
    ["os.system", "os:system", "__import__('os').system('touch PWNED')", "../../evil", "tiny\nx"],
)
def test_component_that_looks_like_code_is_rejected(model_file, registry, component, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    edit_generator_meta(model_file, component=component)
    with pytest.raises(ModelFileError, match=r"invalid metadata:\n  translate.generators.AtoB.component"):
        load_model(model_file, registry)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "metadata field 'translate' is not valid JSON"),
        ("[1, 2]", "metadata field 'translate' is not a JSON object"),
        ("[" * 100_000, "metadata field 'translate' is not valid JSON"),
        ('{"translate_version": "0.1"}', r"translate.method: required key is missing"),
    ],
)
def test_garbage_metadata(model_file, registry, text, expected):
    rewrite(model_file, translate_json=text)
    with pytest.raises(ModelFileError, match=expected):
        load_model(model_file, registry)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"in_channels": "3"}, "translate.generators.AtoB.in_channels"),
        ({"test_mode": "sometimes"}, "translate.generators.AtoB.test_mode"),
        ({"size_multiple": 0}, "translate.generators.AtoB.size_multiple"),
        ({"surprise": 1}, "translate.generators.AtoB.surprise: unknown key"),
        ({"value_range": [1, -1]}, "must be increasing"),
    ],
)
def test_bad_field_types_are_named(model_file, registry, changes, field):
    edit_generator_meta(model_file, **changes)
    with pytest.raises(ModelFileError, match=field):
        load_model(model_file, registry)


def test_bad_default(model_file, registry):
    data = json.loads(raw_metadata(model_file)["translate"])
    data["default"] = "BtoA"
    rewrite(model_file, translate_json=data)
    with pytest.raises(ModelFileError, match="default 'BtoA' is not one of the generators"):
        load_model(model_file, registry)


def test_options_are_validated_by_the_plugin(model_file, registry):
    edit_generator_meta(model_file, options={"width": "__import__('os')", "colour": 1})
    msg = load_error(model_file, registry)
    assert "options do not validate" in msg
    assert "translate.generators.AtoB.options.width" in msg
    assert "translate.generators.AtoB.options.colour: unknown key" in msg
