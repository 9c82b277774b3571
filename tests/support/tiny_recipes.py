"""Tiny recipes (32x32 generated data, 8 steps) shared by the training, CycleGAN, export and
pipeline tests. ``{data}`` and ``{run}`` are filled by :func:`write_recipe`."""

from __future__ import annotations

from pathlib import Path

RUN_TAIL = """[train]
steps = 8
decay = 4

[output]
dir = "{run}"
log_every = 2
sample_every = 4
checkpoint_every = 3
keep_checkpoints = 5
num_samples = 2
tensorboard = false
progress = false
"""

PIX2PIX = """
seed = 3

[method]
name = "pix2pix"

[method.options]
test_mode = "eval"

[generator]
name = "unet"

[generator.options]
num_downs = 5
ngf = 8

[discriminator]
name = "patchgan"

[discriminator.options]
n_layers = 2
ndf = 8

[data]
name = "synthetic_shapes"
batch_size = 4

[data.options]
root = "{data}"
count = 24
val_count = 4
test_count = 3
image_size = 32

""" + RUN_TAIL

CYCLEGAN = """
seed = 5

[method]
name = "cyclegan"

[method.options]
pool_size = 4
name_a = "day"
name_b = "night"

[generator]
name = "resnet"

[generator.options]
ngf = 8
n_blocks = 2

[discriminator]
name = "patchgan"

[discriminator.options]
n_layers = 2
ndf = 8
norm = "instance"

[data]
name = "synthetic_unpaired"
batch_size = 2

[data.options]
root = "{data}"
count_a = 12
count_b = 9
test_count = 3
image_size = 32
# unpaired val/test splits too: the tests of unpaired evaluation (FID-style reals, refused PSNR) use this run;
# the aligned test split (the default) is tested in tests/plugins/translate_cyclegan/test_synthetic.py
ground_truth = false

""" + RUN_TAIL


def write_recipe(text: str, path: Path, *, data: Path, run: Path) -> Path:
    """Write one of the recipes above to ``path`` with its data root and run folder filled in."""
    path.write_text(text.format(data=data.as_posix(), run=run.as_posix()))
    return path
