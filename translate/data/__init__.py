"""Data: the data-set contract, images on disk, preprocessing, augmentation, generated sets, downloads.

- :mod:`~translate.data.contract`: ``(index, seed)`` keys, per-item seeds, :class:`DataInfo`;
- :mod:`~translate.data.options`: options bases for data sets (sizes, channels, augmentation);
- :mod:`~translate.data.source`: the data-source contract (:class:`DataSource`, ``register_archives``);
- :mod:`~translate.data.imageio`: reading and writing images (1/3/4 channels, 16-bit, EXIF), A|B pairs;
- :mod:`~translate.data.preprocess`: preprocess modes and the crop/load-size rule;
- :mod:`~translate.data.augment`: paired augmentation (albumentations);
- :mod:`~translate.data.device_augment`: batch augmentation on the training device (kornia);
- :mod:`~translate.data.generated`, :mod:`~translate.data.shapes`: the generated data sets;
- :mod:`~translate.data.download`: downloading and safely extracting public data sets.

May import :mod:`translate.plugin` (options) and :mod:`translate.utils`.
"""
