"""Reference statistics given to FID and KID: whether a file's arrays fit the metric (width, mode, count).

A file holds clean-fid's arrays (``mu`` and ``sigma`` for FID, ``feats`` for KID) and, when translate
wrote it, ``mode`` and ``count``. clean-fid's published files say their mode only in their name
(``horse2zebra_clean_custom_na.npz``): :func:`reference_mode` reads it from there when the array is absent.
"""

from __future__ import annotations

import numpy as np

from translate.api import TranslateError

from .modes import MODES, mode_in_name


def check_width(arrays: dict[str, np.ndarray], feature: int, where: str, option: str) -> None:
    """Refuse arrays of the wrong shape, or of another feature width than ``feature`` (set by ``option``)."""
    widths = {}
    if "mu" in arrays:
        if arrays["mu"].ndim != 1:
            raise TranslateError(f"{where}: mu has shape {arrays['mu'].shape}; expected one mean per feature")
        widths["mu"] = arrays["mu"].shape[0]
    if "sigma" in arrays:
        shape = arrays["sigma"].shape
        if len(shape) != 2 or shape[0] != shape[1]:
            raise TranslateError(f"{where}: sigma has shape {shape}; expected a square covariance matrix")
        widths["sigma"] = shape[0]
    if "feats" in arrays:
        if arrays["feats"].ndim != 2:
            raise TranslateError(f"{where}: feats has shape {arrays['feats'].shape}; expected (images, features)")
        widths["feats"] = arrays["feats"].shape[1]
    if len(set(widths.values())) > 1:
        raise TranslateError(f"{where}: the arrays disagree on the feature width ({widths})")
    if widths:
        width = next(iter(widths.values()))
        if width != feature:
            raise TranslateError(
                f"{where} hold {width}-wide features, but this metric computes {feature}-wide ones; set "
                f"feature = {width} ({option}) or use statistics made with feature = {feature}"
                + ("" if width in (64, 192, 768, 2048) else f" ({width} is no Inception layer: another network's "
                                                            "features?)"))


def reference_mode(arrays: dict[str, np.ndarray], source: str, mode: str, where: str, option: str) -> str | None:
    """The clean-fid mode the statistics were made in (the ``mode`` array, else the file name), None when
    neither says; a mode other than the metric's ``mode`` (set by ``option``) is refused."""
    if "mode" in arrays:
        value = arrays["mode"]
        if value.dtype.kind != "U" or value.shape != ():
            raise TranslateError(f"{where}: array mode has dtype {value.dtype} and shape {value.shape}; expected "
                                 f"one string ({', '.join(MODES)})")
        found, said = str(value[()]), "its array mode says"
        if found not in MODES:
            raise TranslateError(f"{where}: its array mode is {found!r}; expected one of {', '.join(MODES)}")
    else:
        found, said = mode_in_name(source), "its file name says"
    if found is not None and found != mode:
        raise TranslateError(
            f"{where} were made in clean-fid mode {found!r} ({said}), but this metric uses mode {mode!r}: the "
            f"numbers would not compare; set mode = \"{found}\" ({option}) or use statistics made in mode {mode!r}")
    return found


def reference_count(arrays: dict[str, np.ndarray], where: str) -> int | None:
    """How many real images the statistics summarise (``count``, else the rows of ``feats``), when known."""
    if "count" in arrays:
        if arrays["count"].size != 1 or arrays["count"].dtype.kind not in "iu":
            raise TranslateError(f"{where}: array count has dtype {arrays['count'].dtype} and shape "
                                 f"{arrays['count'].shape}; expected one integer (the number of images)")
        return int(arrays["count"].reshape(()))
    if "feats" in arrays:
        return int(arrays["feats"].shape[0])
    return None


__all__ = ["check_width", "reference_count", "reference_mode"]
