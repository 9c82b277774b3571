"""Model files that ask for absurd sizes, and named pipes in place of a model folder's files (issue 8)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from translate.components.build import BuildContext
from translate.components.method import ExportSpec
from translate.errors import ModelFileError
from translate.models import config_json, load_model, read_config, read_metadata, save_model
from translate.plugin.loading import get_registry
from translate.recipe import Recipe

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


@pytest.fixture(scope="module")
def registry():
    return get_registry()


def save_generator(folder: Path, registry, name: str, options: dict) -> Path:
    """A model folder (``model.safetensors`` + ``config.json``) with one real generator."""
    recipe = Recipe.model_validate({"method": {"name": "pix2pix"}, "generator": {"name": name, "options": options},
                                    "data": {"name": "facades"}, "train": {"epochs": 1}})
    ctx = BuildContext(recipe, registry, channels={})
    module = ctx.generator(in_channels=3, out_channels=3)
    folder.mkdir()
    path = save_model(folder / "model.safetensors", method="pix2pix",
                      exports=[(ExportSpec("AtoB", "G"), module, ctx.record_of(module))])
    (folder / "config.json").write_text(config_json(read_metadata(path)))
    return folder


def edit(folder: Path, **changes) -> None:
    """Change generator ``AtoB``'s metadata in both the model file and config.json (so they still agree)."""
    path = folder / "model.safetensors"
    with safe_open(str(path), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    data = json.loads(meta["translate"])
    data["generators"]["AtoB"].update(changes)
    if data.get("preprocessing") and "size_multiple" in changes:
        data["preprocessing"]["size_multiple"] = changes["size_multiple"]
    meta["translate"] = json.dumps(data)
    save_file(tensors, str(path), metadata=meta)
    config = json.loads((folder / "config.json").read_text())
    config["generators"]["AtoB"].update(changes)
    if config.get("preprocessing") and "size_multiple" in changes:
        config["preprocessing"]["size_multiple"] = changes["size_multiple"]
    (folder / "config.json").write_text(json.dumps(config))


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def load_error(folder: Path, registry) -> str:
    before = peak_rss_bytes()
    with pytest.raises(ModelFileError) as err:
        load_model(folder, registry)
    assert peak_rss_bytes() - before < 1 << 30, "loading allocated the absurd network"
    return str(err.value)


# --------------------------------------------------------------------------- absurd sizes


def test_resnet_with_a_billion_filters_fails_fast(tmp_path, registry):
    folder = save_generator(tmp_path / "m", registry, "resnet_6blocks", {"ngf": 2})
    edit(folder, options={**json.loads((folder / "config.json").read_text())["generators"]["AtoB"]["options"],
                          "ngf": 10**9})
    msg = load_error(folder, registry)
    assert "generator 'AtoB'" in msg and "'resnet_6blocks'" in msg and "1000000000" in msg
    assert "without allocating memory" in msg


def test_unet_whose_options_disagree_with_its_small_weights(tmp_path, registry):
    folder = save_generator(tmp_path / "m", registry, "unet_128", {"ngf": 2})
    options = json.loads((folder / "config.json").read_text())["generators"]["AtoB"]["options"]
    edit(folder, options={**options, "ngf": 1500})  # would need ~27 GiB if it were built
    msg = load_error(folder, registry)
    assert "weights of generator 'AtoB' do not match the rebuilt network" in msg
    assert "shape mismatches" in msg and "vs network (1500, 3, 4, 4)" in msg
    assert "options recorded for 'unet_128' do not fit the weights" in msg


def test_size_multiple_must_be_what_the_network_declares(tmp_path, registry):
    folder = save_generator(tmp_path / "m", registry, "unet_128", {"ngf": 2})  # declares 128
    edit(folder, size_multiple=1024)
    msg = load_error(folder, registry)
    assert "records size_multiple 1024, but the network rebuilt from its options ('unet_128') declares 128" in msg


def test_absurd_size_multiple_is_refused_by_the_schema(tmp_path, registry):
    folder = save_generator(tmp_path / "m", registry, "unet_128", {"ngf": 2})
    edit(folder, size_multiple=65536)
    msg = load_error(folder, registry)
    assert "translate.generators.AtoB.size_multiple" in msg and "4096" in msg


def test_a_fitting_model_still_loads(tmp_path, registry):
    folder = save_generator(tmp_path / "m", registry, "unet_128", {"ngf": 2})
    loaded = load_model(folder, registry)
    module, info = loaded.generator()
    assert info.meta.size_multiple == 128 == module.size_multiple
    assert next(module.parameters()).device.type == "cpu"


# --------------------------------------------------------------------------- named pipes


def finishes(fn, timeout: float = 10.0) -> BaseException | None:
    """Run ``fn`` in a thread; fail the test if it blocks; return what it raised."""
    box: list[BaseException | None] = [None]

    def target() -> None:
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            box[0] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "reading blocked on a named pipe"
    return box[0]


@pytest.fixture
def folder(tmp_path, registry) -> Path:
    return save_generator(tmp_path / "m", registry, "unet_128", {"ngf": 2})


def unblock(fifo: Path) -> None:
    """Open the FIFO's write end without blocking, so that a reader stuck on it (a failed test) returns."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@needs_fifo
@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_fifo_in_a_model_folder_is_refused(folder, registry, name):
    fifo = folder / name
    fifo.unlink()
    os.mkfifo(fifo)
    try:
        err = finishes(lambda: load_model(folder, registry))
    finally:
        unblock(fifo)
    assert isinstance(err, ModelFileError), err
    assert str(err) == f"{fifo}: is a named pipe (FIFO), not a regular file; refusing to read it"


@needs_fifo
def test_fifo_given_as_the_model_file_or_config(tmp_path, folder, registry):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    try:
        for call in (lambda: load_model(fifo, registry), lambda: read_metadata(fifo), lambda: read_config(fifo)):
            err = finishes(call)
            assert isinstance(err, ModelFileError) and "named pipe (FIFO)" in str(err), err
    finally:
        unblock(fifo)


@needs_fifo
def test_symlink_to_a_fifo_is_refused(tmp_path, folder, registry):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(fifo)
    try:
        err = finishes(lambda: load_model(folder, registry))
    finally:
        unblock(fifo)
    assert isinstance(err, ModelFileError) and "named pipe (FIFO)" in str(err), err


def test_a_folder_in_place_of_the_config_is_refused(folder, registry):
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()
    with pytest.raises(ModelFileError, match=r"config.json: is a folder, not a regular file"):
        load_model(folder, registry)
    shutil.rmtree(folder / "config.json")


@needs_fifo
def test_infer_and_load_refuse_a_fifo_model(tmp_path, folder, capsys):
    import translate
    from translate.commands.main import main

    fifo = folder / "model.safetensors"
    fifo.unlink()
    os.mkfifo(fifo)
    (tmp_path / "in").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "in" / "a.png")  # something to translate: the model is read next
    codes: list[int] = []
    try:
        assert finishes(lambda: codes.append(main(["infer", str(folder), str(tmp_path / "in"),
                                                   "--out", str(tmp_path / "out")]))) is None
        err = finishes(lambda: translate.load(folder))
    finally:
        unblock(fifo)
    assert codes == [2]
    expected = f"error: {fifo}: is a named pipe (FIFO), not a regular file; refusing to read it\n"
    assert capsys.readouterr().err == expected
    assert isinstance(err, ModelFileError) and "named pipe (FIFO)" in str(err)
    assert not (tmp_path / "out").exists()
