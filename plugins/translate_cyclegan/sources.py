"""The public CycleGAN data sets, as published by the CycleGAN authors (Zhu et al., ICCV 2017).

Each archive ``<name>.zip`` holds one top folder ``<name>/`` with ``trainA/``, ``trainB/``,
``testA/`` and ``testB/`` image folders (served by the ``unpaired`` data set).
``maps``, ``cityscapes`` and ``facades`` are also on the CycleGAN server but are registered,
under those names, by the pix2pix data plugin, so they are not repeated here.

A size is set only where a published download log from this server confirms it
(horse2zebra); for the others the server's Content-Length is still checked.
"""

from __future__ import annotations

from typing import Callable

from translate.api import register_archives

BASE_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/"

CYCLEGAN_CITATION = (
    "CycleGAN data sets from Zhu, Park, Isola, Efros: 'Unpaired Image-to-Image Translation using "
    "Cycle-Consistent Adversarial Networks', ICCV 2017 (https://junyanz.github.io/CycleGAN/). "
    "Please also respect the original source of the images: {origin}"
)

_ART = "paintings from WikiArt (https://www.wikiart.org); landscape photos from Flickr (their owners' terms apply)."

# name: (size in bytes or None, description, original source of the images).
# A size is given only where a download log from this server confirms it; otherwise the
# server's Content-Length is still checked.
CYCLEGAN_SETS: dict[str, tuple[int | None, str, str]] = {
    "apple2orange": (
        None,
        "996 apple <-> 1020 orange photos from ImageNet (trainA/B, testA/B)",
        "ImageNet (https://www.image-net.org), keywords 'apple' and 'navel orange'.",
    ),
    "summer2winter_yosemite": (
        None,
        "1273 summer <-> 854 winter Yosemite photos from Flickr (trainA/B, testA/B)",
        "Flickr (their owners' terms apply).",
    ),
    "horse2zebra": (
        116867962,
        "939 horse <-> 1177 zebra photos from ImageNet (trainA/B, testA/B)",
        "ImageNet (https://www.image-net.org), keywords 'wild horse' and 'zebra'.",
    ),
    "monet2photo": (None, "1074 Monet paintings <-> 6853 landscape photos (trainA/B, testA/B)", _ART),
    "cezanne2photo": (None, "584 Cezanne paintings <-> 6853 landscape photos (trainA/B, testA/B)", _ART),
    "ukiyoe2photo": (None, "1433 Ukiyo-e prints <-> 6853 landscape photos (trainA/B, testA/B)", _ART),
    "vangogh2photo": (None, "401 Van Gogh paintings <-> 6853 landscape photos (trainA/B, testA/B)", _ART),
    "iphone2dslr_flower": (
        None,
        "1813 iPhone <-> 3316 DSLR flower photos from Flickr (trainA/B, testA/B)",
        "Flickr (their owners' terms apply).",
    ),
}


def register_sources(register: Callable[..., None]) -> None:
    """Register every CycleGAN data set with a ``register_data_sources`` register callback."""
    register_archives(register, CYCLEGAN_SETS, base_url=BASE_URL, archive="zip", citation=CYCLEGAN_CITATION)
