"""Serving a model over HTTP: ``translate serve MODEL`` (see ``docs/serving.md``).

One concept per module:

- :mod:`~translate.serve.limits`: request and image limits, batching settings, the request error;
- :mod:`~translate.serve.decode`: request bodies (raw or multipart) to images, safely; PNG answers;
- :mod:`~translate.serve.batching`: the queue and worker that batch concurrent requests;
- :mod:`~translate.serve.service`: the loaded model as a service (also what ``translate demo`` runs);
- :mod:`~translate.serve.http`: the standard-library HTTP server and its endpoints;
- :mod:`~translate.serve.cli`: the ``translate serve`` command.

Example::

    from translate.serve import ModelService, make_server

    server = make_server(ModelService("runs/shapes/export"), "127.0.0.1", 0)
    print(server.url)
    server.serve_forever()
"""

from __future__ import annotations

from .batching import Batcher, BatchStats
from .cli import add_serve_arguments, serve_cli
from .decode import decode_image, encode_png, read_upload
from .http import ENDPOINTS, TranslateServer, make_server
from .limits import Limits, RequestError
from .service import ModelService, model_label

__all__ = [
    "ENDPOINTS",
    "BatchStats",
    "Batcher",
    "Limits",
    "ModelService",
    "RequestError",
    "TranslateServer",
    "add_serve_arguments",
    "decode_image",
    "encode_png",
    "make_server",
    "model_label",
    "read_upload",
    "serve_cli",
]
