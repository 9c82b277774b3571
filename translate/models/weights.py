"""Pretrained weights that translate does not train: found locally or in the Hub cache, never fetched by surprise.

Metrics and segmentation scores run fixed networks (Inception for FID/KID, AlexNet/VGG for LPIPS, an
FCN for the segmentation score). Their weights come from a file the user provides; nothing is
downloaded behind the user's back and nothing is initialised randomly instead.
:func:`resolve_weights` turns the user's setting into a local path:

- no setting (``None``): the file's usual name is looked up in the folders of
  ``$TRANSLATE_WEIGHTS_DIR`` (one or more, separated by ``os.pathsep``), then
  ``~/.cache/translate/weights/`` (``$XDG_CACHE_HOME/translate/weights/`` when that is set), then
  torch's hub cache ``torch.hub.get_dir()/checkpoints/`` (where torchvision and torch-fidelity keep
  what they download, so a machine that ran them once already has the files);
- a path: that file (or, for a folder, the file's usual name inside it);
- ``http://`` or ``https://`` (a URL the user wrote, so the user asked for it): downloaded once into
  ``~/.cache/translate/weights/`` under the URL's file name (resumed, size-checked and bounded
  against stalling servers as data downloads are: :mod:`translate.data.download.fetch`), then read
  from there;
- ``hf://owner/repo/path/in/repo[@revision]`` (or ``hf://owner/repo@revision/path``; without a path
  the usual name): :func:`huggingface_hub.hf_hub_download`, which answers from the Hugging Face cache
  and honours ``HF_HUB_OFFLINE=1``; when the Hub cannot be reached
  (:func:`~translate.models.reachability.hub_unreachable`) only the cache is read.

When the file is not there, :class:`WeightsMissing` says what the file is for, its name, where it
was looked for, where it comes from and which option to set. :func:`load_weights` reads a state
dict (safetensors, or ``torch.load(weights_only=True)``: never an arbitrary pickle) and
:func:`file_sha256` fingerprints the file for the protocol of a result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelFileError, TranslateError
from ..utils.cache import cache_folder
from ..utils.hashing import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    import torch

HUB_PREFIX = "hf://"
URL_PREFIXES = ("http://", "https://")
ENV_DIR = "TRANSLATE_WEIGHTS_DIR"
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"



class WeightsMissing(TranslateError):
    """A pretrained weights file is neither where the user pointed nor in any searched folder or cache."""


def search_folders() -> list[Path]:
    """The folders searched for a weights file when no path is given, in order."""
    folders = [Path(p).expanduser() for p in os.environ.get(ENV_DIR, "").split(os.pathsep) if p.strip()]
    folders.append(user_cache_folder())
    folders.append(_torch_hub_dir() / "checkpoints")
    return folders


def _torch_hub_dir() -> Path:
    try:
        import torch.hub

        return Path(torch.hub.get_dir())
    except ImportError:  # pragma: no cover - torch is a dependency; same rule as torch.hub.get_dir
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        base = os.environ.get("TORCH_HOME") or cache / "torch"
        return Path(base).expanduser() / "hub"


def resolve_weights(spec: str | os.PathLike[str] | None, *, filename: str, what: str, origin: str,
                    option: str) -> Path:
    """The local path of a pretrained weights file.

    Args:
        spec: the user's setting: None (search the usual folders for ``filename``), a file or
            folder path, an ``http(s)://`` URL (downloaded once into the user cache folder), or
            ``hf://owner/repo/path/in/repo[@revision]``.
        filename: the file's usual name (``weights-inception-2015-12-05-6726825d.pth``).
        what: what the file is for, for the error message ("the Inception network of FID").
        origin: where the file comes from (its download URL).
        option: the option that names the file (``eval.options.fid.weights``).

    Raises:
        WeightsMissing: the file is not found; the message names ``what``, the file, the places
            searched, ``origin`` and ``option``.
    """
    if spec is not None and not str(spec).strip():
        raise WeightsMissing(f"{what}: {option} is empty; give the path of {filename} or an hf:// id, or leave "
                             f"{option} unset to search the usual folders. {_how_to_get(filename, origin, option)}")
    if spec is not None and str(spec).startswith(HUB_PREFIX):
        return _from_hub(str(spec), filename=filename, what=what, origin=origin, option=option)
    if spec is not None and str(spec).startswith(URL_PREFIXES):
        return _from_url(str(spec), what=what, option=option)
    if spec is not None:
        path = Path(spec).expanduser()
        target = path / filename if path.is_dir() else path
        if target.is_file():
            return target.resolve()
        where = f"{path} is a folder without {filename}" if path.is_dir() else f"{path} does not exist"
        raise WeightsMissing(f"{what}: the weights file {option} = {str(spec)!r} is missing ({where}). "
                             f"{_how_to_get(filename, origin, option)}")
    folders = search_folders()
    for folder in folders:
        if (folder / filename).is_file():
            return (folder / filename).resolve()
    searched = ", ".join(str(f) for f in folders)
    raise WeightsMissing(f"{what}: the weights file {filename} is not in any of the folders searched ({searched}; "
                         f"set {ENV_DIR} to add folders). {_how_to_get(filename, origin, option)}")


def resolve_file(spec: str, *, what: str, option: str, origin: str) -> Path:
    """A published file the user names by a path, an ``http(s)://`` URL, an ``hf://`` id or a bare file name
    (looked up in :func:`search_folders`), as :func:`resolve_weights` resolves weights.

    Raises:
        WeightsMissing: the file is not there; the message says where it was looked for.
    """
    text = str(spec).strip()
    named = text.startswith((HUB_PREFIX, *URL_PREFIXES)) or "/" in text or os.sep in text or Path(text).exists()
    filename = Path(text.rpartition("@")[0] if text.startswith(HUB_PREFIX) and "@" in text else text).name
    return resolve_weights(text if named else None, filename=filename or text, what=what, origin=origin,
                           option=option)


STATISTICS_ORIGIN = ("`translate eval stats`, or clean-fid's published statistics "
                     "(https://www.cs.cmu.edu/~clean-fid/stats/)")


def statistics_file(spec: str, option: str) -> Path:
    """A reference statistics file (``.npz``) the user named, found as :func:`resolve_file` finds files."""
    return resolve_file(spec, what="reference statistics", option=option, origin=STATISTICS_ORIGIN)


def user_cache_folder() -> Path:
    """``~/.cache/translate/weights`` (``$XDG_CACHE_HOME/translate/weights`` when that is set)."""
    return cache_folder("weights")


def _from_url(url: str, *, what: str, option: str) -> Path:
    """The file at ``url``, downloaded into :func:`user_cache_folder` unless it is already there."""
    import posixpath
    import urllib.parse

    from ..data.download.fetch import fetch
    from ..data.source import DataSource
    from ..errors import DataError

    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    if not name or name in (".", "..") or "\\" in name:
        raise WeightsMissing(f"{what}: {option} = {url!r} names no file (the URL's path must end in a file name)")
    folder = user_cache_folder()
    target = folder / name
    if target.is_file():
        return target.resolve()
    try:
        downloaded = fetch(DataSource(name="weights", url=url, filename=name), folder, progress=False)
    except (DataError, ValueError) as err:
        raise WeightsMissing(f"{what}: {option} = {url!r} could not be downloaded: {err}") from None
    os.replace(downloaded, target)
    return target.resolve()


def _how_to_get(filename: str, origin: str, option: str) -> str:
    return (f"It comes from {origin}; download it once (translate never downloads it by itself) and put it in a "
            f"searched folder (${ENV_DIR}, ~/.cache/translate/weights/ or torch's hub cache, checkpoints/) as "
            f"{filename}, or set {option} to its path or to an hf://owner/repo/path id of a copy on the Hugging "
            "Face Hub (read from the Hub cache; HF_HUB_OFFLINE=1 is honoured)")


def split_hub_spec(spec: str, filename: str) -> tuple[str, str, str | None]:
    """``"hf://owner/repo/path@rev"`` -> ``("owner/repo", "path", "rev")``; no path: ``filename``."""
    body = spec[len(HUB_PREFIX):]
    parts = body.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1].partition("@")[0]:
        raise WeightsMissing(f"{spec!r}: not a Hub weights id; expected hf://owner/repo/path/in/repo[@revision]")
    repo, at, revision = parts[1].partition("@")
    rest = "/".join(parts[2:])
    if not at and "@" in rest:
        rest, _, revision = rest.rpartition("@")
        at = "@"
    if at and not revision:
        raise WeightsMissing(f"{spec!r}: empty revision after '@'; expected hf://owner/repo/path/in/repo[@revision]")
    return f"{parts[0]}/{repo}", rest or filename, revision or None


def _from_hub(spec: str, *, filename: str, what: str, origin: str, option: str) -> Path:
    repo_id, path_in_repo, revision = split_hub_spec(spec, filename)
    from huggingface_hub import constants, hf_hub_download

    from ..version import __version__
    from .reachability import hub_unreachable

    unreachable = hub_unreachable()  # then only the cache is read: no minute of retries
    try:
        return Path(hf_hub_download(repo_id, path_in_repo, revision=revision, library_name="translate",
                                    library_version=__version__, local_files_only=unreachable is not None))
    except Exception as err:  # noqa: BLE001 - every failure means the file is not available
        if unreachable is not None:
            failed = f"and {unreachable}"
        else:
            failed = f"and downloading it failed: {type(err).__name__}: {_first_line(err).rstrip('.')}"
        offline = " and offline mode is on (HF_HUB_OFFLINE=1)" if constants.is_offline_mode() else ""
        raise WeightsMissing(
            f"{what}: cannot get {path_in_repo} from repository {repo_id} at revision {revision or 'main'!r} "
            f"({option} = {spec!r}): it is not in the Hugging Face cache ({constants.HF_HUB_CACHE}){offline}, "
            f"{failed}. {_how_to_get(filename, origin, option)}"
        ) from None


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else ""


def load_weights(path: str | os.PathLike[str]) -> dict[str, "torch.Tensor"]:
    """A state dict read from ``path`` onto the CPU.

    ``.safetensors`` files are read with safetensors; ``.pth``, ``.pt``, ``.bin`` and ``.ckpt`` with
    ``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers. A
    checkpoint that nests the tensors under ``"state_dict"`` is accepted.

    Raises:
        ModelFileError: the file cannot be read, has another suffix, or holds something else than
            a mapping of names to tensors.
    """
    import torch

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == SAFETENSORS_SUFFIX:
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        elif suffix in TORCH_SUFFIXES:
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise ModelFileError(f"{path}: unknown weights file type {suffix or '(no suffix)'!r}; expected "
                                 f"{SAFETENSORS_SUFFIX} or one of {', '.join(TORCH_SUFFIXES)}")
    except ModelFileError:
        raise
    except Exception as err:  # noqa: BLE001 - corrupt, truncated, or a pickle of arbitrary objects
        raise ModelFileError(f"{path}: not a readable weights file ({type(err).__name__}: {_first_line(err)}); "
                             "expected a state dict saved with safetensors or torch.save") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise ModelFileError(f"{path}: holds a {type(state).__name__}, not a state dict (names -> tensors)")
    return state


__all__ = ["WeightsMissing", "file_sha256", "load_weights", "resolve_file", "resolve_weights", "search_folders",
           "split_hub_spec", "statistics_file", "user_cache_folder"]
