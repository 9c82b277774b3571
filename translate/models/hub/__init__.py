"""The Hugging Face Hub: ``translate push DIR REPO_ID`` and ``hf://owner/name[@revision]`` downloads.

Everything goes through ``huggingface_hub`` (imported lazily, inside the functions: importing
this package does not import it), so its settings apply unchanged:

- the cache (``HF_HOME`` / ``HF_HUB_CACHE``, or ``cache_dir=``): a model is downloaded once per
  commit and shared with every other library using the Hub cache;
- offline mode (``HF_HUB_OFFLINE=1``): a model already in the cache loads without any network
  access; one that is not gives a clear error saying so;
- the endpoint (``HF_ENDPOINT``), the token (``HF_TOKEN`` or ``hf auth login``).

As in ``huggingface_hub``, these environment variables are read when ``huggingface_hub`` is
first imported.

A download fetches exactly the files of a model folder, by these fixed names:
``config.json`` and ``model.safetensors`` (required) and ``README.md`` (optional). Nothing else in
the repository is fetched, and nothing is executed or unpickled: the model file is read later,
by :func:`translate.models.load_model`, as a safetensors file. All files of one download come
from one commit.

Every problem raises :class:`~translate.errors.ModelFileError` naming the repository and the
revision: a malformed id, a repository, revision or file that does not exist, the network, or
offline mode with a cold cache.

The parts: :mod:`.ids` (``hf://`` ids), :mod:`.folder` (what a model folder holds),
:mod:`.download`, :mod:`.push` (with the ``translate push`` arguments), :mod:`.space` (a demo
Space for a pushed model, ``--space``), :mod:`.failures`
(reading ``huggingface_hub``'s errors).
"""

from __future__ import annotations

from .download import download
from .folder import MODEL_FOLDER_FILES, OPTIONAL_FILES, REQUIRED_FILES, check_model_folder
from .ids import HUB_PREFIX, check_repo_id, check_revision, hub_label, parse_hub_id
from .push import add_push_arguments, push, push_cli
from .space import SPACE_FILES, push_space, space_files

__all__ = [
    "HUB_PREFIX",
    "MODEL_FOLDER_FILES",
    "OPTIONAL_FILES",
    "REQUIRED_FILES",
    "add_push_arguments",
    "check_model_folder",
    "check_repo_id",
    "check_revision",
    "download",
    "hub_label",
    "parse_hub_id",
    "push",
    "push_cli",
    "push_space",
    "space_files",
    "SPACE_FILES",
]
