"""The public CycleGAN data sets, as published by the CycleGAN authors (Zhu et al., ICCV 2017).

Each archive ``<name>.zip`` holds one top folder ``<name>/`` with ``trainA/``, ``trainB/``,
``testA/`` and ``testB/`` image folders (served by the ``unpaired`` data set).
``maps``, ``cityscapes`` and ``facades`` are also on the CycleGAN server but are registered,
under those names, by the pix2pix data plugin, so they are not repeated here.

Sizes are the archives' byte counts as recorded by TensorFlow Datasets
(``tensorflow_datasets/url_checksums/cycle_gan.txt``, for the same files at the authors'
former address ``people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/``); the
horse2zebra count is also confirmed by a published ``wget`` log of this server. The
server's Content-Length is checked against them before anything is downloaded.
"""

from __future__ import annotations

from typing import Callable

from translate.download import DataSource

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
    "monet2photo": (
        None,
        "1074 Monet paintings <-> 6853 landscape photos (trainA/B, testA/B)",
        _ART,
    ),
    "cezanne2photo": (
        None,
        "584 Cezanne paintings <-> 6853 landscape photos (trainA/B, testA/B)",
        _ART,
    ),
    "ukiyoe2photo": (
        None,
        "1433 Ukiyo-e prints <-> 6853 landscape photos (trainA/B, testA/B)",
        _ART,
    ),
    "vangogh2photo": (
        None,
        "401 Van Gogh paintings <-> 6853 landscape photos (trainA/B, testA/B)",
        _ART,
    ),
    "iphone2dslr_flower": (
        None,
        "1813 iPhone <-> 3316 DSLR flower photos from Flickr (trainA/B, testA/B)",
        "Flickr (their owners' terms apply).",
    ),
}


def cyclegan_source(name: str) -> DataSource:
    """The DataSource of one CycleGAN data set (``horse2zebra``, ``monet2photo``, ...)."""
    size, description, origin = CYCLEGAN_SETS[name]
    return DataSource(
        name=name,
        url=f"{BASE_URL}{name}.zip",
        filename=f"{name}.zip",
        size=size,
        archive="zip",
        strip=name,
        description=description,
        citation=CYCLEGAN_CITATION.format(origin=origin),
    )


def _factory(name: str) -> Callable[[], DataSource]:
    def factory() -> DataSource:
        return cyclegan_source(name)

    factory.__name__ = f"{name}_source"
    factory.__doc__ = f"The CycleGAN {name!r} data set archive."
    return factory


def register_sources(register: Callable[..., None]) -> None:
    """Register every CycleGAN data set with a ``register_data_sources`` register callback."""
    for name, (_, description, _) in CYCLEGAN_SETS.items():
        register(name, _factory(name), description=description, smoke_options={})
