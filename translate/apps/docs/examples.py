"""The example recipes and tables shown on the recipe reference (``docs/recipes.md``).

``tests/test_docs.py`` checks that the good examples validate and the bad ones fail
as the page says.
"""

from __future__ import annotations

EXAMPLE_RECIPE = """\
# pix2pix on CMP Facades (labels -> photos), the paper's settings.
seed = 0

[method]
name = "pix2pix"

[method.options]
lambda_l1 = 100.0

[generator]
name = "unet_256"

[discriminator]
name = "patchgan"

[discriminator.options]
n_layers = 3

[losses.adversarial]
name = "vanilla"

[data]
name = "paired_ab"
batch_size = 1

[data.options]
root = "data/facades"
direction = "BtoA"

[train]
epochs = 200
decay = 100

[output]
dir = "runs/{recipe}"
"""

EXTENDS_EXAMPLE = """\
# recipes/ablations/facades_pixelgan.toml
extends = "../pix2pix_facades.toml"

[discriminator]
name = "pixelgan"   # a different component: the base's [discriminator.options] are dropped

[output]
dir = "runs/ablations/facades_pixelgan"
"""

BAD_SKELETON = """\
[method]
name = "pix2pix"

[data]
name = "synthetic_shapes"
batch_size = "4"

[train]
epoch = 10
"""

BAD_COMPONENTS = """\
[method]
name = "pix2pix"

[generator]
name = "unet256"

[discriminator]
name = "patchgan"

[discriminator.options]
norm = "group"
nfd = 32

[data]
name = "synthetic_shapes"
batch_size = 4

[train]
epochs = 10
"""

BROKEN_TOML = '[method\nname = "pix2pix"\n'

SET_EXAMPLES: list[tuple[str, str]] = [
    ("train.epochs=5", ""),
    ("method.options.lr=1e-4", ""),
    ("data.shuffle=false", ""),
    ("data.options.root=data/facades", "not a TOML value, so the text itself"),
    ("data.options.direction=BtoA", "not a TOML value, so the text itself"),
    ('output.dir="runs/2024"', "quoted: always a string"),
    ("generator.options.widths=[64, 128]", "for an option that takes a list"),
    ('losses.reconstruction={name = "l2"}', "replaces the whole table"),
    ("losses.reconstruction.name=smooth_l1", "creates `[losses.reconstruction]` if needed"),
]

KIND_TITLES: dict[str, tuple[str, str]] = {
    "generator": ("Generators", "`[generator]`"),
    "discriminator": ("Discriminators", "`[discriminator]`"),
    "loss": ("Losses", "`[losses.<role>]`"),
    "dataset": ("Data sets", "`[data]`"),
    "method": ("Methods", "`[method]`"),
    "data_source": ("Downloadable data sets", "`translate data download NAME`"),
}

# (part ablated, file under recipes/ablations, the paper's variant, what the file sets over pix2pix_facades.toml)
ABLATIONS: list[tuple[str, str, str, str]] = [
    ("objective", "facades_l1_only.toml", "L1 only",
     "`method.options.lambda_gan = 0.0`: no discriminator is built; G learns from L1 alone"),
    ("objective", "facades_cgan_only.toml", "cGAN only",
     "`method.options.lambda_l1 = 0.0`: the conditional GAN loss alone"),
    ("objective", "facades_l1_gan.toml", "L1 + GAN",
     "`method.options.conditional = false`: D sees only the (real or generated) photo, not the input"),
    ("generator", "facades_encoder_decoder.toml", "Encoder-decoder",
     "`generator.name = \"encoder_decoder_256\"`: the U-Net without its skip connections (L1 + cGAN)"),
    ("discriminator", "facades_pixelgan.toml", "1x1 PixelGAN",
     "`discriminator.name = \"pixelgan\"`: one logit per pixel (the base's PatchGAN options are dropped)"),
    ("discriminator", "facades_patchgan_16.toml", "16x16 PatchGAN",
     "`discriminator.options.n_layers = 1`"),
    ("discriminator", "facades_imagegan_286.toml", "286x286 ImageGAN",
     "`discriminator.options.n_layers = 5`: the receptive field covers the whole 256x256 image"),
]
