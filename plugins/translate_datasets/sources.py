"""The public pix2pix data sets, as published by the pix2pix authors (Isola et al., CVPR 2017).

Each archive ``<name>.tar.gz`` holds one top folder ``<name>/`` with ``train/``,
``val/`` (and for some ``test/``) subfolders of side-by-side ``A|B`` images.

Sizes are the archives' byte counts where a published record of the server's
answer could be found; otherwise None (the server's Content-Length is still checked).
"""

from __future__ import annotations

from typing import Callable

from translate.api import register_archives

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"

PIX2PIX_CITATION = (
    "pix2pix data sets from Isola, Zhu, Zhou, Efros: 'Image-to-Image Translation with Conditional "
    "Adversarial Networks', CVPR 2017 (https://phillipi.github.io/pix2pix/). Please also cite the "
    "original source of the images: {origin}"
)

# name: (size in bytes or None, description, original source of the images)
PIX2PIX_SETS: dict[str, tuple[int | None, str, str]] = {
    "facades": (
        30168306,
        "400 CMP Facades label maps <-> photos (train/val/test)",
        "the CMP Facade Database, Tylecek and Sara, GCPR 2013 (http://cmp.felk.cvut.cz/~tylecr1/facade/).",
    ),
    "cityscapes": (
        None,
        "2975 Cityscapes photos <-> semantic labels (train/val)",
        "the Cityscapes data set, Cordts et al., CVPR 2016; its own terms of use apply "
        "(https://www.cityscapes-dataset.com).",
    ),
    "maps": (
        250242400,
        "1096 aerial photos <-> Google Maps tiles (train/val)",
        "images scraped from Google Maps by the pix2pix authors; Google's terms apply.",
    ),
    "edges2shoes": (
        None,
        "50k UT Zappos50K shoe edges <-> photos (train/val); large download",
        "UT Zappos50K, Yu and Grauman, CVPR 2014 (http://vision.cs.utexas.edu/projects/finegrained/utzap50k/).",
    ),
    "edges2handbags": (
        None,
        "137k Amazon handbag edges <-> photos from iGAN (train/val); very large download",
        "the iGAN handbag images, Zhu et al., ECCV 2016 (https://github.com/junyanz/iGAN).",
    ),
    "night2day": (
        None,
        "20k night <-> day webcam pairs (train/val/test)",
        "the Transient Attributes data set, Laffont et al., SIGGRAPH 2014.",
    ),
}


def register_sources(register: Callable[..., None]) -> None:
    """Register every pix2pix data set with a ``register_data_sources`` register callback."""
    register_archives(register, PIX2PIX_SETS, base_url=BASE_URL, archive="tar.gz", citation=PIX2PIX_CITATION)
