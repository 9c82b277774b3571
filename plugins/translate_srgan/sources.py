"""DIV2K (Agustsson and Timofte, NTIRE 2017): the high-resolution images, from the data set's public host.

``DIV2K_train_HR.zip`` holds ``DIV2K_train_HR/0001.png .. 0800.png`` and ``DIV2K_valid_HR.zip``
``DIV2K_valid_HR/0801.png .. 0900.png`` (2K-resolution PNGs). Each is a data source named like
its folder, extracted to ``<root>/DIV2K_train_HR`` and ``<root>/DIV2K_valid_HR``, which
``sr_folder`` reads through ``split_folders`` (``recipes/srgan_div2k.toml``). The low-resolution
inputs are made by ``sr_folder`` itself (bicubic), so the ``LR_bicubic`` archives are not needed.

Sizes and SHA-256 digests are not recorded here: no published record of them could be checked
offline, so, like the pix2pix and CycleGAN sources without one, they are None and the server's
Content-Length is still checked.
"""

from __future__ import annotations

from typing import Callable

from translate.api import DataSource

BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"

DIV2K_CITATION = (
    "DIV2K from Agustsson and Timofte: 'NTIRE 2017 Challenge on Single Image Super-Resolution: Dataset and "
    "Study', CVPRW 2017 (https://data.vision.ee.ethz.ch/cvl/DIV2K/); for academic research only."
)

DIV2K_SETS: dict[str, str] = {
    "DIV2K_train_HR": "DIV2K: 800 2K-resolution training images (PNG; about 3.5 GB)",
    "DIV2K_valid_HR": "DIV2K: 100 2K-resolution validation images (PNG; about 0.45 GB)",
}
"""Source name (the archive's stem and its top folder) -> description."""


def _source(name: str, description: str) -> Callable[[], DataSource]:
    def factory() -> DataSource:
        return DataSource(name=name, url=f"{BASE_URL}{name}.zip", archive="zip", strip=name,
                          description=description, citation=DIV2K_CITATION)

    factory.__name__ = f"{name}_source"
    factory.__doc__ = f"The {name} archive of DIV2K."
    return factory


def register_sources(register: Callable[..., None]) -> None:
    """Register the DIV2K archives with a ``register_data_sources`` register callback."""
    for name, description in DIV2K_SETS.items():
        register(name, _source(name, description), description=description, smoke_options={})
